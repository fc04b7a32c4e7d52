import {
  byteAt,
  closesAtEnd,
  forgetView,
  MAX_RESPONSE_DEPTH,
  separatorAt,
  skipSpace,
  skipSpaceAt,
  skipString,
  skipValue,
} from './json-bytes.js';
import {
  extraFilterFor,
  kindBreach,
  KIND_OF_BYTE,
  MAX_RECORDED,
  removalLabel,
  requiredBreach,
  ShapeBreach,
  type ResponseFilter,
} from './response-filter.js';
import { cutOut, filterInModule, isUnescapedAscii, NEEDS_SCRIPT, WASM_MAX_RESPONSE } from './json-wasm.js';

export { MAX_RESPONSE_DEPTH } from './json-bytes.js';

/**
 * `applyResponseFilter` on the bytes of a response, without building a value: checks that `raw` is
 * exactly one JSON text (RFC 8259 §2) and cuts out the members `filter` does not declare, each
 * with one comma, so what is left is JSON. Returns `raw` itself when nothing was removed, new
 * bytes when something was, or 'invalid' for what `JSON.parse(raw.toString('utf8'))` refuses (and
 * for nesting beyond MAX_RESPONSE_DEPTH). A null filter only checks.
 *
 * On the way it checks the shape the filter keeps: each value it reaches is of a kind its node
 * admits, each object it filters carries the properties its node requires. The first value in
 * byte order that does not is returned as a ShapeBreach (after the whole response proved JSON:
 * 'invalid' comes first), and nothing is recorded in `removed`.
 *
 * As with `JSON.parse` of the decoded text, invalid UTF-8 inside strings is accepted (and passed
 * on unchanged). Removals are recorded in `removed` as `applyResponseFilter` records them, but in
 * the order of the bytes: JSON.parse lists integer-like keys ("7") first. And where a key repeats,
 * every occurrence is filtered and checked, where JSON.parse keeps (and the reference walks) only the
 * last: the value left is the same, but more may be recorded, and cut, and a breach in an earlier
 * occurrence counts.
 *
 * Responses up to WASM_MAX_RESPONSE bytes are scanned in WebAssembly (json-wat.ts), the
 * rest, and those whose keys need decoding, by `filterResponseBytesInScript`: both give the same
 * answer (property-tested).
 */
export function filterResponseBytes(
  filter: ResponseFilter | null,
  raw: Buffer,
  removed: string[] | null,
): Buffer | 'invalid' | ShapeBreach {
  if (raw.length <= WASM_MAX_RESPONSE) {
    const response = filterInModule(filter, raw, removed);
    if (response !== NEEDS_SCRIPT) return response;
  }
  return filterResponseBytesInScript(filter, raw, removed);
}

/** `filterResponseBytes` in JavaScript, for any response. */
export function filterResponseBytesInScript(
  filter: ResponseFilter | null,
  raw: Buffer,
  removed: string[] | null,
): Buffer | 'invalid' | ShapeBreach {
  const recordedBefore = removed === null ? 0 : removed.length;
  const scan = new Scan(raw, removed);
  const start = skipSpace(raw, 0);
  let end: number;
  try {
    end = !closesAtEnd(raw, start)
      ? -1
      : filter === null
        ? skipValue(raw, start, 0)
        : filterValue(scan, start, nodeFor(filter), 0);
  } finally {
    forgetView();
  }
  const invalid = end === -1 || skipSpace(raw, end) !== raw.length;
  if (invalid || scan.breach !== null) {
    if (removed !== null) removed.length = recordedBefore;
    return invalid ? 'invalid' : new ShapeBreach(scan.breach!);
  }
  return scan.cuts.length === 0 ? raw : cutOut(raw, scan.cuts);
}

/**
 * The state of one call: the response, what to cut ([start, end) pairs, in order), what was cut,
 * and the first breach of the shape.
 */
class Scan {
  readonly buf: Buffer;
  readonly removed: string[] | null;
  readonly cuts: number[] = [];
  breach: string | null = null;

  constructor(buf: Buffer, removed: string[] | null) {
    this.buf = buf;
    this.removed = removed;
  }
}

/** A declared property name an unescaped key is compared with, byte for byte. */
interface DeclaredName {
  /** A plain array: read faster beside the response's bytes than a second typed array (measured). */
  readonly bytes: readonly number[];
  readonly child: ScanNode | null;
  /** Its place in the filter's `required`, -1 when it is not required. */
  readonly requiredAt: number;
}

/**
 * A filter node with what matching on bytes needs, built once per node: its declared names by
 * first byte (those a key can spell without escapes: printable ASCII but `"` and `\`) and by
 * decoded name, and, when no pattern makes it depend on the key, what an undeclared key gets.
 */
interface ScanNode {
  readonly filter: ResponseFilter;
  readonly kinds: number;
  /** Filters neither objects nor arrays: only the kind of its values is checked. */
  readonly leaf: boolean;
  readonly namesByFirstByte: readonly (readonly DeclaredName[] | undefined)[];
  readonly names: ReadonlyMap<string, DeclaredName>;
  readonly items: ScanNode | null;
  readonly keyDependent: boolean;
  readonly undeclared: ScanNode | null | undefined;
}

