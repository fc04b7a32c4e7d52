import { isJsonObject, type JsonObject } from '../openapi-types.js';
import { NULLABLE_MARK } from './prepare-schema.js';

/**
 * What a response may carry, compiled from a response schema: the declared properties of each
 * object (and what to keep of each), the items of arrays. Everything else is undeclared: removed
 * in `strip` mode, a violation in `reject` mode (OWASP API3:2023, excessive data exposure). And
 * the shape it must keep in either mode: the JSON kind of each value the schema types, and the
 * properties each object requires, so that an error page cut down to `{}`, or an object where a
 * list is declared, is no valid response (OWASP API10:2023, unsafe consumption of APIs).
 */
export interface ResponseFilter {
  /** Where this node sits in the schema, for the record of removals ("", "owner", "items[]"). */
  readonly label: string;
  /** Declared properties: null value = keep that property's value as it is. null map = not an object schema. */
  readonly properties: ReadonlyMap<string, ResponseFilter | null> | null;
  /** Properties the schema leaves open: "drop" (none declared), "keep", or a filter for each. */
  readonly extra: 'drop' | 'keep' | ResponseFilter;
  readonly patterns: readonly { readonly pattern: RegExp; readonly filter: ResponseFilter | null }[];
  readonly items: ResponseFilter | null;
  /** The JSON kinds (KIND_* bits) a value may have here: ANY_KIND where the schema cannot tell. */
  readonly kinds: number;
  /** Declared properties an object must carry (writeOnly ones are no longer required, prepare-schema.ts). */
  readonly required: readonly string[];
}

/** JSON kinds as bits, each told by a value's first byte (RFC 8259 §3): see KIND_OF_BYTE. */
export const KIND_OBJECT = 1;
export const KIND_ARRAY = 2;
export const KIND_STRING = 4;
export const KIND_NUMBER = 8;
export const KIND_BOOLEAN = 16;
export const KIND_NULL = 32;
export const ANY_KIND = 63;

const KIND_NAMES = ['an object', 'an array', 'a string', 'a number', 'a boolean', 'null'] as const;
const TYPE_KINDS: Readonly<Record<string, number>> = {
  object: KIND_OBJECT,
  array: KIND_ARRAY,
  string: KIND_STRING,
  number: KIND_NUMBER,
  integer: KIND_NUMBER,
  boolean: KIND_BOOLEAN,
  null: KIND_NULL,
};

/** The kind of the value a byte starts: 0 for a byte that starts none. The WebAssembly scanner reads a copy. */
export const KIND_OF_BYTE = new Uint8Array(256).map((_, c) => {
  if (c === 0x7b /* { */) return KIND_OBJECT;
  if (c === 0x5b /* [ */) return KIND_ARRAY;
  if (c === 0x22 /* " */) return KIND_STRING;
  if (c === 0x2d /* - */ || (c >= 0x30 /* 0 */ && c <= 0x39) /* 9 */) return KIND_NUMBER;
  if (c === 0x74 /* t */ || c === 0x66 /* f */) return KIND_BOOLEAN;
  return c === 0x6e /* n */ ? KIND_NULL : 0;
});

const COMPOSITIONS = ['allOf', 'anyOf', 'oneOf'] as const;

/** Compiles a prepared (JSON Schema 2020-12, writeOnly removed) response schema; null = nothing to filter or check. */
export function compileResponseFilter(schema: unknown, label = ''): ResponseFilter | null {
  const branches = flattenBranches(schema);
  const properties = new Map<string, ResponseFilter | null>();
  let declaresProperties = false;
  let extra: ResponseFilter['extra'] = 'drop';
  const patterns: { pattern: RegExp; filter: ResponseFilter | null }[] = [];
  const itemSchemas: unknown[] = [];
  for (const branch of branches) {
    if (isJsonObject(branch.properties)) {
      declaresProperties = true;
      for (const [name, sub] of Object.entries(branch.properties)) {
        if (name === '__proto__') continue;
        const child = compileResponseFilter(sub, join(label, name));
        properties.set(name, properties.has(name) ? mergeKeep(properties.get(name)!, child) : child);
      }
    }
    extra = mergeExtra(extra, branch.additionalProperties, label);
    if (isJsonObject(branch.patternProperties)) {
      for (const [source, sub] of Object.entries(branch.patternProperties)) {
        patterns.push({
          pattern: new RegExp(source, 'u'),
          filter: compileResponseFilter(sub, join(label, '*')),
        });
      }
    }
    if (branch.items !== undefined) itemSchemas.push(branch.items);
  }
  const items = itemSchemas.length === 0 ? null : compileResponseFilter({ anyOf: itemSchemas }, `${label}[]`);
  // `type: object` that lists no properties declares none: like the request side, which refuses
  // them, the response keeps none (check-config warns). A schema with no type at all is not filtered.
  const objectFilter =
    declaresProperties || extra !== 'drop' || patterns.length > 0 || branches.some(isObjectTyped);
  // A schema no value can meet (`type: array` with an allOf branch of `type: object`) is a
  // mistake in the contract, not in the response: as for no type, any kind goes.
  const kinds = kindsOf(schema) || ANY_KIND;
  if (!objectFilter && items === null && kinds === ANY_KIND) return null;
  return {
    label,
    properties: objectFilter ? properties : null,
    extra: objectFilter ? extra : 'keep',
    patterns,
    items,
    kinds,
    required: objectFilter ? [...requiredOf(schema)].filter((name) => properties.has(name)) : [],
  };
}

