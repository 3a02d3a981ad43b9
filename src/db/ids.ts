import { randomFillSync } from 'node:crypto';

/**
 * Random bytes drawn 8 KiB at a time, as Node's randomUUID does: a call to the random source for
 * every id is a cost a bulk import notices.
 */
const pool = Buffer.alloc(8192);
let poolOffset = pool.length;

let lastMs = 0;
let sequence = 0;

/**
 * A UUID version 7 (RFC 9562): a millisecond timestamp, then a 12-bit sequence, then random bits.
 * Ids made by one process sort in creation order even within one millisecond, so the list order
 * (creation time, then id) is the order resources were created, also for batched creates.
 */
export function newId(now = Date.now()): string {
  if (now <= lastMs) {
    sequence += 1;
    if (sequence > 0xfff) {
      lastMs += 1; // borrow the next millisecond rather than repeat a value
      sequence = 0;
    }
  } else {
    lastMs = now;
    sequence = 0;
  }
  if (poolOffset + 8 > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const bytes = Buffer.alloc(16);
  pool.copy(bytes, 8, poolOffset, poolOffset + 8);
  poolOffset += 8;
  bytes.writeUIntBE(lastMs, 0, 6);
  bytes[6] = 0x70 | (sequence >> 8);
  bytes[7] = sequence & 0xff;
  bytes[8] = 0x80 | (bytes[8] & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
