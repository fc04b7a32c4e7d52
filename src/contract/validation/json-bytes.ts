/*
 * RFC 8259 on the bytes of an upstream's response, for the response filter
 * (response-filter-bytes.ts): the grammar it checks everything against, and the whole check of
 * the values it does not filter. Each scanning function takes the position of a token's first
 * byte and returns the position after the token, or -1.
 *
 * The loops expect the next token right where the last one ended, as in most answers, and look
 * past whitespace only when it is not there.
 */

/**
 * Objects and arrays nested deeper than this make a response invalid: the one place where these
 * scanners and `JSON.parse` (which has no such limit) disagree. It bounds the native stack their
 * recursive descent takes.
 */
export const MAX_RESPONSE_DEPTH = 512;

/** The same bytes by name, for the text scanner of request bodies (safe-json.ts). */
export const enum Ch {
  Tab = 0x09,
  Lf = 0x0a,
  Cr = 0x0d,
  Space = 0x20,
  Quote = 0x22,
  Plus = 0x2b,
  Comma = 0x2c,
  Minus = 0x2d,
  Dot = 0x2e,
  Zero = 0x30,
  One = 0x31,
  Nine = 0x39,
  Colon = 0x3a,
  UpperE = 0x45,
  OpenBracket = 0x5b,
  Backslash = 0x5c,
  CloseBracket = 0x5d,
  LowerE = 0x65,
  LowerF = 0x66,
  LowerN = 0x6e,
  LowerT = 0x74,
  LowerU = 0x75,
  OpenBrace = 0x7b,
  CloseBrace = 0x7d,
}

/*
 * The scanners compare bytes with hex literals, the character in a comment beside each. V8 folds
 * a module's own constants into its compiled code, but not those of another module's function
 * inlined into it, and reads an enum (an object under isolatedModules) on every use: the filter
 * of a 2 KB answer took 9-25% longer either way (measured).
 */

/** Bytes that end or break a run of string content (§7): `"`, `\` and raw control characters. */
const STRING_STOPS = new Uint8Array(256).map((_, c) =>
  c < 0x20 /* space */ || c === 0x22 /* " */ || c === 0x5c /* \ */ ? 1 : 0,
);
/** 1: `\"` `\\` `\/` `\b` `\f` `\n` `\r` `\t`; 2: `\u`, four hex digits follow. The WebAssembly scanner reads a copy. */
export const ESCAPES = new Uint8Array(256).map((_, c) =>
  '"\\/bfnrt'.includes(String.fromCharCode(c)) ? 1 : 0,
);
ESCAPES[0x75 /* u */] = 2;
export const HEX_DIGITS = new Uint8Array(256).map((_, c) =>
  /[0-9A-Fa-f]/.test(String.fromCharCode(c)) ? 1 : 0,
);

/**
 * Whether the response's last token can close its first: an object or array must end with a
 * bracket. Checked before the scan, it also keeps the reads the member loops make right after a
 * comma or a key (unchecked, they are the hottest) inside the response: reading past the end of a
 * typed array slows every later read at that place in the code.
 */
export function closesAtEnd(raw: Buffer, start: number): boolean {
  if (start === raw.length) return false;
  const first = raw[start];
  if (first !== 0x7b /* { */ && first !== 0x5b /* [ */) return true;
  let last = raw.length - 1;
  while (raw[last] !== 0x7d /* } */ && raw[last] !== 0x5d /* ] */) {
    if (!isSpace(raw[last]!)) return false;
    last -= 1;
  }
  return true;
}

/** Any value (§3), from its first byte or the whitespace before it. */
export function skipValue(buf: Buffer, i: number, depth: number): number {
  const c = byteAt(buf, i);
  if (c === 0x22 /* " */) return skipString(buf, i);
  if (c === 0x2d /* - */ || (c >= 0x30 /* 0 */ && c <= 0x39) /* 9 */) return skipNumber(buf, i);
  if (c === 0x7b /* { */) return skipObject(buf, i, depth + 1);
  if (c === 0x5b /* [ */) return skipArray(buf, i, depth + 1);
  if (c === 0x74 /* t */) return skipLiteral(buf, i, TRUE);
  if (c === 0x66 /* f */) return skipLiteral(buf, i, FALSE);
  if (c === 0x6e /* n */) return skipLiteral(buf, i, NULL);
  if (isSpace(c)) return skipValue(buf, skipSpace(buf, i), depth);
  return -1;
}

/** §4; `depth` counts this object. */
function skipObject(buf: Buffer, i: number, depth: number): number {
  if (depth > MAX_RESPONSE_DEPTH) return -1;
  i = skipSpaceAt(buf, i + 1);
  if (byteAt(buf, i) === 0x7d /* } */) return i + 1;
  for (;;) {
    if (buf[i] !== 0x22 /* " */) {
      i = skipSpace(buf, i);
      if (byteAt(buf, i) !== 0x22 /* " */) return -1;
    }
    i = skipString(buf, i);
    if (i === -1) return -1;
    if (buf[i] !== 0x3a /* : */) {
      i = skipSpace(buf, i);
      if (byteAt(buf, i) !== 0x3a /* : */) return -1;
    }
    i = skipValue(buf, i + 1, depth);
    if (i === -1) return -1;
    i = separatorAt(buf, i, 0x7d /* } */);
    if (i === -1) return -1;
    if (buf[i] === 0x7d /* } */) return i + 1;
    i += 1;
  }
}

