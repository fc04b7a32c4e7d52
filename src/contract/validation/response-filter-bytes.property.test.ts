import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ANY_KIND,
  applyResponseFilter,
  compileResponseFilter,
  extraFilterFor,
  KIND_ARRAY,
  KIND_BOOLEAN,
  KIND_NULL,
  KIND_NUMBER,
  KIND_OBJECT,
  KIND_STRING,
  ShapeBreach,
  type ResponseFilter,
} from './response-filter.js';
import { filterResponseBytes, filterResponseBytesInScript } from './response-filter-bytes.js';
import { filterInModule, NEEDS_SCRIPT } from './json-wasm.js';

/*
 * Differential: the byte scanner against what it replaces, JSON.parse of the decoded text and
 * applyResponseFilter on the value, then the shape the filter keeps checked on what is left (the
 * kinds and required properties, walked on the value). Answers are generated as trees and written
 * out with random whitespace and escapes; filters from random schemas over the same names, typed
 * or not, with required properties and compositions.
 */

/** Names the schemas declare and the responses use, with the awkward ones among them. */
const NAMES = [
  'id',
  'name',
  'items',
  'owner',
  'a',
  'ab',
  'secret',
  'x-trace',
  'x-',
  '7',
  '10',
  '__proto__',
  'constructor',
  '',
  'é',
  'ключ',
  'a"b',
  'a\\b',
  '\n',
  'pass\u00e9',
] as const;
const PATTERNS = ['^x-', '^[0-9]+$', 'a', '^$', 'é'] as const;

type Tree =
  | { readonly kind: 'object'; readonly entries: readonly (readonly [string, Tree])[] }
  | { readonly kind: 'array'; readonly items: readonly Tree[] }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'token'; readonly text: string };

const key = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...NAMES) },
  { weight: 1, arbitrary: fc.string({ maxLength: 6, unit: 'binary' }) },
  {
    weight: 1,
    arbitrary: fc.string({
      maxLength: 3,
      unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
    }),
  },
);
const token = fc.oneof(
  fc.constantFrom(
    'true',
    'false',
    'null',
    '0',
    '-0',
    '1e5',
    '1E+5',
    '-1.5e-3',
    '0.25',
    '123456789012345678901',
  ),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => JSON.stringify(n)),
  fc.integer().map(String),
);

/** Unique keys, in the order V8 keeps them (integer-like keys first), as JSON.stringify would write them. */
function v8Order(entries: readonly (readonly [string, Tree])[]): (readonly [string, Tree])[] {
  const object: Record<string, Tree> = {};
  for (const [k, v] of entries) Object.defineProperty(object, k, { value: v, enumerable: true });
  return Object.keys(object).map((k) => [k, object[k]!] as const);
}

/**
 * Answers as JSON.stringify writes them (`unique`: each key once, in V8's order), or with keys in
 * any order and repeated, where JSON.parse keeps the last and lists integer-like keys first.
 */
function treeOf(unique: boolean): fc.Arbitrary<Tree> {
  const trees = fc.letrec<{ tree: Tree; object: Tree }>((tie) => ({
    tree: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      token.map((text): Tree => ({ kind: 'token', text })),
      fc.string({ maxLength: 8, unit: 'binary' }).map((value): Tree => ({ kind: 'string', value })),
      fc.array(tie('tree'), { maxLength: 4 }).map((items): Tree => ({ kind: 'array', items })),
      tie('object'),
    ),
    object: unique
      ? fc
          .uniqueArray(fc.tuple(key, tie('tree')), { maxLength: 6, selector: ([k]) => k })
          .map((entries): Tree => ({ kind: 'object', entries: v8Order(entries) }))
      : fc
          .array(fc.tuple(fc.constantFrom('a', 'id', '7', '1', 'x', 'owner'), tie('tree')), { maxLength: 6 })
          .map((entries): Tree => ({ kind: 'object', entries })),
  }));
  // Mostly an object at the top, as most responses are.
  return fc.oneof({ weight: 3, arbitrary: trees.object }, { weight: 1, arbitrary: trees.tree });
}
const tree = treeOf(true);