/**
 * The kinds a value valid against `schema` can have, or more: its `type`, narrowed by every
 * allOf branch and by the union of its anyOf and oneOf branches; any kind where nothing says. An
 * OpenAPI 3.0 `nullable` without a type of its own admits null (NULLABLE_MARK).
 */
function kindsOf(schema: unknown): number {
  if (!isJsonObject(schema)) return ANY_KIND;
  let kinds = typeKinds(schema.type);
  if (Array.isArray(schema.allOf)) for (const branch of schema.allOf as unknown[]) kinds &= kindsOf(branch);
  for (const key of ['anyOf', 'oneOf'] as const) {
    const branches = schema[key];
    if (Array.isArray(branches) && branches.length > 0) {
      kinds &= branches.reduce((union: number, branch: unknown) => union | kindsOf(branch), 0);
    }
  }
  return schema[NULLABLE_MARK] === true ? kinds | KIND_NULL : kinds;
}

function typeKinds(type: unknown): number {
  if (typeof type === 'string') return TYPE_KINDS[type] ?? ANY_KIND;
  if (!Array.isArray(type) || type.length === 0) return ANY_KIND;
  return type.reduce((union: number, name: unknown) => union | typeKinds(name), 0);
}

/**
 * Properties every object valid against `schema` carries: its own `required`, those of every
 * allOf branch, and those all the anyOf (or oneOf) branches that admit an object share.
 */
function requiredOf(schema: unknown): Set<string> {
  const out = new Set<string>();
  if (!isJsonObject(schema)) return out;
  if (Array.isArray(schema.required)) {
    for (const name of schema.required as unknown[]) if (typeof name === 'string') out.add(name);
  }
  if (Array.isArray(schema.allOf)) {
    for (const branch of schema.allOf as unknown[]) for (const name of requiredOf(branch)) out.add(name);
  }
  for (const key of ['anyOf', 'oneOf'] as const) {
    const branches = Array.isArray(schema[key]) ? (schema[key] as unknown[]) : [];
    const shared = branches
      .filter((branch) => (kindsOf(branch) & KIND_OBJECT) !== 0)
      .map(requiredOf)
      .reduce<Set<string> | null>(
        (common, names) => (common === null ? names : intersect(common, names)),
        null,
      );
    for (const name of shared ?? []) out.add(name);
  }
  return out;
}

function intersect(a: ReadonlySet<string>, b: ReadonlySet<string>): Set<string> {
  return new Set([...a].filter((name) => b.has(name)));
}

/** The schema and every allOf/anyOf/oneOf branch under it: a property any of them declares is declared. */
function flattenBranches(schema: unknown): JsonObject[] {
  const out: JsonObject[] = [];
  const pending: unknown[] = [schema];
  while (pending.length > 0) {
    const next = pending.pop();
    if (!isJsonObject(next)) continue;
    out.push(next);
    for (const key of COMPOSITIONS) if (Array.isArray(next[key])) pending.push(...(next[key] as unknown[]));
  }
  return out;
}

/**
 * Two branches declare the same property: a branch that keeps it whole wins (it declares all of
 * it); otherwise what either admits is admitted, and what both require is required.
 */
function mergeKeep(a: ResponseFilter | null, b: ResponseFilter | null): ResponseFilter | null {
  if (a === null || b === null) return null;
  return compileMerged(a, b);
}

function compileMerged(a: ResponseFilter, b: ResponseFilter): ResponseFilter {
  const properties = new Map(a.properties ?? []);
  for (const [name, child] of b.properties ?? []) {
    properties.set(name, properties.has(name) ? mergeKeep(properties.get(name)!, child) : child);
  }
  const objectFilter = a.properties !== null && b.properties !== null;
  return {
    label: a.label,
    properties: objectFilter ? properties : null,
    extra: a.extra === 'keep' || b.extra === 'keep' ? 'keep' : a.extra === 'drop' ? b.extra : a.extra,
    patterns: [...a.patterns, ...b.patterns],
    items: a.items === null || b.items === null ? null : compileMerged(a.items, b.items),
    kinds: a.kinds | b.kinds,
    required: objectFilter ? a.required.filter((name) => b.required.includes(name)) : [],
  };
}