/** §5; `depth` counts this array. */
function skipArray(buf: Buffer, i: number, depth: number): number {
  if (depth > MAX_RESPONSE_DEPTH) return -1;
  i = skipSpaceAt(buf, i + 1);
  if (byteAt(buf, i) === 0x5d /* ] */) return i + 1;
  for (;;) {
    i = skipValue(buf, i, depth);
    if (i === -1) return -1;
    i = separatorAt(buf, i, 0x5d /* ] */);
    if (i === -1) return -1;
    if (buf[i] === 0x5d /* ] */) return i + 1;
    i += 1;
  }
}

/** A string from its opening quote (§7): no raw control characters, only the listed escapes. */
export function skipString(buf: Buffer, i: number): number {
  const n = buf.length;
  i += 1;
  for (;;) {
    if (i + 4 <= n) i = skipPlainWords(buf, i, n);
    while (i < n && STRING_STOPS[buf[i]!] === 0) i += 1;
    if (i >= n) return -1;
    const c = buf[i]!;
    if (c === 0x22 /* " */) return i + 1;
    if (c !== 0x5c /* \ */) return -1;
    i = skipEscape(buf, i);
    if (i === -1) return -1;
  }
}

/** The response the current DataView reads, and that view: one per answer, dropped by forgetView. */
let viewed: Buffer | null = null;
let view: DataView | null = null;

/** Lets go of the response the last scan read (it may be megabytes). */
export function forgetView(): void {
  viewed = null;
  view = null;
}

/**
 * String content four bytes at a time (a 32-bit word, in either byte order): past every word in
 * which no byte is a quote, a backslash or below 0x20, up to where such a word starts or fewer
 * than four bytes remain. Each test is the exact "some byte is zero" test on the word XORed
 * with the byte (or "some byte is below 0x20", valid for bounds up to 0x80).
 */
function skipPlainWords(buf: Buffer, i: number, n: number): number {
  if (buf !== viewed) {
    viewed = buf;
    view = new DataView(buf.buffer, buf.byteOffset, buf.length);
  }
  const words = view!;
  while (i + 4 <= n) {
    const w = words.getInt32(i, true);
    const quote = w ^ 0x22222222;
    const backslash = w ^ 0x5c5c5c5c;
    const found =
      ((quote - 0x01010101) & ~quote) | ((backslash - 0x01010101) & ~backslash) | ((w - 0x20202020) & ~w);
    if ((found & 0x80808080) !== 0) return i;
    i += 4;
  }
  return i;
}

/** An escape from its backslash; a lone surrogate (`\ud800`) is accepted, as JSON.parse does. */
function skipEscape(buf: Buffer, i: number): number {
  const kind = i + 1 < buf.length ? ESCAPES[buf[i + 1]!]! : 0;
  if (kind === 1) return i + 2;
  if (kind === 0 || i + 5 >= buf.length) return -1;
  for (let j = i + 2; j < i + 6; j += 1) if (HEX_DIGITS[buf[j]!] === 0) return -1;
  return i + 6;
}

/** §6: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`; what follows is the caller's to check. */
function skipNumber(buf: Buffer, i: number): number {
  const n = buf.length;
  if (buf[i] === 0x2d /* - */) i += 1;
  const first = byteAt(buf, i);
  if (first === 0x30 /* 0 */) i += 1;
  else if (first >= 0x31 /* 1 */ && first <= 0x39 /* 9 */) i = skipDigits(buf, i + 1);
  else return -1;
  if (i < n && buf[i] === 0x2e /* . */) {
    if (!isDigit(buf, i + 1)) return -1;
    i = skipDigits(buf, i + 2);
  }
  if (i < n && (buf[i]! | 0x20) === 0x65 /* e */) {
    i += 1;
    if (i < n && (buf[i] === 0x2b /* + */ || buf[i] === 0x2d) /* - */) i += 1;
    if (!isDigit(buf, i)) return -1;
    i = skipDigits(buf, i + 1);
  }
  return i;
}

function skipDigits(buf: Buffer, i: number): number {
  while (isDigit(buf, i)) i += 1;
  return i;
}

function isDigit(buf: Buffer, i: number): boolean {
  const c = byteAt(buf, i);
  return c >= 0x30 /* 0 */ && c <= 0x39; /* 9 */
}

const TRUE = Buffer.from('true');
const FALSE = Buffer.from('false');
const NULL = Buffer.from('null');

function skipLiteral(buf: Buffer, i: number, literal: Buffer): number {
  if (i + literal.length > buf.length) return -1;
  for (let j = 1; j < literal.length; j += 1) if (buf[i + j] !== literal[j]) return -1;
  return i + literal.length;
}

/** The byte at `i`, or 0 past the end (see closesAtEnd). */
export function byteAt(buf: Buffer, i: number): number {
  return i < buf.length ? buf[i]! : 0;
}

/** Where the next token starts: small enough to inline everywhere; the loop runs only on whitespace. */
export function skipSpaceAt(buf: Buffer, i: number): number {
  return i < buf.length && buf[i]! <= 0x20 /* space */ ? skipSpace(buf, i) : i;
}

/**
 * After an element or member: the index of the ',' or `close` that follows it (past any
 * whitespace), or -1 when something else does.
 */
export function separatorAt(buf: Buffer, i: number, close: number): number {
  let c = byteAt(buf, i);
  if (c !== 0x2c /* , */ && c !== close) {
    i = skipSpace(buf, i);
    c = byteAt(buf, i);
  }
  return c === 0x2c /* , */ || c === close ? i : -1;
}

export function skipSpace(buf: Buffer, i: number): number {
  const n = buf.length;
  while (i < n && isSpace(buf[i]!)) i += 1;
  return i;
}

/** §2: insignificant whitespace is space, tab, line feed and carriage return only. */
function isSpace(c: number): boolean {
  return (
    c === 0x20 /* space */ ||
    c === 0x0a /*
     */ ||
    c === 0x0d /*
     */ ||
    c === 0x09
  ); /* 	 */
}
