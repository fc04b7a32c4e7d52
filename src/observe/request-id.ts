import { randomFillSync } from 'node:crypto';

/** Random bytes drawn from the CSPRNG at a time: 256 ids' worth. */
const POOL_BYTES = 4096;
const HEX = Buffer.from('0123456789abcdef', 'latin1');

const pool = Buffer.allocUnsafe(POOL_BYTES);
let offset = POOL_BYTES;
const text = Buffer.from('00000000-0000-4000-8000-000000000000', 'latin1');
/** Byte positions in `text` of the 32 hex digits, in order. */
const DIGITS = [...text.keys()].filter((i) => text[i] !== 0x2d);

/**
 * A random (version 4, RFC 9562 §5.4) UUID for each request, as crypto.randomUUID makes, but
 * written byte by byte into one buffer and read out as a single flat string: randomUUID joins
 * twenty short strings per id, and the gateway makes one per request.
 */
export function requestId(): string {
  if (offset === POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const bytes = pool;
  const at = offset;
  offset += 16;
  for (let i = 0; i < 16; i += 1) {
    let byte = bytes[at + i]!;
    if (i === 6)
      byte = (byte & 0x0f) | 0x40; // version 4
    else if (i === 8) byte = (byte & 0x3f) | 0x80; // variant 10xx
    text[DIGITS[2 * i]!] = HEX[byte >> 4]!;
    text[DIGITS[2 * i + 1]!] = HEX[byte & 0x0f]!;
  }
  return text.toString('latin1', 0, 36);
}
