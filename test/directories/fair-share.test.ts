import { afterAll, describe, expect, it } from 'vitest';
import { createSlots, SlotsBusy } from '../../src/slots.js';
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
    while (releases.length) {
      releases.shift()!();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await Promise.all([...a, b]);
    expect(most).toBe(3);
  });
});

describe("a share counts time: a directory of heavy requests gets fewer slots while another's are busy", () => {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  it('heavy A runs one at a time while light B is busy, and up to its cap when B is idle', async () => {
    const slots = createSlots(() => ({
      maxInFlight: 32,
      maxQueued: 100,
      queueTimeoutMs: 10_000,
      maxInFlightPerGroup: 8,
    }));
    // Teach the pool what each costs: A's requests hold a slot 250 ms, B's 5 ms (far apart, so a loaded machine's slower timers keep A at one slot).
    await Promise.all([slots.run(() => sleep(250), ['a', 'x']), slots.run(() => sleep(5), ['b', 'y'])]);
    let runningA = 0;
    let mostA = 0;
    const heavy = () =>
      slots.run(async () => {
        runningA++;
        mostA = Math.max(mostA, runningA);
        await sleep(250);
        runningA--;
      }, ['a', 'x']);
    // B busy: a light request in flight all along.
    let bBusy = true;
    const light = (async () => {
      while (bBusy) await slots.run(() => sleep(5), ['b', 'y']);
    })();
    await sleep(2);
    await Promise.all(Array.from({ length: 6 }, heavy));
    bBusy = false;
    await light;
    expect(mostA).toBe(1);
    // B idle (for over a second: a directory between two requests still counts as busy): A may hold its whole cap again.
    await sleep(1100);
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
