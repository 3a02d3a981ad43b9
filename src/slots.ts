/** Limits of a slot pool: how many run at once, how many may wait, and how long. */
export interface SlotLimits {
  /** Holders at the same time. */
  maxInFlight: number;
  /** Callers waiting for a slot; one more is refused at once. */
  maxQueued: number;
  /** How long a caller may wait for a slot before it is refused. */
  queueTimeoutMs: number;
  /** Slots one group (a directory) may hold at once; default maxInFlight (no limit of its own). */
  maxInFlightPerGroup?: number;
}

/** No slot could be had within the limits: the caller answers 429 (or its protocol's "busy"). */
export class SlotsBusy extends Error {
  override name = 'SlotsBusy';
}

/** Who waits for a slot: the first key shares the pool with other first keys, the second within it. */
export type FairShare = readonly [group: string, member: string];

const UNKEYED: FairShare = ['', ''];

/** A group that held a slot this recently still counts as busy (its clients are between requests). */
const RECENTLY_BUSY_MS = 1000;

/**
 * A pool of slots: at most maxInFlight holders, the rest waiting (each at most queueTimeoutMs) or
 * refused at once. Used by the overload guard (requests), the token endpoint's secret checks
 * (scrypt) and asynchronous /Bulk (background runs hold a request slot).
 *
 * Waiters are served in turns, not in arrival order: a freed slot goes to the next group (a
 * directory) that has one waiting, and within the group to its next member (a credential), so one
 * directory's burst, or one client's, queues behind itself and not in front of everyone else
 * (README "Directories", fair share). Each group may have maxQueued waiting; one more of that group
 * is refused, whatever the others do; all groups together at most 4 × maxQueued. A group holds at
 * most maxInFlightPerGroup slots at once, and fewer while others are busy if its requests are
 * heavier (capOf), so one directory cannot fill the pool (and the CPU) with its own requests while
 * another's wait or run.
 */
export function createSlots(limits: () => SlotLimits) {
  let inFlight = 0;
  let queued = 0;
  // Slots held by each group; a group at its own limit waits even when the pool has room.
  const held = new Map<string, number>();
  // group → member → waiters; Map order is the turn order (a served key moves to the end).
  const groups = new Map<string, Map<string, (() => void)[]>>();
  const queuedIn = (group: string) => [...(groups.get(group)?.values() ?? [])].reduce((n, q) => n + q.length, 0);
  // How long each group's requests hold a slot, lately (an average that follows the last ones),
  // and when each last held one: a group between two requests still counts as busy.
  const cost = new Map<string, number>();
  const lastActive = new Map<string, number>();
  const busy = (group: string, now: number) =>
    held.has(group) || groups.has(group) || now - (lastActive.get(group) ?? -Infinity) < RECENTLY_BUSY_MS;
  const perGroup = () => limits().maxInFlightPerGroup ?? limits().maxInFlight;

  /**
   * The slots a group may hold: maxInFlightPerGroup, and while other groups are busy too, fewer in
   * proportion to how much longer its requests hold a slot than the lightest busy group's. Turns
   * count requests; this makes a share count time, so a directory of heavy requests (pages of 100
   * users) does not crowd out another's small ones on the one thread they share.
   */
  function capOf(group: string): number {
    const cap = perGroup();
    const own = cost.get(group);
    if (own === undefined) return cap;
    let lightest = own;
    let others = false;
    const now = performance.now();
    for (const other of cost.keys()) {
      if (other === group || !busy(other, now)) continue;
      others = true;
      lightest = Math.min(lightest, cost.get(other)!);
    }
    return others ? Math.max(1, Math.floor((cap * lightest) / own)) : cap;
  }
  const mayTake = (group: string) => inFlight < limits().maxInFlight && (held.get(group) ?? 0) < capOf(group);

  function noteCost(group: string, ms: number) {
    const before = cost.get(group);
    cost.set(group, before === undefined ? ms : before * 0.8 + ms * 0.2);
    lastActive.set(group, performance.now());
  }

  function take(group: string) {
    inFlight++;
    held.set(group, (held.get(group) ?? 0) + 1);
  }

  /** The next waiter in turn whose group may take a slot, taken out of the queues. */
  function nextWaiter(): { group: string; wake: () => void } | undefined {
    for (const [group, members] of groups) {
      if (!mayTake(group)) continue;
      for (const [member, waiters] of members) {
        const wake = waiters.shift();
        members.delete(member);
        if (waiters.length) members.set(member, waiters);
        groups.delete(group);
        if (members.size) groups.set(group, members);
        if (wake) {
          queued--;
          return { group, wake };
        }
      }
    }
    return undefined;
  }

  // A released slot goes to the next waiter in turn that may take it, or is freed.
  const release = (group: string) => {
    inFlight--;
    const left = (held.get(group) ?? 1) - 1;
    if (left) held.set(group, left);
    else held.delete(group);
    for (let next = nextWaiter(); next; next = nextWaiter()) {
      take(next.group);
      next.wake();
    }
  };

  function forget(group: string, member: string, wake: () => void) {
    const waiters = groups.get(group)?.get(member);
    const at = waiters?.indexOf(wake) ?? -1;
    if (!waiters || at < 0) return;
    waiters.splice(at, 1);
    queued--;
    if (!waiters.length) groups.get(group)!.delete(member);
    if (!groups.get(group)!.size) groups.delete(group);
  }

  async function acquire([group, member]: FairShare): Promise<void> {
    const { maxQueued, queueTimeoutMs } = limits();
    if (mayTake(group) && queuedIn(group) === 0) {
      take(group);
      return;
    }
    if (queuedIn(group) >= maxQueued || queued >= maxQueued * 4) throw new SlotsBusy();
    await new Promise<void>((resolve, reject) => {
      const wake = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        forget(group, member, wake);
        reject(new SlotsBusy());
      }, queueTimeoutMs);
      if (!groups.has(group)) groups.set(group, new Map());
      const members = groups.get(group)!;
      if (!members.has(member)) members.set(member, []);
      members.get(member)!.push(wake);
      queued++;
    });
  }

  return {
    /** Runs `work` holding a slot; throws SlotsBusy when none can be had within the limits. */
    async run<T>(work: () => Promise<T>, share: FairShare = UNKEYED): Promise<T> {
      await acquire(share);
      const started = performance.now();
      try {
        return await work();
      } finally {
        noteCost(share[0], performance.now() - started);
        release(share[0]);
      }
    },
    /** Takes a free slot without waiting: its release function, or undefined when none is free. */
    tryTake(group = UNKEYED[0]): (() => void) | undefined {
      if (!mayTake(group) || queued > 0) return undefined;
      take(group);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        release(group);
      };
    },
  };
}

export type Slots = ReturnType<typeof createSlots>;
