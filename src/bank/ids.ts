import { randomFillSync } from 'node:crypto';

const pool = Buffer.alloc(16 * 256);
let offset = pool.length;
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * A UUID version 7 (RFC 9562 §5.7): 48 bits of Unix milliseconds, then 74 random bits. Ids made
 * later sort later, so the ledger's and transfers' B-trees grow at one end instead of splitting
 * pages all over (fewer pages written per commit, in SQLite and PostgreSQL alike). The random
 * part is still far beyond guessing; the time part says only when the row was made.
 */
export function newId(now = Date.now()): string {
  if (offset === pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const b = pool.subarray(offset, offset + 16);
  offset += 16;
  b.writeUIntBE(now, 0, 6);
  b[6] = (b[6]! & 0x0f) | 0x70; // version 7
  b[8] = (b[8]! & 0x3f) | 0x80; // variant 10 (RFC 9562 §4.1)
  let hex = '';
  for (let i = 0; i < 16; i++) {
    hex += HEX[b[i]!];
    if (i === 3 || i === 5 || i === 7 || i === 9) hex += '-';
  }
  return hex;
}
