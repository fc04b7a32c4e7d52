import { isUtf8 } from 'node:buffer';
import { Ch } from './json-bytes.js';
import { CLEAN_ASCII, requestBodyVerdict, TO_SCRIPT } from './json-wasm.js';

/** Bounds on one JSON document; see `parseBoundedJson`. */
export interface JsonBounds {
  /** Deepest nesting of objects and arrays (a bare value is depth 0). */
  readonly maxDepth: number;
  /** Object members in the whole document, all objects counted together. */
  readonly maxKeys: number;
  /**
   * Keys that are refused anywhere except where the schema declares them. `__proto__` is never
   * allowed (see FORBIDDEN_KEY); `constructor` and `prototype` only when listed here.
   */
  readonly allowedSpecialKeys?: ReadonlySet<string>;
}

/** Why a document was refused, in words fit for the client (never the offending text itself). */
export class JsonRefusal extends Error {
  readonly rule: string;
  constructor(rule: string) {
    // An expected outcome on untrusted input, thrown per bad request: no stack trace to build.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(rule);
    Error.stackTraceLimit = limit;
    this.name = 'JsonRefusal';
    this.rule = rule;
  }
}

/** Never a key: assigning it on a plain object replaces the object's prototype. */
const FORBIDDEN_KEY = '__proto__';
/** Keys that reach `Object.prototype` through a merge (`obj.constructor.prototype`). */
const GUARDED_KEYS: ReadonlySet<string> = new Set(['constructor', 'prototype']);
const NO_SPECIAL_KEYS: ReadonlySet<string> = new Set();

/** Objects holding more keys than this are checked for duplicates with a Set, not a scan. */
const LINEAR_KEY_CHECK_MAX = 16;
/** IEEE 754 doubles keep 17 significant digits; a longer literal is rounded on parsing. */
const MAX_SIGNIFICANT_DIGITS = 17;

/**
 * Parses untrusted JSON (RFC 8259) with bounds, refusing what `JSON.parse` would accept silently
 * and another parser could read differently (a parser differential between the gateway, which
 * validates, and the upstream, which acts): duplicate keys (§4: "names SHOULD be unique", and
 * parsers disagree on which one wins), invalid UTF-8 (§8.1), unpaired surrogate escapes (§8.2),
 * numbers a double cannot hold (§6), and `__proto__` (prototype pollution in any code that merges
 * the value into another object). One scan checks all of that without building anything; only a
 * document that passes is handed to the native `JSON.parse`.
 *
 * The scan is first made in WebAssembly (`requestBodyVerdict`), which passes the common body and
 * leaves anything it does not pass (a refusal, or an escape or number it does not judge) to the
 * script scanner here, which decides and says why. A body it finds all ASCII is UTF-8 already,
 * and its Latin-1 reading is its UTF-8 one.
 */
export function parseBoundedJson(body: Buffer, bounds: JsonBounds): unknown {
  const verdict = requestBodyVerdict(body, bounds.maxDepth, bounds.maxKeys);
  if (verdict === CLEAN_ASCII) return JSON.parse(body.toString('latin1'));
  if (!isUtf8(body)) throw new JsonRefusal('must be UTF-8 encoded');
  const text = body.toString('utf8');
  if (verdict === TO_SCRIPT) new JsonScanner(text, bounds).scanDocument();
  return JSON.parse(text);
}

/** `parseBoundedJson` with the script scanner only: the reference the WebAssembly one is tested against. */
export function parseBoundedJsonInScript(body: Buffer, bounds: JsonBounds): unknown {
  if (!isUtf8(body)) throw new JsonRefusal('must be UTF-8 encoded');
  const text = body.toString('utf8');
  new JsonScanner(text, bounds).scanDocument();
  return JSON.parse(text);
}

const SYNTAX = 'must be valid JSON';

/**
 * A validating scanner: recursive descent bounded by `maxDepth`, so the native stack is never at
 * risk. Keys of the objects open at each depth are kept in reusable arrays for duplicate checks.
 */