/** Schemas, typed often enough (and nullable) that responses break them at every level, or untyped. */
const schemas = fc.letrec<{ schema: unknown; object: unknown }>((tie) => ({
  schema: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(
      {},
      { type: 'string' },
      { type: 'object' },
      { type: ['number', 'null'] },
      { type: 'boolean' },
      { type: 'array' },
      { anyOf: [{ type: 'string' }, { type: 'integer' }] },
    ),
    tie('object'),
  ),
  object: fc
    .record(
      {
        type: fc.constantFrom('object', undefined, ['object', 'null'], 'array', ['array', 'object']),
        properties: fc.dictionary(fc.constantFrom(...NAMES), tie('schema'), { maxKeys: 5 }),
        required: fc.uniqueArray(fc.nat({ max: 7 }), { maxLength: 2 }),
        additionalProperties: fc.oneof(fc.constant(false), fc.constant(true), tie('schema')),
        patternProperties: fc.dictionary(fc.constantFrom(...PATTERNS), tie('schema'), { maxKeys: 2 }),
        items: tie('schema'),
        allOf: fc.array(tie('schema'), { maxLength: 2 }),
        anyOf: fc.array(tie('schema'), { minLength: 1, maxLength: 2 }),
      },
      { requiredKeys: [] },
    )
    .map(({ required, ...schema }) => {
      // Required names mostly among the declared ones: a name no schema declares is not checked.
      const declared = Object.keys(schema.properties ?? {});
      if (required === undefined) return schema;
      return { ...schema, required: [...new Set(required.map((k) => declared[k] ?? NAMES[k]!))] };
    }),
}));
const filter = fc
  .oneof({ weight: 4, arbitrary: schemas.object }, { weight: 1, arbitrary: schemas.schema })
  .map((s) => compileResponseFilter(s));

/** The same filter with no shape to keep: no kinds, nothing required (what cuts alone do). */
function shapeless(
  f: ResponseFilter | null,
  done = new Map<ResponseFilter, ResponseFilter>(),
): ResponseFilter | null {
  if (f === null) return null;
  const known = done.get(f);
  if (known !== undefined) return known;
  const out = { ...f, kinds: ANY_KIND, required: [] as string[] };
  done.set(f, out);
  out.properties =
    f.properties === null ? null : new Map([...f.properties].map(([k, c]) => [k, shapeless(c, done)]));
  out.extra = typeof f.extra === 'string' ? f.extra : shapeless(f.extra, done)!;
  out.patterns = f.patterns.map((p) => ({ pattern: p.pattern, filter: shapeless(p.filter, done) }));
  out.items = shapeless(f.items, done);
  return out;
}
/** Filters with their shape half the time, so that what is cut is tested on responses that keep it. */
const filterBothWays = fc.tuple(filter, fc.boolean()).map(([f, shaped]) => (shaped ? f : shapeless(f)));

/** A small deterministic generator, so one seed gives one way of writing a tree. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SPACES = [' ', '\n', '\t', '\r', '\r\n  '];
const SHORT_ESCAPES: Readonly<Record<string, string>> = {
  '"': '\\"',
  '\\': '\\\\',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};

/** JSON text for a tree, with whitespace between tokens and escapes in strings where `next` says. */
function write(value: Tree, next: () => number): string {
  const space = (): string => (next() < 0.15 ? SPACES[Math.floor(next() * SPACES.length)]! : '');
  const quote = (text: string): string => {
    let out = '"';
    for (const unit of text.split('')) {
      const code = unit.charCodeAt(0);
      const short = SHORT_ESCAPES[unit];
      if (short !== undefined && (code < 0x20 || code === 0x22 || code === 0x5c) && next() < 0.5)
        out += short;
      else if (code < 0x20 || code === 0x22 || code === 0x5c || next() < 0.1) {
        const hex = code.toString(16).padStart(4, '0');
        out += `\\u${next() < 0.5 ? hex : hex.toUpperCase()}`;
      } else if (unit === '/' && next() < 0.5) out += '\\/';
      else out += unit;
    }
    return `${out}"`;
  };
  const inner = (node: Tree): string => {
    switch (node.kind) {
      case 'token':
        return node.text;
      case 'string':
        return quote(node.value);
      case 'array':
        return `[${space()}${node.items.map((item) => inner(item) + space()).join(`,${space()}`)}]`;
      case 'object':
        return `{${space()}${node.entries
          .map(([k, v]) => `${quote(k)}${space()}:${space()}${inner(v)}${space()}`)
          .join(`,${space()}`)}}`;
    }
  };
  return space() + inner(value) + space();
}

/**
 * JSON.parse and applyResponseFilter, as checkResponseBody ran them before the scanner, then
 * whether what is left breaks the filter's shape.
 */
