/**
 * Normalized key (a userName, an email) -> line number, for every line of a file of up to a
 * million lines: an open-addressing table in typed arrays holding a 64-bit digest of each key (12
 * bytes a slot, 1.3-2 slots a key: 17 MB for a million keys) where a Map of the strings takes
 * 100-200 bytes a key. Two different keys with the same digest would make the later line fail as a
 * duplicate; for two million keys the odds are about 1 in 10^7.
 */
import { createHash } from 'node:crypto';

const INITIAL_CAPACITY = 1 << 14;
/** Linear probing stays short up to three quarters full; growing by half keeps the spare slots few. */
const MAX_LOAD = 0.75;
const GROWTH = 1.5;

export function createLineTable() {
  let capacity = INITIAL_CAPACITY;
  let high = new Uint32Array(capacity);
  let low = new Uint32Array(capacity);
  let lines = new Int32Array(capacity);
  let size = 0;

  const digest = (key: string): [number, number] => {
    const d = createHash('sha256').update(key).digest();
    const h = d.readUInt32LE(0);
    const l = d.readUInt32LE(4);
    // (0, 0) marks an empty slot.
    return h === 0 && l === 0 ? [0, 1] : [h, l];
  };

  /** The slot holding this digest, or the empty slot where it would go. */
  function slotOf(h: number, l: number): number {
    for (let i = ((h ^ Math.imul(l, 0x9e3779b1)) >>> 0) % capacity; ; i = i + 1 === capacity ? 0 : i + 1) {
      if ((high[i] === h && low[i] === l) || (high[i] === 0 && low[i] === 0)) return i;
    }
  }

  function grow() {
    const [oldHigh, oldLow, oldLines] = [high, low, lines];
    capacity = Math.ceil(capacity * GROWTH);
    high = new Uint32Array(capacity);
    low = new Uint32Array(capacity);
    lines = new Int32Array(capacity);
    for (let j = 0; j < oldHigh.length; j++) {
      if (oldHigh[j] === 0 && oldLow[j] === 0) continue;
      const i = slotOf(oldHigh[j], oldLow[j]);
      [high[i], low[i], lines[i]] = [oldHigh[j], oldLow[j], oldLines[j]];
    }
  }

  return {
    get(key: string): number | undefined {
      const i = slotOf(...digest(key));
      return high[i] === 0 && low[i] === 0 ? undefined : lines[i];
    },

    set(key: string, line: number): void {
      const [h, l] = digest(key);
      let i = slotOf(h, l);
      if (high[i] === 0 && low[i] === 0) {
        if (++size > capacity * MAX_LOAD) {
          grow();
          i = slotOf(h, l);
        }
        high[i] = h;
        low[i] = l;
      }
      lines[i] = line;
    },
  };
}
