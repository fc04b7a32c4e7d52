import { hash, randomBytes } from 'node:crypto';

/**
 * The API key format (DESIGN.md, "Security defaults"):
 *
 *     gk_<env>_<random>_<checksum>        e.g. gk_live_4fZ0…(32 chars)…_1a2B3c
 *
 * - `gk_`: a fixed prefix, so a secret scanner (and a human) knows what it found;
 * - `<env>`: `live` or `test`, so a test key pasted into production is recognisable;
 * - `<random>`: 32 characters of base62 drawn from crypto.randomBytes by rejection sampling,
 *   5.95 bits each: 190 bits of randomness (≥ 160 asked);
 * - `<checksum>`: CRC-32 of everything before the last `_`, as 6 base62 digits. A typo or a
 *   truncated key fails this check before any store lookup (a CRC is not a MAC: it catches
 *   accidents, the hash lookup catches forgeries).
 *
 * Every key is exactly 47 characters of `[0-9A-Za-z_]`: URL-safe, and selectable with a
 * double-click. The key id is the first 8 bytes of the key's SHA-256, in hex: derivable from the
 * key, safe to show and log, never enough to rebuild the key.
 */
export type KeyEnv = 'live' | 'test';

/**
 * For secret scanners (gitleaks, trufflehog, GitHub custom patterns): a leaked key matches this.
 * Without the `g` flag on purpose, so `.test()` holds no state between calls; add flags to a copy
 * (`new RegExp(API_KEY_SCANNER_REGEX.source, 'g')`) to find every key in a text.
 */
export const API_KEY_SCANNER_REGEX = /\bgk_(?:live|test)_[0-9A-Za-z]{32}_[0-9A-Za-z]{6}\b/;

/**
 * Whether `text` (a query string, a log line) holds something shaped like a key, checksum or
 * not: a key in a URL is exposed whether or not it is valid, and is refused, never accepted.
 */
export function containsApiKeyShape(text: string): boolean {
  return text.includes('gk_') && LOOSE_KEY_SHAPE.test(text);
}

const LOOSE_KEY_SHAPE = /gk_(?:live|test)_[0-9A-Za-z]{32}_[0-9A-Za-z]{6}/;

export const API_KEY_LENGTH = 47;
const RANDOM_CHARS = 32;
const CHECKSUM_CHARS = 6;
/** Length of `gk_<env>_<random>`, the part the checksum covers. */
const CHECKED_LENGTH = API_KEY_LENGTH - CHECKSUM_CHARS - 1;
const LIVE_PREFIX = 'gk_live_';
const TEST_PREFIX = 'gk_test_';
const PREFIX_LENGTH = LIVE_PREFIX.length;
const UNDERSCORE = 0x5f;
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** Largest multiple of 62 that fits a byte: bytes at or above it are dropped, so no digit is favoured. */
const UNBIASED_LIMIT = 248;
const DIGEST_ID_BYTES = 8;

/** Why a presented string is not a well-formed key; null when its shape and checksum are right. */
export type KeyShapeProblem = 'malformed' | 'checksum';

/** A new random key. The caller shows it once and stores only `hashApiKey(key)`. */
export function generateApiKey(env: KeyEnv): string {
  const body = `gk_${env}_${randomBase62(RANDOM_CHARS)}`;
  return `${body}_${checksumOf(body)}`;
}

/**
 * Checks the shape and the checksum in one pass over the characters, with no regex, no slicing
 * and no allocation: this runs on every request that presents a key.
 */
export function checkKeyShape(presented: string): KeyShapeProblem | null {
  if (presented.length !== API_KEY_LENGTH) return 'malformed';
  if (!presented.startsWith(LIVE_PREFIX) && !presented.startsWith(TEST_PREFIX)) return 'malformed';
  if (presented.charCodeAt(CHECKED_LENGTH) !== UNDERSCORE) return 'malformed';
  let crc = CRC_INIT;
  for (let i = 0; i < CHECKED_LENGTH; i += 1) {
    const code = presented.charCodeAt(i);
    if (i >= PREFIX_LENGTH && digitOf(code) < 0) return 'malformed';
    crc = CRC_TABLE[(crc ^ code) & 0xff]! ^ (crc >>> 8);
  }
  let checksum = 0;
  for (let i = CHECKED_LENGTH + 1; i < API_KEY_LENGTH; i += 1) {
    const digit = digitOf(presented.charCodeAt(i));
    if (digit < 0) return 'malformed';
    checksum = checksum * 62 + digit;
  }
  return checksum === (crc ^ CRC_INIT) >>> 0 ? null : 'checksum';
}

/** The environment tag of a key whose shape has been checked. */
export function envOf(key: string): KeyEnv {
  return key.startsWith('gk_live_') ? 'live' : 'test';
}

/**
 * SHA-256 of the whole key: the only form ever stored. A fast hash is right for a key with
 * 190 bits of randomness (nothing to brute-force); a password hash would only slow every request.
 */
export function hashApiKey(key: string): Buffer {
  return hash('sha256', key, 'buffer');
}

/** The public id of a key, from its digest (see the module comment). */
export function keyIdOf(digest: Buffer): string {
  return digest.toString('hex', 0, DIGEST_ID_BYTES);
}

export const KEY_ID_PATTERN = /^[0-9a-f]{16}$/;

/** The checksum digits: CRC-32 as 6 base62 digits, most significant first (62^6 > 2^32). */
function checksumOf(body: string): string {
  let value = crc32(body);
  let digits = '';
  for (let i = 0; i < CHECKSUM_CHARS; i += 1) {
    digits = BASE62[value % 62]! + digits;
    value = Math.floor(value / 62);
  }
  return digits;
}

/** CRC-32 (ISO-HDLC, the zlib and PNG one: reflected polynomial 0xEDB88320) of ASCII text. */
function crc32(text: string): number {
  let crc = CRC_INIT;
  for (let i = 0; i < text.length; i += 1) crc = CRC_TABLE[(crc ^ text.charCodeAt(i)) & 0xff]! ^ (crc >>> 8);
  return (crc ^ CRC_INIT) >>> 0;
}

const CRC_INIT = 0xffffffff;
const CRC_TABLE = buildCrcTable();

function buildCrcTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n += 1) {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

/** Base62 value of a character code, -1 for anything else (a lookup, not a regex, on the hot path). */
function digitOf(code: number): number {
  return code < 128 ? DIGITS[code]! : -1;
}

const DIGITS = buildDigitTable();

function buildDigitTable(): Int8Array {
  const digits = new Int8Array(128).fill(-1);
  for (let i = 0; i < BASE62.length; i += 1) digits[BASE62.charCodeAt(i)] = i;
  return digits;
}

function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte >= UNBIASED_LIMIT) continue;
      out += BASE62[byte % 62]!;
      if (out.length === length) break;
    }
  }
  return out;
}
