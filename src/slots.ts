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

/**
 * A group that held a slot this recently still counts as busy: its clients are between two
 * requests, and another group must not run ahead in that gap.
 */
const RECENTLY_BUSY_MS = 100;
/** A group idle this long is forgotten: it rejoins level with the busy ones, as a new group would. */
const FORGET_AFTER_MS = 60_000;
/**
 * What a request weighs (its work units): one, plus one per 4 KiB it reads or writes (parsing,
 * BSON decoding, mapping and JSON encoding grow with the bytes), plus one per 50 ms it holds the
 * slot (a slow query's database time). A page of 100 users weighs about 26; a user's creation 1.5.
 */
const BYTES_PER_UNIT = 4096;
const MS_PER_UNIT = 50;

export function workUnits(bytes: number, heldMs: number): number {
  return 1 + bytes / BYTES_PER_UNIT + heldMs / MS_PER_UNIT;
}

/**
 * A pool of slots: at most maxInFlight holders, the rest waiting (each at most queueTimeoutMs) or
 * refused at once. Used by the overload guard (requests), the token endpoint's secret checks
 * (scrypt) and asynchronous /Bulk (background runs hold a request slot).
 *
 * Waiters are served in turns, not in arrival order: a freed slot goes to the next group (a
 * directory) that may take one, and within the group to its next member (a credential), so one
 * directory's burst, or one client's, queues behind itself and not in front of everyone else
 * (README "Directories", fair share). Each group may have maxQueued waiting; one more of that group
 * is refused, whatever the others do; all groups together at most 4 × maxQueued. A group holds at
 * most maxInFlightPerGroup slots at once.
 *
 * While several groups are busy, turns count work, not requests (start-time fair queueing): each
 * group's requests add their work units (workUnits) to its tally, and a group starts a request only
 * while its tally is not ahead of every other busy group's. One Node thread serves them all, so a
 * directory paging 100 users at a time gets as many units per second as a directory creating users
 * one by one, not 26 times as many, and its excess waits (or gets 429) instead of slowing the other.
 * Alone, a group uses the whole pool: a group idle for a tenth of a second holds no one back, and
 * nothing idle banks credit.
 */