function reference(
  f: ResponseFilter | null,
  raw: Buffer,
): { valid: false } | { valid: true; changed: boolean; removed: string[]; value: unknown; breach: boolean } {
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch {
    return { valid: false };
  }
  const removed: string[] = [];
  const changed = f !== null && applyResponseFilter(f, value, removed);
  return { valid: true, changed, removed, value, breach: breaksShape(f, value) };
}

function kindOf(value: unknown): number {
  if (value === null) return KIND_NULL;
  if (Array.isArray(value)) return KIND_ARRAY;
  if (typeof value === 'object') return KIND_OBJECT;
  if (typeof value === 'string') return KIND_STRING;
  return typeof value === 'number' ? KIND_NUMBER : KIND_BOOLEAN;
}

/** The shape walked on a filtered value (removed members are undefined): kinds, then required members. */
function breaksShape(f: ResponseFilter | null, value: unknown): boolean {
  if (f === null) return false;
  if ((kindOf(value) & f.kinds) === 0) return true;
  if (Array.isArray(value)) return f.items !== null && value.some((item) => breaksShape(f.items, item));
  if (typeof value !== 'object' || value === null || f.properties === null) return false;
  const object = value as Record<string, unknown>;
  if (f.required.some((name) => !Object.hasOwn(object, name) || object[name] === undefined)) return true;
  return Object.keys(object).some((key) => {
    if (object[key] === undefined) return false;
    const child = f.properties!.has(key) ? f.properties!.get(key) : extraFilterFor(f, key);
    return child !== undefined && breaksShape(child, object[key]);
  });
}

/** Same value once parsed (JSON.stringify, so -0 and 0 compare as the response's bytes would). */
function sameValue(out: Buffer, value: unknown): boolean {
  return JSON.stringify(JSON.parse(out.toString('utf8'))) === JSON.stringify(value);
}

const INTERESTING = [...'{}[],:"\\0-.eE+ \t\nabtnfu']
  .map((c) => c.charCodeAt(0))
  .concat([0x00, 0x1f, 0x7f, 0xff, 0xc3, 0xe2]);