const scanNodes = new WeakMap<ResponseFilter, ScanNode>();
/** The names of a node that filters no object: none is ever looked up. */
const NO_NAMES: readonly undefined[] = [];

function nodeFor(filter: ResponseFilter): ScanNode {
  const known = scanNodes.get(filter);
  if (known !== undefined) return known;
  const keyDependent = filter.patterns.length > 0;
  const byFirstByte =
    filter.properties === null ? null : new Array<DeclaredName[] | undefined>(0x80).fill(undefined);
  const node = {
    filter,
    kinds: filter.kinds,
    leaf: filter.properties === null && filter.items === null,
    namesByFirstByte: byFirstByte ?? NO_NAMES,
    names: new Map<string, DeclaredName>(),
    items: null as ScanNode | null,
    keyDependent,
    undeclared: undefined as ScanNode | null | undefined,
  };
  // Registered before its children are built, so a filter that refers to itself ends.
  scanNodes.set(filter, node);
  for (const [name, child] of filter.properties ?? []) {
    const bytes = [...Buffer.from(name, 'utf8')];
    const declared = {
      bytes,
      child: child === null ? null : nodeFor(child),
      requiredAt: filter.required.indexOf(name),
    };
    node.names.set(name, declared);
    if (byFirstByte === null || !bytes.every(isUnescapedAscii)) continue; // found by decoding the key
    // No name starts with a quote: the empty one is filed under its closing quote.
    const first = bytes.length === 0 ? 0x22 /* " */ : bytes[0]!;
    (byFirstByte[first] ??= []).push(declared);
  }
  node.items = filter.items === null ? null : nodeFor(filter.items);
  const undeclared = keyDependent ? undefined : extraFilterFor(filter, '');
  node.undeclared = undeclared === undefined || undeclared === null ? undeclared : nodeFor(undeclared);
  return node;
}

/**
 * A value the schema reaches: of a kind the node admits; objects and arrays are filtered as the
 * node says, the rest checked.
 */
function filterValue(scan: Scan, i: number, node: ScanNode, depth: number): number {
  const buf = scan.buf;
  i = skipSpaceAt(buf, i);
  const c = byteAt(buf, i);
  if ((KIND_OF_BYTE[c]! & node.kinds) === 0 && scan.breach === null) scan.breach = kindBreach(node.filter, c);
  if (c === 0x7b /* { */ && node.filter.properties !== null) return filterObject(scan, i, node, depth + 1);
  if (c === 0x5b /* [ */ && node.items !== null) return filterArray(scan, i, node.items, depth + 1);
  return skipValue(buf, i, depth);
}

function filterArray(scan: Scan, i: number, items: ScanNode, depth: number): number {
  if (depth > MAX_RESPONSE_DEPTH) return -1;
  const buf = scan.buf;
  i = skipSpaceAt(buf, i + 1);
  if (byteAt(buf, i) === 0x5d /* ] */) return i + 1;
  for (;;) {
    i = filterValue(scan, i, items, depth);
    if (i === -1) return -1;
    i = separatorAt(buf, i, 0x5d /* ] */);
    if (i === -1) return -1;
    if (buf[i] === 0x5d /* ] */) return i + 1;
    i += 1;
  }
}

/**
 * An object's members, undeclared ones cut out with one comma each: after a kept member, the cut
 * runs from that member's end through the removed value (`, "k": v`); before any kept member, from
 * the removed key up to the next key (`"k": v, `). Neighbouring removals share one cut. The
 * required members it meets are counted (as bits of `seen`, past the 32nd in `seenMore`).
 */