export function createSlots(limits: () => SlotLimits) {
  let inFlight = 0;
  let queued = 0;
  // Slots held by each group; a group at its own limit waits even when the pool has room.
  const held = new Map<string, number>();
  // group → member → waiters; Map order is the turn order (a served key moves to the end).
  const groups = new Map<string, Map<string, ((charged: number) => void)[]>>();
  const queuedIn = (group: string) => [...(groups.get(group)?.values() ?? [])].reduce((n, q) => n + q.length, 0);
  // Each group's work so far (units, charged at start with its typical request's weight and
  // corrected at the end), its typical request's weight lately, and when it last held a slot.
  const tally = new Map<string, number>();
  const typical = new Map<string, number>();
  const lastActive = new Map<string, number>();
  let lastForget = performance.now();
  let recheck: NodeJS.Timeout | undefined;
  const busy = (group: string, now: number) =>
    held.has(group) || groups.has(group) || now - (lastActive.get(group) ?? -Infinity) < RECENTLY_BUSY_MS;
  const perGroup = () => limits().maxInFlightPerGroup ?? limits().maxInFlight;

  /** The least work among the other busy groups; undefined when no other group is busy. */
  function leastOfOthers(group: string): number | undefined {
    const now = performance.now();
    let least: number | undefined;
    for (const [other, work] of tally) {
      if (other !== group && busy(other, now) && (least === undefined || work < least)) least = work;
    }
    return least;
  }

  function mayTake(group: string): boolean {
    if (inFlight >= limits().maxInFlight || (held.get(group) ?? 0) >= perGroup()) return false;
    const least = leastOfOthers(group);
    return least === undefined || (tally.get(group) ?? least) <= least;
  }

  /** Takes a slot for `group`, charging its typical weight now (corrected on release): the units charged. */
  function take(group: string): number {
    if (!busy(group, performance.now()) || !tally.has(group)) {
      // Rejoining after a pause: level with the busy groups (no credit banked while idle).
      tally.set(group, Math.max(tally.get(group) ?? 0, leastOfOthers(group) ?? 0));
    }
    const charged = typical.get(group) ?? 1;
    tally.set(group, tally.get(group)! + charged);
    inFlight++;
    held.set(group, (held.get(group) ?? 0) + 1);
    return charged;
  }

  /** The next waiter in turn whose group may take a slot, taken out of the queues. */
  function nextWaiter(): { group: string; wake: (charged: number) => void } | undefined {
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

  /**
   * Hands free slots to waiters that may take them. A waiter held back only by another group's
   * recent work is looked at again shortly, so it goes once that group is idle.
   */
  function dispatch() {
    for (let next = nextWaiter(); next; next = nextWaiter()) next.wake(take(next.group));
    if (queued > 0 && inFlight < limits().maxInFlight && !recheck) {
      recheck = setTimeout(() => {
        recheck = undefined;
        dispatch();
      }, RECENTLY_BUSY_MS / 2);
      recheck.unref();
    }
  }

  function release(group: string, charged: number, units: number) {
    inFlight--;
    const left = (held.get(group) ?? 1) - 1;
    if (left) held.set(group, left);
    else held.delete(group);
    const now = performance.now();
    tally.set(group, (tally.get(group) ?? 0) + units - charged);
    typical.set(group, typical.has(group) ? typical.get(group)! * 0.8 + units * 0.2 : units);
    lastActive.set(group, now);
    if (now - lastForget > FORGET_AFTER_MS) {
      lastForget = now;
      for (const [other, at] of lastActive) {
        if (now - at < FORGET_AFTER_MS || held.has(other) || groups.has(other)) continue;
        lastActive.delete(other);
        tally.delete(other);
        typical.delete(other);
      }
    }
    dispatch();
  }

  function forget(group: string, member: string, wake: (charged: number) => void) {
    const waiters = groups.get(group)?.get(member);
    const at = waiters?.indexOf(wake) ?? -1;
    if (!waiters || at < 0) return;
    waiters.splice(at, 1);
    queued--;
    if (!waiters.length) groups.get(group)!.delete(member);
    if (!groups.get(group)!.size) groups.delete(group);
  }

  /** Waits for a slot (or throws SlotsBusy): the units charged on taking it. */
  async function acquire([group, member]: FairShare): Promise<number> {
    const { maxQueued, queueTimeoutMs } = limits();
    if (mayTake(group) && queuedIn(group) === 0) return take(group);
    if (queuedIn(group) >= maxQueued || queued >= maxQueued * 4) throw new SlotsBusy();
    const charged = await new Promise<number>((resolve, reject) => {
      const wake = (units: number) => {
        clearTimeout(timer);
        resolve(units);
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
      dispatch();
    });
    return charged;
  }

  return {
    /**
     * Runs `work` holding a slot; throws SlotsBusy when none can be had within the limits.
     * `bytesOf` tells how many bytes the work read and wrote, for its weight (workUnits).
     */
    async run<T>(work: () => Promise<T>, share: FairShare = UNKEYED, bytesOf?: (result: T) => number): Promise<T> {
      const charged = await acquire(share);
      const started = performance.now();
      let bytes = 0;
      try {
        const result = await work();
        bytes = bytesOf?.(result) ?? 0;
        return result;
      } finally {
        release(share[0], charged, workUnits(bytes, performance.now() - started));
      }
    },
    /** Takes a free slot without waiting: its release function, or undefined when none is free. */
    tryTake(group = UNKEYED[0]): (() => void) | undefined {
      if (!mayTake(group) || queued > 0) return undefined;
      const charged = take(group);
      const started = performance.now();
      let released = false;
      return () => {
        if (released) return;
        released = true;
        release(group, charged, workUnits(0, performance.now() - started));
      };
    },
  };
}

export type Slots = ReturnType<typeof createSlots>;
