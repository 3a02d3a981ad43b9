/** Limits of a slot pool: how many run at once, how many may wait, and how long. */
export interface SlotLimits {
  /** Holders at the same time. */
  maxInFlight: number;
  /** Callers waiting for a slot; one more is refused at once. */
  maxQueued: number;
  /** How long a caller may wait for a slot before it is refused. */
  queueTimeoutMs: number;
}

/** No slot could be had within the limits: the caller answers 429 (or its protocol's "busy"). */
export class SlotsBusy extends Error {
  override name = 'SlotsBusy';
}

/**
 * A pool of slots: at most maxInFlight holders, up to maxQueued waiting in order (each at most
 * queueTimeoutMs), the rest refused at once. Used by the overload guard (requests), the token
 * endpoint's secret checks (scrypt) and asynchronous /Bulk (background runs hold a request slot).
 */
export function createSlots(limits: () => SlotLimits) {
  let inFlight = 0;
  const waiting: (() => void)[] = [];
  // A released slot goes to the first waiter, or is freed.
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else inFlight--;
  };

  async function acquire(): Promise<void> {
    const { maxInFlight, maxQueued, queueTimeoutMs } = limits();
    if (inFlight < maxInFlight) {
      inFlight++;
      return;
    }
    if (waiting.length >= maxQueued) throw new SlotsBusy();
    await new Promise<void>((resolve, reject) => {
      const wake = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        waiting.splice(waiting.indexOf(wake), 1);
        reject(new SlotsBusy());
      }, queueTimeoutMs);
      waiting.push(wake);
    });
  }

  return {
    /** Runs `work` holding a slot; throws SlotsBusy when none can be had within the limits. */
    async run<T>(work: () => Promise<T>): Promise<T> {
      await acquire();
      try {
        return await work();
      } finally {
        release();
      }
    },
    /** Takes a free slot without waiting: its release function, or undefined when none is free. */
    tryTake(): (() => void) | undefined {
      if (inFlight >= limits().maxInFlight || waiting.length > 0) return undefined;
      inFlight++;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        release();
      };
    },
  };
}

export type Slots = ReturnType<typeof createSlots>;
