import { isJsonObject, type JsonObject } from '../openapi-types.js';

/**
 * What an answer may carry, compiled from a response schema: the declared properties of each
 * object (and what to keep of each), the items of arrays. Everything else is undeclared: removed
 * in `strip` mode, a violation in `reject` mode (OWASP API3:2023, excessive data exposure).
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
}

const COMPOSITIONS = ['allOf', 'anyOf', 'oneOf'] as const;

/** Compiles a prepared (JSON Schema 2020-12, writeOnly removed) response schema; null = nothing to filter. */
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
  // them, the answer keeps none (check-config warns). A schema with no type at all is not filtered.
  const objectFilter =
    declaresProperties || extra !== 'drop' || patterns.length > 0 || branches.some(isObjectTyped);
  if (!objectFilter && items === null) return null;
  return {
    label,
    properties: objectFilter ? properties : null,
    extra: objectFilter ? extra : 'keep',
    patterns,
    items,
  };
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

/** Two branches declare the same property: a branch that keeps it whole wins (it declares all of it). */
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
      // undefined members (ECMA-262 SerializeJSONObject), so the answer is the same.
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

/** How a removed key is recorded: by schema location ("owner.passwordHash"). */
export function removalLabel(filter: ResponseFilter, key: string): string {
  return join(filter.label, shortened(key));
}

/** Keys come from the upstream: bounded before they reach a log line. */
function shortened(key: string): string {
  return key.length <= 64 ? key : `${key.slice(0, 64)}…`;
}
