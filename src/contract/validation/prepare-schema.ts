import { isJsonObject, type JsonObject } from '../openapi-types.js';

/** The schema dialect of a document: OpenAPI 3.0's JSON Schema subset, or 3.1's JSON Schema 2020-12. */
export type SchemaDialect = '3.0' | '3.1';

/**
 * Which side of the exchange a schema describes. OpenAPI (Schema Object, readOnly/writeOnly):
 * a readOnly property is relevant only in responses, a writeOnly one only in requests.
 */
export type SchemaDirection = 'request' | 'response';

/** Marks the stand-in for a readOnly property in a request schema, so its refusal reads "is read-only". */
export const READ_ONLY_MARK = 'x-gatehouse-read-only';

/**
 * Marks an OpenAPI 3.0 schema that says `nullable: true` with no `type` of its own (the
 * `nullable` + `allOf: [$ref]` idiom): OpenAPI 3.0.3 gives it no effect, and the validators
 * follow that, but the response filter, which only refuses what is plainly wrong, admits null.
 */
export const NULLABLE_MARK = 'x-gatehouse-nullable';

export function dialectOf(openapiVersion: string): SchemaDialect {
  return openapiVersion.startsWith('3.0.') ? '3.0' : '3.1';
}

const SCHEMA_MAPS = ['properties', 'patternProperties', 'dependentSchemas', '$defs'] as const;
const SCHEMA_LISTS = ['allOf', 'anyOf', 'oneOf', 'prefixItems'] as const;
const SCHEMA_VALUES = [
  'additionalProperties',
  'unevaluatedProperties',
  'items',
  'unevaluatedItems',
  'contains',
  'propertyNames',
  'not',
  'if',
  'then',
  'else',
] as const;
const COMPOSITIONS = ['allOf', 'anyOf', 'oneOf'] as const;
/**
 * Identifiers would collide between the many validators compiled into one ajv instance, and
 * the OpenAPI-only annotations are no JSON Schema keyword; none of them constrains a value.
 */
const DROPPED_KEYWORDS = new Set([
  '$schema',
  '$id',
  '$anchor',
  '$dynamicAnchor',
  '$comment',
  'nullable',
  'discriminator',
  'xml',
  'externalDocs',
  'example',
]);

/**
 * Turns an OpenAPI Schema Object (already dereferenced) into a JSON Schema 2020-12 schema for
 * one direction of the exchange:
 * - 3.0 `nullable: true` becomes a "null" type (and enum member), and the boolean
 *   `exclusiveMinimum`/`exclusiveMaximum` of draft 4 become the numeric ones (OpenAPI 3.0.3
 *   §4.7.24.1 vs JSON Schema 2020-12 Validation §6.2);
 * - request: readOnly properties are refused and no longer required; objects that do not say
 *   otherwise are closed (`additionalProperties: false`, or `unevaluatedProperties: false` when
 *   allOf/anyOf/oneOf spread the properties over several schemas): no mass assignment;
 * - response: writeOnly properties are removed (a password is never echoed back).
 */
export function prepareSchema(schema: unknown, dialect: SchemaDialect, direction: SchemaDirection): unknown {
  return new SchemaPreparer(dialect, direction).prepare(schema, false);
}

class SchemaPreparer {
  readonly #dialect: SchemaDialect;
  readonly #direction: SchemaDirection;
  /** Dereferencing shares one object between many places: each is prepared once per role. */
  readonly #done = [new WeakMap<object, unknown>(), new WeakMap<object, unknown>()] as const;

  constructor(dialect: SchemaDialect, direction: SchemaDirection) {
    this.#dialect = dialect;
    this.#direction = direction;
  }

  /** `member`: the schema is one branch of allOf/anyOf/oneOf, so its parent decides closing. */
  prepare(schema: unknown, member: boolean): unknown {
    if (!isJsonObject(schema)) return schema; // true / false schemas
    const cache = this.#done[member ? 1 : 0];
    const cached = cache.get(schema);
    if (cached !== undefined) return cached;
    const out = this.#prepareObject(schema, member);
    cache.set(schema, out);
    return out;
  }