function mergeExtra(
  current: ResponseFilter['extra'],
  additional: unknown,
  label: string,
): ResponseFilter['extra'] {
  if (current === 'keep' || additional === undefined || additional === false) return current;
  if (additional === true) return 'keep';
  const filter = compileResponseFilter(additional, join(label, '*'));
  return filter === null ? 'keep' : filter;
}

function isObjectTyped(schema: JsonObject): boolean {
  return schema.type === 'object' || (Array.isArray(schema.type) && schema.type.includes('object'));
}

function join(label: string, name: string): string {
  return label === '' ? name : `${label}.${name}`;
}

/** A response that is JSON, but not of the shape its schema declares: why, for the journey. */
export class ShapeBreach {
  readonly reason: string;

  constructor(reason: string) {
    this.reason = reason;
  }
}

/** Removals recorded per answer at most: enough to fix the upstream, bounded for the log. */
export const MAX_RECORDED = 20;

/**
 * Removes (sets to undefined, which JSON.stringify omits), in place, what `filter` does not declare from a value `JSON.parse` just built (so no
 * one else holds it). Returns whether anything was removed; `removed` collects what, by schema
 * location ("owner.passwordHash"), when it is not null. Walks as deep as the schema, not the data.
 */
export function applyResponseFilter(
  filter: ResponseFilter,
  value: unknown,
  removed: string[] | null,
): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) {
    if (filter.items === null) return false;
    let changed = false;
    for (let i = 0; i < value.length; i += 1) {
      if (applyResponseFilter(filter.items, value[i], removed)) changed = true;
    }
    return changed;
  }
  return filter.properties === null
    ? false
    : filterObject(filter, filter.properties, value as Record<string, unknown>, removed);
}

function filterObject(
  filter: ResponseFilter,
  properties: ReadonlyMap<string, ResponseFilter | null>,
  object: Record<string, unknown>,
  removed: string[] | null,
): boolean {
  let changed = false;
  for (const key in object) {
    const child = properties.get(key);
    if (child !== undefined) {
      if (child !== null && applyResponseFilter(child, object[key], removed)) changed = true;
      continue;
    }
    const keep = extraFilterFor(filter, key);
    if (keep === undefined) {
      // Not `delete`: that turns the object into a slow dictionary; JSON.stringify leaves out
      // undefined members (ECMA-262 SerializeJSONObject), so the response is the same.
      object[key] = undefined;
      changed = true;
      if (removed !== null && removed.length < MAX_RECORDED) removed.push(removalLabel(filter, key));
    } else if (keep !== null && applyResponseFilter(keep, object[key], removed)) changed = true;
  }
  return changed;
}

/** For an undeclared key: undefined = remove it, null = keep it whole, a filter = keep it filtered. */
export function extraFilterFor(filter: ResponseFilter, key: string): ResponseFilter | null | undefined {
  for (const { pattern, filter: sub } of filter.patterns) if (pattern.test(key)) return sub;
  if (filter.extra === 'drop') return undefined;
  return filter.extra === 'keep' ? null : filter.extra;
}

/**
 * Why a value whose first byte is `c` breaks `filter`'s kinds, or null when it does not (or
 * when `c` starts no value: the response is then no JSON, which says more).
 */
export function kindBreach(filter: ResponseFilter, c: number): string | null {
  const kind = KIND_OF_BYTE[c]!;
  if (kind === 0 || (kind & filter.kinds) !== 0) return null;
  const where = filter.label === '' ? 'the top' : filter.label;
  return `upstream answer has ${kindNames(kind)} at ${where}, where its schema declares ${kindNames(filter.kinds)}`;
}

/** Why an object of `filter` that lacks its required property `name` breaks it. */
export function requiredBreach(filter: ResponseFilter, name: string): string {
  return `upstream answer lacks the required ${removalLabel(filter, name)}`;
}

function kindNames(kinds: number): string {
  return KIND_NAMES.filter((_, bit) => (kinds & (1 << bit)) !== 0).join(' or ');
}

/** How a removed key is recorded: by schema location ("owner.passwordHash"). */
export function removalLabel(filter: ResponseFilter, key: string): string {
  return join(filter.label, shortened(key));
}

/** Keys come from the upstream: bounded before they reach a log line. */
function shortened(key: string): string {
  return key.length <= 64 ? key : `${key.slice(0, 64)}…`;
}
