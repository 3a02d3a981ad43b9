import { afterAll, describe, expect, it } from 'vitest';
import { createSlots, SlotsBusy, workUnits } from '../../src/slots.js';
import { createTestDirectory } from '../helpers/directories.js';
import { startTestRoster, type TestRoster } from '../helpers/roster.js';

/** Fair share (README "Directories"): waiting requests are served in turns by directory, then by credential. */
describe('the slot pool serves waiters in turns', () => {
  const pool = (maxQueued: number) => createSlots(() => ({ maxInFlight: 1, maxQueued, queueTimeoutMs: 5000 }));
  const hold = () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    return { held, release };
  };

  it('a directory that queues first does not go first for everything: the next slot goes to the next directory', async () => {
    const slots = pool(10);
    const order: string[] = [];
    const first = hold();
    const running = slots.run(() => first.held, ['a', 'x']);
    const waiting = [
      ...['a1', 'a2', 'a3'].map((n) => slots.run(async () => void order.push(n), ['a', 'x'])),
      slots.run(async () => void order.push('b1'), ['b', 'y']),
    ];
    first.release();
    await Promise.all([running, ...waiting]);
    expect(order).toEqual(['a1', 'b1', 'a2', 'a3']);
  });

  it('within a directory, credentials take turns too', async () => {
    const slots = pool(10);
    const order: string[] = [];
    const first = hold();
    const running = slots.run(() => first.held, ['a', 'greedy']);
    const waiting = [
      ...['g1', 'g2', 'g3'].map((n) => slots.run(async () => void order.push(n), ['a', 'greedy'])),
      slots.run(async () => void order.push('polite'), ['a', 'polite']),
    ];
    first.release();
    await Promise.all([running, ...waiting]);
    expect(order).toEqual(['g1', 'polite', 'g2', 'g3']);
  });

  it("a full queue refuses only its own directory's requests", async () => {
    const slots = pool(2);
    const first = hold();
    const running = slots.run(() => first.held, ['a', 'x']);
    const queuedA = [slots.run(async () => 'a', ['a', 'x']), slots.run(async () => 'a', ['a', 'x'])];
    await expect(slots.run(async () => 'a', ['a', 'x'])).rejects.toBeInstanceOf(SlotsBusy);
    const queuedB = slots.run(async () => 'b', ['b', 'y']);
    first.release();
    expect(await Promise.all([...queuedA, queuedB, running])).toEqual(['a', 'a', 'b', undefined]);
  });
});

describe('a directory holds at most maxInFlightPerGroup slots', () => {
  it("one directory's requests beyond its share wait while the pool has room; another directory's run at once", async () => {
    const slots = createSlots(() => ({ maxInFlight: 4, maxQueued: 10, queueTimeoutMs: 5000, maxInFlightPerGroup: 2 }));
    let running = 0;
    let most = 0;
    const releases: (() => void)[] = [];
    const work = () =>
      new Promise<void>((resolve) => {
        running++;
        most = Math.max(most, running);
        releases.push(() => {
          running--;
          resolve();
        });
      });
    const a = Array.from({ length: 4 }, () => slots.run(work, ['a', 'x']));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(running).toBe(2); // a's other two wait though two slots are free
    const b = slots.run(work, ['b', 'y']);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(running).toBe(3); // b did not wait
    // Release whatever runs until all have run: a's waiters start as slots free (and once b is idle).
    let done = false;
    const all = Promise.all([...a, b]).then(() => (done = true));
    while (!done) {
      releases.shift()?.();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await all;
    expect(most).toBe(3);
  });
});

describe('turns count work: while another directory is busy, a directory of heavy requests gets as much work done as it, not more', () => {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const KIB = 1024;
  it('heavy A (pages of about 40 KiB) runs one at a time, each after light B has done as much work; alone, A uses its whole cap', async () => {
    const slots = createSlots(() => ({
      maxInFlight: 32,
      maxQueued: 100,
      queueTimeoutMs: 30_000,
      maxInFlightPerGroup: 8,
    }));
    let runningA = 0;
    let mostA = 0;
    let unitsB = 0;
    const unitsBWhenAStarted: number[] = [];
    const heavy = () =>
      slots.run(
        async () => {
          runningA++;
          mostA = Math.max(mostA, runningA);
          unitsBWhenAStarted.push(unitsB);
          await sleep(5);
          runningA--;
        },
        ['a', 'x'],
        () => 40 * KIB,
      );
    // The pool learns what A's requests weigh from the first one.
    await heavy();
    await sleep(150);
    unitsBWhenAStarted.length = 0;
    // B busy all along: light requests (0.5 KiB) one after another.
    let bBusy = true;
    const light = (async () => {
      while (bBusy) {
        const started = performance.now();
        await slots.run(
          () => sleep(2),
          ['b', 'y'],
          () => KIB / 2,
        );
        unitsB += workUnits(KIB / 2, performance.now() - started);
      }
    })();
    await sleep(2);
    await Promise.all(Array.from({ length: 6 }, heavy));
    bBusy = false;
    await light;
    expect(mostA).toBe(1);
    // Each of A's requests weighs 11 units (1 + 40 KiB / 4 KiB) or more: before each of A's next
    // requests starts, B has done about that much more work (less one light request in flight).
    const gaps = unitsBWhenAStarted.slice(2).map((units, i) => units - unitsBWhenAStarted[i + 1]);
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(9);
    // B idle (a tenth of a second without a request): A may hold its whole cap again.
    await sleep(150);
    mostA = 0;
    await Promise.all(Array.from({ length: 6 }, heavy));
    expect(mostA).toBe(6);
  });
});

describe('over HTTP: one directory floods, another is served', () => {
  let t: TestRoster;
  afterAll(() => t?.close());

  it('directory A gets the 429s; directory B, waiting at the same time, gets every answer', async () => {
    t = await startTestRoster({
      server: { publicUrl: 'http://roster.test', overload: { maxInFlight: 1, maxQueued: 4, queueTimeoutMs: 30_000 } },
    });
    const a = await createTestDirectory(t, 'flood');
    const b = await createTestDirectory(t, 'quiet');
    const [fromA, fromB] = await Promise.all([
      Promise.all(Array.from({ length: 64 }, () => a.scim().get('/Users?count=5'))),
      Promise.all(Array.from({ length: 3 }, () => b.scim().get('/Users?count=5'))),
    ]);
    const statusesA = fromA.map((r) => r.status);
    expect(statusesA.filter((s) => s !== 200 && s !== 429)).toEqual([]);
    expect(statusesA.filter((s) => s === 429).length).toBeGreaterThan(0);
    expect(fromB.map((r) => r.status)).toEqual([200, 200, 200]);
  });
});