  #prepareObject(schema: JsonObject, member: boolean): JsonObject {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(schema)) {
      if (DROPPED_KEYWORDS.has(key) || key.startsWith('x-') || key === '__proto__') continue;
      out[key] = this.#prepareKeyword(key, value);
    }
    if (this.#dialect === '3.0') convertDraft4Bounds(schema, out);
    if (this.#dialect === '3.0' && schema.nullable === true) allowNull(out);
    this.#applyDirection(out);
    if (this.#direction === 'request' && !member && isOpenObject(out)) closeObject(out);
    return out;
  }

  #prepareKeyword(key: string, value: unknown): unknown {
    if ((SCHEMA_MAPS as readonly string[]).includes(key) && isJsonObject(value)) {
      return Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, this.prepare(sub, false)]));
    }
    if ((SCHEMA_LISTS as readonly string[]).includes(key) && Array.isArray(value)) {
      const member = (COMPOSITIONS as readonly string[]).includes(key);
      return value.map((sub: unknown) => this.prepare(sub, member));
    }
    if ((SCHEMA_VALUES as readonly string[]).includes(key)) return this.prepare(value, false);
    return value;
  }

  /** readOnly / writeOnly apply to the properties that carry them (OpenAPI 3.0 §4.7.24.1). */
  #applyDirection(out: Record<string, unknown>): void {
    const properties = out.properties;
    if (!isJsonObject(properties)) return;
    const flag = this.#direction === 'request' ? 'readOnly' : 'writeOnly';
    const hidden = Object.keys(properties).filter(
      (name) => isJsonObject(properties[name]) && properties[name][flag] === true,
    );
    if (hidden.length === 0) return;
    const kept = Object.entries(properties).filter(([name]) => !hidden.includes(name));
    if (this.#direction === 'request') {
      kept.push(...hidden.map((name) => [name, { not: {}, [READ_ONLY_MARK]: true }] as [string, unknown]));
    }
    out.properties = Object.fromEntries(kept);
    if (Array.isArray(out.required))
      out.required = out.required.filter((name: unknown) => !hidden.includes(String(name)));
  }
}

/** Draft 4 booleans (OpenAPI 3.0) → the numeric bounds of JSON Schema 2020-12. */
function convertDraft4Bounds(schema: JsonObject, out: Record<string, unknown>): void {
  for (const [exclusive, inclusive] of [
    ['exclusiveMinimum', 'minimum'],
    ['exclusiveMaximum', 'maximum'],
  ] as const) {
    if (typeof schema[exclusive] !== 'boolean') continue;
    delete out[exclusive];
    if (schema[exclusive] === true && typeof schema[inclusive] === 'number') {
      out[exclusive] = schema[inclusive];
      delete out[inclusive];
    }
  }
}

function allowNull(out: Record<string, unknown>): void {
  if (typeof out.type === 'string') out.type = [out.type, 'null'];
  else if (out.type === undefined) out[NULLABLE_MARK] = true;
  if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...(out.enum as unknown[]), null];
}

/** An object schema that says nothing about properties beyond those it lists. */
function isOpenObject(out: Record<string, unknown>): boolean {
  const objectish =
    out.type === 'object' ||
    (Array.isArray(out.type) && out.type.includes('object')) ||
    isJsonObject(out.properties) ||
    COMPOSITIONS.some((key) => Array.isArray(out[key]) && (out[key] as unknown[]).some(isObjectBranch));
  return (
    objectish &&
    out.additionalProperties === undefined &&
    out.unevaluatedProperties === undefined &&
    out.patternProperties === undefined
  );
}

function isObjectBranch(branch: unknown): boolean {
  return isJsonObject(branch) && (branch.type === 'object' || isJsonObject(branch.properties));
}

function closeObject(out: Record<string, unknown>): void {
  const composed = COMPOSITIONS.some((key) => Array.isArray(out[key]));
  if (composed) out.unevaluatedProperties = false;
  else out.additionalProperties = false;
}
