import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ESCAPES, HEX_DIGITS } from './json-bytes.js';
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
import {
  RESPONSE_PADDING,
  JSON_WAT,
  FILTERS_OBJECTS,
  KEEP_WHOLE,
  KEY_DEPENDENT,
  KIND_BREACH,
  KINDS_AT,
  MANY_REQUIRED,
  NAME_HEADER_BYTES,
  NODE_BYTES,
  NODE_HEADER_BYTES,
  NODES_AT,
  REMOVE,
  RESULT_AT,
  TO_SCRIPT,
} from './json-wat.js';

export { CLEAN, CLEAN_ASCII, TO_SCRIPT } from './json-wat.js';

/** What this module uses of the WebAssembly global (its types come with the DOM library, not Node's). */
interface WasmGlobal {
  Module: new (binary: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule) => { readonly exports: Record<string, unknown> };
}
type WasmModule = object;
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
const { WebAssembly: wasm } = globalThis as unknown as { WebAssembly: WasmGlobal };

/**
 * The module of the contract's JSON scanners (json-wat.ts), or null when the TypeScript scanners
 * do all the work (`GATEHOUSE_JSON_SCANNER=typescript`, or no module at hand): the same responses,
 * slower on large bodies.
 */
const JSON_MODULE = await loadJsonModule();

/** Which scanner checks JSON first in this process, for the start-up log. */
export const JSON_SCANNER: 'webassembly' | 'typescript' = JSON_MODULE === null ? 'typescript' : 'webassembly';

async function loadJsonModule(): Promise<WasmModule | null> {
  if (process.env['GATEHOUSE_JSON_SCANNER'] === 'typescript') return null;
  return builtModule() ?? (await assembledModule());
}

/**
 * The binary `npm run build` writes beside this file (tools/build-wasm.mjs), if it was made from
 * this very text: its digest is checked, so a stale binary is never used.
 */
function builtModule(): WasmModule | null {
  try {
    const digest = readFileSync(new URL('./json.wasm.sha256', import.meta.url), 'utf8').trim();
    if (digest !== createHash('sha256').update(JSON_WAT).digest('hex')) return null;
    return new wasm.Module(readFileSync(new URL('./json.wasm', import.meta.url)));
  } catch {
    return null;
  }
}

/** Where nothing was built (the sources run by the tests): the text assembled by wabt, a development dependency. */
async function assembledModule(): Promise<WasmModule | null> {
  let wabt;
  try {
    wabt = await (await import('wabt')).default();
  } catch {
    return null;
  }
  const parsed = wabt.parseWat('json.wat', JSON_WAT, { simd: true, multi_value: true });
  try {
    parsed.validate();
    return new wasm.Module(parsed.toBinary({}).buffer);
  } finally {
    parsed.destroy();
  }
}

/**
 * Responses longer than this are scanned in JavaScript: the module's memory holds the response and
 * room for its cuts, and never shrinks, so it stays a few megabytes at most.
 */
export const WASM_MAX_RESPONSE = 1 << 20;

/** Filter nodes past this many bytes start a new module instance (old configurations' nodes go with the old one). */
const NODES_LIMIT = 8 << 20;

/** The response needs the JavaScript scanner: a key spelt with escapes or beyond ASCII, patterns, or over 32 required properties. */
export const NEEDS_SCRIPT = Symbol('needs the JavaScript scanner');

type Run = (
  node: number,
  start: number,
  end: number,
  cuts: number,
  records: number,
  recordsEnd: number,
) => number;
type ScanRequest = (
  start: number,
  end: number,
  maxDepth: number,
  maxKeys: number,
  frames: number,
  keys: number,
) => number;

/**
 * One instance of the module: its memory, the filter nodes written into it (once per
 * ResponseFilter), and the calls that scan one response or one request body.
 */
class ScanEngine {
  readonly #memory: WasmMemory;
  readonly #run: Run;
  readonly #scanRequest: ScanRequest;
  #bytes: Uint8Array;
  #words: Int32Array;
  /** The memory's size in bytes, kept here: asking the memory for its buffer is a call into the engine. */
  #capacity: number;
  #nodesEnd = NODES_AT;
  readonly #nodes = new WeakMap<ResponseFilter, number>();
  /** The filter of the last answer and its node: an operation's answers mostly follow one another. */
  #lastFilter: ResponseFilter | null = null;
  #lastNode = 0;
  /** By node address, for the record of removals. */
  readonly #filters = new Map<number, ResponseFilter>();