function filterObject(scan: Scan, i: number, node: ScanNode, depth: number): number {
  if (depth > MAX_RESPONSE_DEPTH) return -1;
  const buf = scan.buf;
  const cuts = scan.cuts;
  i = skipSpaceAt(buf, i + 1);
  if (byteAt(buf, i) === 0x7d /* } */) {
    if (node.filter.required.length > 0) checkRequired(scan, node.filter, 0, null);
    return i + 1;
  }
  let kept = false; // some member before this one stays
  let open = false; // the previous member was removed: the last cut ends where it ended
  let previousEnd = 0;
  let seen = 0;
  let seenMore: Set<number> | null = null;
  for (;;) {
    if (buf[i] !== 0x22 /* " */) {
      i = skipSpace(buf, i);
      if (byteAt(buf, i) !== 0x22 /* " */) return -1;
    }
    const keyStart = i;
    // A declared name is recognised as it is read; any other key is read, then decided.
    const names = i + 1 < buf.length && buf[i + 1]! < 0x80 ? node.namesByFirstByte[buf[i + 1]!] : undefined;
    let declared = names === undefined ? null : matchName(buf, i + 1, names);
    let keyEnd: number;
    let child: ScanNode | null | undefined; // undefined: the member goes; null: its value stays whole
    if (declared !== null) {
      keyEnd = i + declared.bytes.length + 2;
      child = declared.child;
    } else {
      keyEnd = skipString(buf, i);
      if (keyEnd === -1) return -1;
      const key = isPlainKey(buf, i + 1, keyEnd - 1) ? null : decodeKey(buf, i, keyEnd, false);
      declared = key === null ? null : (node.names.get(key) ?? null);
      child = declared !== null ? declared.child : undeclaredChild(buf, node, i, keyEnd, key);
    }
    if (declared !== null && declared.requiredAt >= 0) {
      const at = declared.requiredAt;
      if (at < 32) seen |= 1 << at;
      else (seenMore ??= new Set()).add(at);
    }
    if (open && !kept) cuts[cuts.length - 1] = keyStart;
    i = keyEnd;
    if (buf[i] !== 0x3a /* : */) {
      i = skipSpace(buf, i);
      if (byteAt(buf, i) !== 0x3a /* : */) return -1;
    }
    let end: number;
    if (child === undefined || child === null) end = skipValue(buf, i + 1, depth);
    else if (!child.leaf) end = filterValue(scan, i + 1, child, depth);
    else {
      // A scalar, mostly: filterValue inlined, as a call per scalar took about 5% more (measured).
      i = skipSpaceAt(buf, i + 1);
      const c = byteAt(buf, i);
      if ((KIND_OF_BYTE[c]! & child.kinds) === 0 && scan.breach === null)
        scan.breach = kindBreach(child.filter, c);
      end = skipValue(buf, i, depth);
    }
    if (end === -1) return -1;
    if (child !== undefined) {
      kept = true;
      open = false;
    } else {
      if (open) cuts[cuts.length - 1] = end;
      else cuts.push(kept ? previousEnd : keyStart, end);
      open = true;
      record(scan, node.filter, keyStart, keyEnd);
    }
    previousEnd = end;
    i = end;
    i = separatorAt(buf, i, 0x7d /* } */);
    if (i === -1) return -1;
    if (buf[i] === 0x7d /* } */) {
      if (node.filter.required.length > 0) checkRequired(scan, node.filter, seen, seenMore);
      return i + 1;
    }
    i += 1;
  }
}

/** Records the first required property an object lacks (the lowest place in `required`), if any. */
function checkRequired(scan: Scan, filter: ResponseFilter, seen: number, seenMore: Set<number> | null): void {
  const required = filter.required;
  for (let at = 0; at < required.length && scan.breach === null; at += 1) {
    const met = at < 32 ? (seen & (1 << at)) !== 0 : seenMore !== null && seenMore.has(at);
    if (!met) scan.breach = requiredBreach(filter, required[at]!);
  }
}

/** The declared name `buf` holds from `start` up to a closing quote, if any (the first byte matched). */
function matchName(buf: Buffer, start: number, names: readonly DeclaredName[]): DeclaredName | null {
  for (let k = 0; k < names.length; k += 1) {
    const name = names[k]!;
    const bytes = name.bytes;
    const end = start + bytes.length;
    if (end >= buf.length || buf[end] !== 0x22 /* " */) continue;
    let j = 1;
    while (j < bytes.length && buf[start + j] === bytes[j]) j += 1;
    if (j >= bytes.length) return name;
  }
  return null;
}

/**
 * What a key that is no declared name gets, by the filter's patterns and additionalProperties:
 * `key` is the key decoded, or null when it is plain (its bytes are its characters).
 */
function undeclaredChild(
  buf: Buffer,
  node: ScanNode,
  keyStart: number,
  keyEnd: number,
  key: string | null,
): ScanNode | null | undefined {
  if (!node.keyDependent) return node.undeclared;
  const extra = extraFilterFor(node.filter, key ?? decodeKey(buf, keyStart, keyEnd, true));
  return extra === undefined || extra === null ? extra : nodeFor(extra);
}

/** ASCII without escapes: the key's bytes are its characters, so `matchName` missed no declared name. */
function isPlainKey(buf: Buffer, start: number, end: number): boolean {
  for (let j = start; j < end; j += 1) {
    const c = buf[j]!;
    if (c >= 0x80 || c === 0x5c /* \ */) return false;
  }
  return true;
}

function record(scan: Scan, filter: ResponseFilter, keyStart: number, keyEnd: number): void {
  const removed = scan.removed;
  if (removed !== null && removed.length < MAX_RECORDED) {
    const plain = isPlainKey(scan.buf, keyStart + 1, keyEnd - 1);
    removed.push(removalLabel(filter, decodeKey(scan.buf, keyStart, keyEnd, plain)));
  }
}

/**
 * The key (quotes included) as `JSON.parse` of the decoded answer has it. A key is bounded by
 * ASCII quotes, on which UTF-8 decoding resynchronises, so decoding it alone replaces invalid
 * bytes as decoding the whole response does; a backslash in the decoded text can only be an escape.
 */
function decodeKey(buf: Buffer, keyStart: number, keyEnd: number, plain: boolean): string {
  if (plain) return buf.toString('latin1', keyStart + 1, keyEnd - 1);
  const quoted = buf.toString('utf8', keyStart, keyEnd);
  return quoted.includes('\\') ? (JSON.parse(quoted) as string) : quoted.slice(1, -1);
}