describe.each([
  ['filterResponseBytes (WebAssembly, script where keys need it)', filterResponseBytes],
  ['filterResponseBytesInScript', filterResponseBytesInScript],
])('%s against JSON.parse + applyResponseFilter', (_, filterResponseBytes) => {
  it('decides, records and cuts as the reference does, and refuses the answers whose shape it finds broken', () => {
    fc.assert(
      fc.property(tree, filterBothWays, fc.integer(), (t, f, seed) => {
        const raw = Buffer.from(write(t, random(seed)));
        const expected = reference(f, raw);
        const removed: string[] = [];
        const out = filterResponseBytes(f, raw, removed);
        expect(expected.valid).toBe(true);
        if (!expected.valid || out === 'invalid') throw new Error(`refused ${raw.toString('utf8')}`);
        expect(out instanceof ShapeBreach).toBe(expected.breach);
        if (out instanceof ShapeBreach) {
          expect(removed).toEqual([]);
          return;
        }
        expect(out !== raw).toBe(expected.changed);
        expect(removed).toEqual(expected.removed);
        expect(sameValue(out, expected.value)).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it('accepts exactly what JSON.parse accepts, mutated or cut short, and filters what it accepts alike', () => {
    const mutation = fc.tuple(
      fc.constantFrom('insert', 'replace', 'delete', 'truncate'),
      fc.nat(),
      fc.constantFrom(...INTERESTING),
    );
    fc.assert(
      fc.property(
        tree,
        filterBothWays,
        fc.integer(),
        fc.array(mutation, { minLength: 1, maxLength: 3 }),
        (t, f, seed, edits) => {
          let bytes = [...Buffer.from(write(t, random(seed)))];
          for (const [kind, at, byte] of edits) {
            const i = bytes.length === 0 ? 0 : at % (bytes.length + (kind === 'insert' ? 1 : 0));
            if (kind === 'insert') bytes.splice(i, 0, byte);
            else if (kind === 'replace') bytes[i] = byte;
            else if (kind === 'delete') bytes.splice(i, 1);
            else bytes = bytes.slice(0, i);
          }
          const raw = Buffer.from(bytes);
          const expected = reference(f, raw);
          const out = filterResponseBytes(f, raw, []);
          expect(out === 'invalid').toBe(!expected.valid);
          if (out === 'invalid' || !expected.valid) return;
          // Keys may now repeat: the record may differ (see filterResponseBytes), the value may not,
          // and every occurrence keeps the shape: a breach in the last is one, others count too.
          if (expected.breach) expect(out).toBeInstanceOf(ShapeBreach);
          if (!(out instanceof ShapeBreach)) expect(sameValue(out, expected.value)).toBe(true);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('leaves the same value as the reference when keys repeat or come in any order', () => {
    fc.assert(
      fc.property(treeOf(false), filterBothWays, fc.integer(), (t, f, seed) => {
        const raw = Buffer.from(write(t, random(seed)));
        const expected = reference(f, raw);
        const out = filterResponseBytes(f, raw, []);
        if (!expected.valid || out === 'invalid') throw new Error(`refused ${raw.toString('utf8')}`);
        if (expected.breach) expect(out).toBeInstanceOf(ShapeBreach);
        if (out instanceof ShapeBreach) return;
        expect(sameValue(out, expected.value)).toBe(true);
        if (out === raw) expect(expected.changed).toBe(false); // what the value loses, the bytes lose
      }),
      { numRuns: 200 },
    );
  });

  it('checks without a filter exactly as JSON.parse does', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 24 }).map(Buffer.from), (raw) => {
        const out = filterResponseBytes(null, raw, null);
        expect(out === 'invalid' ? out : out === raw).toBe(reference(null, raw).valid ? true : 'invalid');
      }),
      { numRuns: 300 },
    );
  });
});

/** A key the module reads as it is: printable ASCII, no quote, no backslash. */
const plainKey = fc
  .string({ maxLength: 6, unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) })
  .filter((k) => !k.includes('"') && !k.includes('\\'));

/** A filter with no patterns anywhere: the module decides every response with plain keys. */
function patternFree(f: ResponseFilter | null, seen = new Set<ResponseFilter>()): boolean {
  if (f === null || seen.has(f)) return true;
  seen.add(f);
  if (f.patterns.length > 0) return false;
  if (typeof f.extra === 'object' && !patternFree(f.extra, seen)) return false;
  for (const child of f.properties?.values() ?? []) if (!patternFree(child, seen)) return false;
  return patternFree(f.items, seen);
}

/** What a scanner answered, comparable: the bytes, 'invalid', or the breach and its reason. */
function outcomeOf(out: Buffer | 'invalid' | ShapeBreach): string {
  if (out === 'invalid') return out;
  return out instanceof ShapeBreach ? `breach: ${out.reason}` : out.toString('latin1');
}

describe('the WebAssembly scanner and the script one', () => {
  it('give the same bytes, the same breach and the same record whenever the module decides', () => {
    fc.assert(
      fc.property(
        tree,
        filterBothWays,
        fc.integer(),
        fc.nat(),
        fc.constantFrom(...INTERESTING),
        (t, f, seed, at, byte) => {
          const bytes = Buffer.from(write(t, random(seed)));
          const raw =
            seed % 2 === 0
              ? bytes
              : Buffer.concat([
                  bytes.subarray(0, at % (bytes.length + 1)),
                  Buffer.of(byte),
                  bytes.subarray(at % (bytes.length + 1)),
                ]);
          const inModule: string[] = [];
          const inScript: string[] = [];
          const out = filterInModule(f, raw, inModule);
          if (out === NEEDS_SCRIPT) return;
          const expected = filterResponseBytesInScript(f, raw, inScript);
          expect(outcomeOf(out)).toEqual(outcomeOf(expected));
          expect(out === raw).toBe(expected === raw);
          expect(inModule).toEqual(inScript);
        },
      ),
      { numRuns: 600 },
    );
  });

  it('leaves to the script only keys spelt with escapes or beyond ASCII, and patterns', () => {
    const plainTree: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
      value: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.string({ maxLength: 8 })),
        fc.array(tie('value'), { maxLength: 4 }),
        fc.dictionary(
          fc.oneof(fc.constantFrom('id', 'name', 'items', 'owner', 'secret', ''), plainKey),
          tie('value'),
          {
            maxKeys: 4,
          },
        ),
      ),
    })).value;
    fc.assert(
      fc.property(
        plainTree,
        filter.filter((f) => patternFree(f)),
        (value, f) => {
          const raw = Buffer.from(JSON.stringify(value));
          const out = filterInModule(f, raw, []);
          expect(out).not.toBe(NEEDS_SCRIPT);
          expect(out).not.toBe('invalid');
        },
      ),
      { numRuns: 300 },
    );
  });
});