  constructor(module: WasmModule) {
    const instance = new wasm.Instance(module);
    this.#memory = instance.exports.memory as WasmMemory;
    this.#run = instance.exports.run as Run;
    this.#scanRequest = instance.exports.scanRequest as ScanRequest;
    this.#bytes = new Uint8Array(this.#memory.buffer);
    this.#words = new Int32Array(this.#memory.buffer);
    this.#capacity = this.#bytes.length;
    this.#bytes.set(ESCAPES, 0);
    this.#bytes.set(HEX_DIGITS, 256);
    this.#bytes.set(KIND_OF_BYTE, KINDS_AT);
  }

  get full(): boolean {
    return this.#nodesEnd > NODES_LIMIT;
  }

  /** `filterResponseBytes` in the module, or NEEDS_SCRIPT. */
  filter(
    filter: ResponseFilter | null,
    raw: Buffer,
    removed: string[] | null,
  ): Buffer | 'invalid' | ShapeBreach | typeof NEEDS_SCRIPT {
    let node = 0;
    if (filter === this.#lastFilter) node = this.#lastNode;
    else if (filter !== null) {
      node = this.#nodeAt(filter);
      this.#lastFilter = filter;
      this.#lastNode = node;
    }
    const start = align(this.#nodesEnd, 16);
    const end = start + raw.length;
    // A cut takes 8 bytes and at least 5 bytes of answer (`"":0,`): twice the response is room enough.
    const cuts = align(end + RESPONSE_PADDING, 8);
    const records = align(cuts + 2 * raw.length + 8, 4);
    const room = removed === null ? 0 : Math.max(0, MAX_RECORDED - removed.length);
    const recordsEnd = records + 12 * room;
    this.#reserve(recordsEnd);
    const bytes = this.#bytes;
    bytes.set(raw, start);
    const whole = this.#run(node, start, end, cuts, records, recordsEnd);
    const words = this.#words;
    if (words[RESULT_AT / 4 + 2] === 1) return NEEDS_SCRIPT;
    if (whole !== 1) return 'invalid';
    if (words[RESULT_AT / 4 + 3] !== 0) return this.#breach(words[RESULT_AT / 4 + 3]!);
    const recordedEnd = words[RESULT_AT / 4 + 1]!;
    for (let r = records; r < recordedEnd; r += 12) {
      const at = r / 4;
      const key = raw.toString('latin1', words[at + 1]! - start + 1, words[at + 2]! - start - 1);
      removed!.push(removalLabel(this.#filters.get(words[at]!)!, key));
    }
    const cutsEnd = words[RESULT_AT / 4]!;
    if (cutsEnd === cuts) return raw;
    const ranges: number[] = [];
    for (let k = cuts / 4; k < cutsEnd / 4; k += 1) ranges.push(words[k]! - start);
    return cutOut(raw, ranges);
  }

  /** What the module finds of `body`: CLEAN_ASCII, CLEAN or TO_SCRIPT (SCAN_REQUEST in json-wat.ts). */
  scanRequest(body: Buffer, maxDepth: number, maxKeys: number): number {
    const start = align(this.#nodesEnd, 16);
    const end = start + body.length;
    const frames = align(end + RESPONSE_PADDING, 8);
    const keys = frames + 8 * (maxDepth + 1);
    this.#reserve(keys + 16 * 8 * (maxDepth + 1));
    this.#bytes.set(body, start);
    return this.#scanRequest(start, end, maxDepth, maxKeys, frames, keys);
  }

  /** The first breach of the shape `run` left (its kind given), as the script scanner words it. */
  #breach(kind: number): ShapeBreach {
    const words = this.#words;
    const filter = this.#filters.get(words[RESULT_AT / 4 + 4]!)!;
    const detail = words[RESULT_AT / 4 + 5]!;
    if (kind === KIND_BREACH) return new ShapeBreach(kindBreach(filter, detail)!);
    return new ShapeBreach(requiredBreach(filter, filter.required[31 - Math.clz32(detail & -detail)]!));
  }

  /** The node of `filter` in memory, written (with every node it leads to) on first use. */
  #nodeAt(filter: ResponseFilter): number {
    const known = this.#nodes.get(filter);
    if (known !== undefined) return known;
    const filtersObjects = filter.properties !== null;
    const at = this.#allocate(filtersObjects ? NODE_BYTES : NODE_HEADER_BYTES);
    // Registered before its children are written, so a filter that refers to itself ends.
    this.#nodes.set(filter, at);
    this.#filters.set(at, filter);
    const keyDependent = filter.patterns.length > 0;
    const required = filter.required;
    this.#words[at / 4] =
      (filtersObjects ? FILTERS_OBJECTS : 0) |
      (keyDependent ? KEY_DEPENDENT : 0) |
      (required.length > 32 ? MANY_REQUIRED : 0);
    const items = filter.items === null ? 0 : this.#nodeAt(filter.items);
    this.#words[at / 4 + 1] = items;
    const undeclared = keyDependent ? undefined : extraFilterFor(filter, '');
    const extra =
      undeclared === undefined ? REMOVE : undeclared === null ? KEEP_WHOLE : this.#nodeAt(undeclared);
    this.#words[at / 4 + 2] = extra;
    this.#words[at / 4 + 3] = filter.kinds;
    this.#words[at / 4 + 4] = required.length >= 32 ? -1 : (1 << required.length) - 1;
    for (const [name, child] of filter.properties ?? []) {
      const spelt = Buffer.from(name, 'utf8');
      if (!spelt.every(isUnescapedAscii)) continue; // found by decoding the key, in JavaScript
      const childAt = child === null ? KEEP_WHOLE : this.#nodeAt(child);
      const entry = this.#allocate(NAME_HEADER_BYTES + spelt.length);
      // No name starts with a quote: the empty one is filed under its closing quote.
      const slot = (at + NODE_HEADER_BYTES) / 4 + (spelt.length === 0 ? 0x22 /* " */ : spelt[0]!);
      const requiredAt = required.indexOf(name);
      const words = this.#words;
      words[entry / 4] = spelt.length;
      words[entry / 4 + 1] = childAt;
      words[entry / 4 + 2] = words[slot]!;
      words[entry / 4 + 3] = requiredAt >= 0 && requiredAt < 32 ? 1 << requiredAt : 0;
      this.#bytes.set(spelt, entry + NAME_HEADER_BYTES);
      words[slot] = entry;
    }
    return at;
  }

  #allocate(length: number): number {
    const at = this.#nodesEnd;
    this.#nodesEnd = align(at + length, 4);
    this.#reserve(this.#nodesEnd);
    // The responses go after the nodes: this was a response's place before.
    this.#bytes.fill(0, at, this.#nodesEnd);
    return at;
  }

  #reserve(end: number): void {
    if (end <= this.#capacity) return;
    this.#memory.grow(Math.ceil((end - this.#capacity) / 65536));
    this.#bytes = new Uint8Array(this.#memory.buffer);
    this.#words = new Int32Array(this.#memory.buffer);
    this.#capacity = this.#bytes.length;
  }
}

/** `n` rounded up to a multiple of `to`, a power of two. */
function align(n: number, to: number): number {
  return (n + to - 1) & -to;
}

/** A byte a JSON key spells as itself: printable ASCII but `"` and `\\`. */
export function isUnescapedAscii(c: number): boolean {
  return c >= 0x20 /* space */ && c < 0x80 && c !== 0x22 /* " */ && c !== 0x5c; /* \ */
}

let engine = JSON_MODULE === null ? null : new ScanEngine(JSON_MODULE);

/**
 * `filterResponseBytes` (response-filter-bytes.ts) in WebAssembly, for answers up to
 * WASM_MAX_RESPONSE bytes: the same response, or NEEDS_SCRIPT.
 */
export function filterInModule(
  filter: ResponseFilter | null,
  raw: Buffer,
  removed: string[] | null,
): Buffer | 'invalid' | ShapeBreach | typeof NEEDS_SCRIPT {
  if (engine === null) return NEEDS_SCRIPT;
  if (engine.full) engine = new ScanEngine(JSON_MODULE!);
  return engine.filter(filter, raw, removed);
}

/**
 * The fast check of a request body (safe-json.ts): CLEAN_ASCII or CLEAN when the module finds it
 * clean (the script scanner would accept it as well, if it is UTF-8), TO_SCRIPT to leave it to
 * the script scanner.
 */
export function requestBodyVerdict(body: Buffer, maxDepth: number, maxKeys: number): number {
  if (engine === null || body.length > WASM_MAX_RESPONSE || maxDepth > MAX_REQUEST_DEPTH) return TO_SCRIPT;
  if (engine.full) engine = new ScanEngine(JSON_MODULE!);
  return engine.scanRequest(body, maxDepth, maxKeys);
}

/** Deeper bounds than this are left to the script scanner (validation.maxJsonDepth is at most 256). */
const MAX_REQUEST_DEPTH = 1024;

/** `raw` without the [start, end) ranges in `cuts` (ordered, not overlapping). */
export function cutOut(raw: Buffer, cuts: readonly number[]): Buffer {
  let length = raw.length;
  for (let k = 0; k < cuts.length; k += 2) length -= cuts[k + 1]! - cuts[k]!;
  const out = Buffer.allocUnsafe(length);
  let from = 0;
  let to = 0;
  for (let k = 0; k < cuts.length; k += 2) {
    to += raw.copy(out, to, from, cuts[k]!);
    from = cuts[k + 1]!;
  }
  raw.copy(out, to, from);
  return out;
}
