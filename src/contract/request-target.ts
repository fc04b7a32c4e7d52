import { GatehouseError } from '../errors/gatehouse-error.js';

/**
 * The strict check of a raw request target, before any routing. Anything an upstream (or a
 * proxy between) could read differently from the gateway is refused here, so the path the
 * gateway authorises is the path the upstream serves. One pass with charCodeAt, no RegExp.
 */

/** RFC 9112 §3 asks that request targets of at least 8000 octets be supported. */
export const DEFAULT_MAX_TARGET_BYTES = 8192;

const SLASH = 0x2f;
const BACKSLASH = 0x5c;
const QUESTION = 0x3f;
const HASH = 0x23;
const PERCENT = 0x25;
const DOT = 0x2e;
const SEMICOLON = 0x3b;
const DELETE = 0x7f;
const SPACE = 0x20;

/** RFC 3986 §3.3 pchar, minus "%" (checked as an escape) and "/" (the separator). */
const PATH_CHAR = asciiTable(
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@",
);

/** Hex digit values for percent-escapes (RFC 3986 §2.1: either case), -1 for anything else. */
const HEX_VALUE = new Int8Array(128).fill(-1);
for (let digit = 0; digit < 16; digit++) {
  HEX_VALUE[digit.toString(16).charCodeAt(0)] = digit;
  HEX_VALUE[digit.toString(16).toUpperCase().charCodeAt(0)] = digit;
}

function asciiTable(chars: string): Uint8Array {
  const table = new Uint8Array(128);
  for (let i = 0; i < chars.length; i++) table[chars.charCodeAt(i)] = 1;
  return table;
}

/**
 * Checks `target` (req.url) and returns where its path ends: the index of "?", or its length.
 * Throws GH_TRANSPORT_URI_TOO_LONG (414) beyond `maxBytes`, GH_ROUTE_BAD_PATH (400) otherwise.
 */
export function checkRequestTarget(target: string, maxBytes: number): number {
  // Node reads the request line as latin1, so one char is one byte of the wire.
  if (target.length > maxBytes) {
    throw new GatehouseError(
      'GH_TRANSPORT_URI_TOO_LONG',
      `request target of ${target.length} bytes, limit ${maxBytes}`,
    );
  }
  // RFC 9112 §3.2: a gateway (not a forward proxy) takes origin-form only; absolute-form,
  // authority-form (CONNECT) and asterisk-form (OPTIONS *) are refused.
  if (target.charCodeAt(0) !== SLASH) throw badPath('request target is not in origin-form');
  const pathEnd = scanPath(target);
  if (pathEnd < target.length) scanQuery(target, pathEnd + 1);
  return pathEnd;
}

function scanPath(target: string): number {
  const length = target.length;
  let segmentStart = 1;
  let dots = 0; // "." (raw or %2E) seen before any ";" in this segment
  let other = false; // anything else seen before any ";"
  let params = false; // a raw ";" opened the segment's parameters
  let i = 1;
  for (; i < length; i++) {
    const c = target.charCodeAt(i);
    if (c === SLASH || c === QUESTION) {
      const isLast = c === QUESTION;
      checkSegment(i === segmentStart, dots, other, isLast);
      if (isLast) return i;
      segmentStart = i + 1;
      dots = 0;
      other = false;
      params = false;
      continue;
    }
    let unit = c;
    if (c === PERCENT) {
      unit = decodePathEscape(target, i);
      i += 2;
    } else if (c > DELETE || PATH_CHAR[c] === 0) {
      throw badPath(describeRefusedChar(c));
    }
    if (params) continue;
    // Servlet containers cut a segment at a raw ";" before resolving dot segments, so "..;"
    // is ".." to them: the part before ";" is what must not be a dot segment.
    if (unit === DOT) dots++;
    else if (c === SEMICOLON) params = true;
    else other = true;
  }
  checkSegment(i === segmentStart, dots, other, true);
  return length;
}

/**
 * RFC 3986 §3.3 / §5.2.4: "." and ".." segments are resolved by URI normalisation, so they
 * could reach a path the gateway never matched. An empty segment ("//") is collapsed by some
 * servers; only a final empty segment (a trailing "/") is kept, and routed as declared.
 */
function checkSegment(isEmpty: boolean, dots: number, other: boolean, isLast: boolean): void {
  if (isEmpty) {
    if (!isLast) throw badPath('empty path segment');
    return;
  }
  if (other) return;
  if (dots === 1 || dots === 2) throw badPath('dot segment in the path');
  if (dots === 0) throw badPath('path segment empty before ";"');
}

/** Decodes the escape at `i` and refuses what must not be smuggled encoded into a path. */
function decodePathEscape(target: string, i: number): number {
  const byte = decodeEscape(target, i);
  // An encoded "/" or "\" splits a segment in two for a server that decodes before routing.
  if (byte === SLASH || byte === BACKSLASH) throw badPath('encoded "/" or "\\" in the path');
  return byte;
}

function scanQuery(target: string, from: number): void {
  for (let i = from; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c === PERCENT) {
      decodeEscape(target, i);
      i += 2;
    } else if (c <= SPACE || c >= DELETE || c === HASH) {
      throw badPath(describeRefusedChar(c));
    }
  }
}

/** RFC 3986 §2.1: "%" then two hex digits; an encoded control character is refused like a raw one. */
function decodeEscape(target: string, i: number): number {
  const high = hexValue(target.charCodeAt(i + 1));
  const low = hexValue(target.charCodeAt(i + 2));
  if (high < 0 || low < 0) throw badPath('malformed percent-encoding');
  const byte = high * 16 + low;
  if (byte < 0x20 || byte === DELETE) throw badPath('encoded control character');
  return byte;
}

function hexValue(code: number): number {
  return code < 128 ? HEX_VALUE[code]! : -1; // NaN past the end compares false: -1 as well
}

function describeRefusedChar(c: number): string {
  if (c === HASH) return 'fragment ("#") in the request target'; // RFC 3986 §3.5: never sent
  if (c === BACKSLASH) return 'raw "\\" in the path';
  if (c === SPACE) return 'raw space in the request target';
  if (c < 0x20 || c === DELETE) return 'control character in the request target';
  if (c > DELETE) return 'non-ASCII byte in the request target';
  return `character 0x${c.toString(16)} not allowed in a path (RFC 3986 §3.3)`;
}

function badPath(detail: string): GatehouseError {
  return new GatehouseError('GH_ROUTE_BAD_PATH', detail);
}