class JsonScanner {
  readonly #text: string;
  readonly #maxDepth: number;
  readonly #maxKeys: number;
  readonly #allowed: ReadonlySet<string>;
  #pos = 0;
  #keys = 0;

  constructor(text: string, bounds: JsonBounds) {
    this.#text = text;
    this.#maxDepth = bounds.maxDepth;
    this.#maxKeys = bounds.maxKeys;
    this.#allowed = bounds.allowedSpecialKeys ?? NO_SPECIAL_KEYS;
  }

  scanDocument(): void {
    this.#skipSpace();
    this.#scanValue(0);
    this.#skipSpace();
    if (this.#pos !== this.#text.length) throw new JsonRefusal(SYNTAX);
  }

  #scanValue(depth: number): void {
    const c = this.#text.charCodeAt(this.#pos);
    if (c === Ch.OpenBrace) this.#scanObject(depth + 1);
    else if (c === Ch.OpenBracket) this.#scanArray(depth + 1);
    else if (c === Ch.Quote) this.#scanString();
    else if (c === Ch.Minus || (c >= Ch.Zero && c <= Ch.Nine)) this.#scanNumber();
    else this.#scanLiteral();
  }

  #scanObject(depth: number): void {
    if (depth > this.#maxDepth) throw new JsonRefusal(`must not nest deeper than ${this.#maxDepth} levels`);
    this.#pos += 1;
    this.#skipSpace();
    if (this.#text.charCodeAt(this.#pos) === Ch.CloseBrace) {
      this.#pos += 1;
      return;
    }
    const seen: string[] = [];
    let seenSet: Set<string> | null = null;
    for (;;) {
      if (this.#text.charCodeAt(this.#pos) !== Ch.Quote) throw new JsonRefusal(SYNTAX);
      const key = this.#scanKey();
      if (++this.#keys > this.#maxKeys) throw new JsonRefusal(`must have at most ${this.#maxKeys} keys`);
      if (seenSet !== null) {
        if (seenSet.has(key)) throw duplicateKey(key);
        seenSet.add(key);
      } else {
        if (seen.includes(key)) throw duplicateKey(key);
        seen.push(key);
        if (seen.length > LINEAR_KEY_CHECK_MAX) seenSet = new Set(seen);
      }
      this.#skipSpace();
      if (this.#text.charCodeAt(this.#pos) !== Ch.Colon) throw new JsonRefusal(SYNTAX);
      this.#pos += 1;
      this.#skipSpace();
      this.#scanValue(depth);
      this.#skipSpace();
      const next = this.#text.charCodeAt(this.#pos);
      this.#pos += 1;
      if (next === Ch.CloseBrace) return;
      if (next !== Ch.Comma) throw new JsonRefusal(SYNTAX);
      this.#skipSpace();
    }
  }

  #scanArray(depth: number): void {
    if (depth > this.#maxDepth) throw new JsonRefusal(`must not nest deeper than ${this.#maxDepth} levels`);
    this.#pos += 1;
    this.#skipSpace();
    if (this.#text.charCodeAt(this.#pos) === Ch.CloseBracket) {
      this.#pos += 1;
      return;
    }
    for (;;) {
      this.#scanValue(depth);
      this.#skipSpace();
      const next = this.#text.charCodeAt(this.#pos);
      this.#pos += 1;
      if (next === Ch.CloseBracket) return;
      if (next !== Ch.Comma) throw new JsonRefusal(SYNTAX);
      this.#skipSpace();
    }
  }

  /** A key, decoded only when it holds escapes (so `"\u005f_proto__"` is caught too). */
  #scanKey(): string {
    const start = this.#pos + 1;
    const escaped = this.#scanString();
    const raw = this.#text.slice(start, this.#pos - 1);
    const key = escaped ? (JSON.parse(this.#text.slice(start - 1, this.#pos)) as string) : raw;
    if (key === FORBIDDEN_KEY || (GUARDED_KEYS.has(key) && !this.#allowed.has(key))) {
      throw new JsonRefusal(`must not use the key "${key}"`);
    }
    return key;
  }

  /** Scans a string from its opening quote past its closing one; returns whether it had escapes. */
  #scanString(): boolean {
    const text = this.#text;
    let pos = this.#pos + 1;
    let escaped = false;
    for (;;) {
      const c = text.charCodeAt(pos);
      if (c === Ch.Quote) break;
      if (c < Ch.Space || Number.isNaN(c)) throw new JsonRefusal(SYNTAX); // control char or end
      if (c === Ch.Backslash) {
        escaped = true;
        pos = scanEscape(text, pos);
      } else pos += 1;
    }
    this.#pos = pos + 1;
    return escaped;
  }

  /** RFC 8259 §6 number grammar, plus: the value must survive the trip through a double. */
  #scanNumber(): void {
    const text = this.#text;
    const start = this.#pos;
    let pos = start;
    if (text.charCodeAt(pos) === Ch.Minus) pos += 1;
    let first = -1; // position of the first and last non-zero digit, for the significant digits
    let last = -1;
    const intStart = pos;
    if (text.charCodeAt(pos) === Ch.Zero) pos += 1;
    else if (isDigit(text.charCodeAt(pos)) && text.charCodeAt(pos) >= Ch.One) {
      while (isDigit(text.charCodeAt(pos))) {
        if (text.charCodeAt(pos) !== Ch.Zero) {
          if (first < 0) first = pos;
          last = pos;
        }
        pos += 1;
      }
    } else throw new JsonRefusal(SYNTAX);
    const intEnd = pos;
    let integral = true;
    if (text.charCodeAt(pos) === Ch.Dot) {
      integral = false;
      pos += 1;
      if (!isDigit(text.charCodeAt(pos))) throw new JsonRefusal(SYNTAX);
      while (isDigit(text.charCodeAt(pos))) {
        if (text.charCodeAt(pos) !== Ch.Zero) {
          if (first < 0) first = pos;
          last = pos;
        }
        pos += 1;
      }
    }
    const c = text.charCodeAt(pos);
    let exponent = false;
    if (c === Ch.LowerE || c === Ch.UpperE) {
      integral = false;
      exponent = true;
      pos += 1;
      const sign = text.charCodeAt(pos);
      if (sign === Ch.Plus || sign === Ch.Minus) pos += 1;
      if (!isDigit(text.charCodeAt(pos))) throw new JsonRefusal(SYNTAX);
      while (isDigit(text.charCodeAt(pos))) pos += 1;
    }
    this.#pos = pos;
    const significant = first < 0 ? 0 : last - first + 1 - (first < intEnd && last > intEnd ? 1 : 0);
    if (significant > MAX_SIGNIFICANT_DIGITS) throw imprecise();
    // Up to 15 significant digits a double always holds exactly; past that, a literal such as
    // 0.99999999999999999 or 1.0000000000000001 would reach the schema as 1.
    if (significant > EXACT_DIGITS && !holdsExactly(text.slice(start, pos))) throw imprecise();
    if (
      integral &&
      intEnd - intStart >= 16 &&
      Math.abs(Number(text.slice(start, pos))) > Number.MAX_SAFE_INTEGER
    )
      throw imprecise();
    if (exponent && !Number.isFinite(Number(text.slice(start, pos)))) throw imprecise();
  }

  #scanLiteral(): void {
    const text = this.#text;
    const pos = this.#pos;
    for (const literal of LITERALS) {
      if (text.startsWith(literal, pos)) {
        this.#pos = pos + literal.length;
        return;
      }
    }
    throw new JsonRefusal(SYNTAX);
  }

  #skipSpace(): void {
    const text = this.#text;
    let pos = this.#pos;
    for (;;) {
      const c = text.charCodeAt(pos);
      if (c !== Ch.Space && c !== Ch.Lf && c !== Ch.Cr && c !== Ch.Tab) break;
      pos += 1;
    }
    this.#pos = pos;
  }
}

const LITERALS = ['true', 'false', 'null'] as const;

function isDigit(c: number): boolean {
  return c >= Ch.Zero && c <= Ch.Nine;
}

/** Checks the escape at `pos` (a backslash); returns the position after it. */
function scanEscape(text: string, pos: number): number {
  const kind = text.charCodeAt(pos + 1);
  if (kind !== 0x75 /* u */) {
    // " \ / b f n r t
    if (
      kind === 0x22 ||
      kind === 0x5c ||
      kind === 0x2f ||
      kind === 0x62 ||
      kind === 0x66 ||
      kind === 0x6e ||
      kind === 0x72 ||
      kind === 0x74
    )
      return pos + 2;
    throw new JsonRefusal(SYNTAX);
  }
  const unit = hex4(text, pos + 2);
  if (unit >= 0xdc00 && unit <= 0xdfff) throw loneSurrogate();
  if (unit < 0xd800 || unit > 0xdbff) return pos + 6;
  // A high surrogate must be followed by an escaped low one (RFC 8259 §7, §8.2).
  if (text.charCodeAt(pos + 6) !== Ch.Backslash || text.charCodeAt(pos + 7) !== 0x75) throw loneSurrogate();
  const low = hex4(text, pos + 8);
  if (low < 0xdc00 || low > 0xdfff) throw loneSurrogate();
  return pos + 12;
}

function hex4(text: string, pos: number): number {
  let value = 0;
  for (let i = pos; i < pos + 4; i += 1) {
    const c = text.charCodeAt(i);
    const digit =
      c >= 0x30 && c <= 0x39
        ? c - 0x30
        : c >= 0x41 && c <= 0x46
          ? c - 0x37
          : c >= 0x61 && c <= 0x66
            ? c - 0x57
            : -1;
    if (digit < 0) throw new JsonRefusal(SYNTAX);
    value = value * 16 + digit;
  }
  return value;
}

/** The key is named only when it is a plain identifier: nothing the client typed is echoed raw. */
function duplicateKey(key: string): JsonRefusal {
  return new JsonRefusal(SAFE_NAME.test(key) ? `must not repeat the key "${key}"` : 'must not repeat a key');
}

/** Names that may appear in a problem body: short, and nothing a browser or a log could misread. */
export const SAFE_NAME = /^[A-Za-z0-9_.$-]{1,64}$/;

/** Every decimal of up to 15 significant digits survives the trip through a double (IEEE 754 binary64). */
const EXACT_DIGITS = 15;

/** Whether the double a number literal parses to is the number it writes (its shortest form has the same digits). */
function holdsExactly(literal: string): boolean {
  return decimalForm(literal) === decimalForm(String(Number(literal)));
}

/** A decimal literal as sign, significant digits and the power of ten before them: "-0.0120e1" → "-12e-1". */
export function decimalForm(literal: string): string {
  let text = literal;
  const negative = text.startsWith('-');
  if (negative) text = text.slice(1);
  let exponent = 0;
  const e = text.search(/[eE]/);
  if (e >= 0) {
    exponent = Number(text.slice(e + 1));
    text = text.slice(0, e);
  }
  const dot = text.indexOf('.');
  let digits = dot < 0 ? text : text.slice(0, dot) + text.slice(dot + 1);
  let point = dot < 0 ? text.length : dot;
  const leading = digits.length - digits.replace(/^0+/, '').length;
  digits = digits.slice(leading).replace(/0+$/, '');
  point -= leading;
  if (digits === '') return '0';
  return `${negative ? '-' : ''}${digits}e${point + exponent}`;
}

function imprecise(): JsonRefusal {
  return new JsonRefusal(
    'must only hold numbers a 64-bit float represents exactly enough (at most 17 significant digits, integers within ±2^53)',
  );
}

function loneSurrogate(): JsonRefusal {
  return new JsonRefusal('must not contain unpaired surrogate escapes');
}
