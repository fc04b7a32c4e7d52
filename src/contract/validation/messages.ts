import type { ErrorObject } from 'ajv';
import { isJsonObject, type JsonObject } from '../openapi-types.js';
import { READ_ONLY_MARK } from './prepare-schema.js';
import { SAFE_NAME } from './safe-json.js';

/** One validation problem as the client sees it: which field, which rule; never the value sent. */
export interface FieldError {
  readonly field: string;
  readonly rule: string;
}

/** Enum members listed in a rule; past this the rule says how many there are. */
const MAX_LISTED_VALUES = 10;

/**
 * Words one ajv error for the client from the contract (the failing schema), never from ajv's
 * message or the failing data: `amount: must be an integer ≥ 1`. `prefix` names where the value
 * came from ("" for the body root's fields, "query.limit" for a parameter).
 */
export function describeAjvError(error: ErrorObject, prefix: string): FieldError {
  const at = fieldPath(prefix, error.instancePath);
  const params = error.params as Record<string, unknown>;
  const schema: JsonObject = isJsonObject(error.parentSchema) ? error.parentSchema : {};
  switch (error.keyword) {
    case 'required':
      return { field: join(at, nameOrNull(params.missingProperty) ?? '*'), rule: 'is required' };
    case 'additionalProperties':
    case 'unevaluatedProperties': {
      const name = nameOrNull(params.additionalProperty ?? params.unevaluatedProperty);
      return name === null
        ? { field: at || 'body', rule: 'has a property that is not allowed' }
        : { field: join(at, name), rule: 'is not allowed' };
    }
    case 'not':
      return {
        field: at || 'body',
        rule: schema[READ_ONLY_MARK] === true ? 'is read-only' : 'is not allowed',
      };
    case 'false schema':
      return { field: at || 'body', rule: 'is not allowed' };
    default:
      return { field: at || 'body', rule: ruleFor(error.keyword, schema, params) };
  }
}

function ruleFor(keyword: string, schema: JsonObject, params: Record<string, unknown>): string {
  switch (keyword) {
    case 'type':
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
    case 'minLength':
    case 'maxLength':
      return describeType(schema);
    case 'multipleOf':
      return `must be a multiple of ${String(schema.multipleOf)}`;
    case 'pattern':
      return `must match the pattern ${String(schema.pattern)}`;
    case 'format':
      return `must be a valid ${String(params.format)}`;
    case 'enum':
      return describeEnum(schema.enum);
    case 'const':
      return `must be ${JSON.stringify(schema.const)}`;
    case 'minItems':
      return `must have at least ${String(schema.minItems)} items`;
    case 'maxItems':
      return `must have at most ${String(schema.maxItems)} items`;
    case 'uniqueItems':
      return 'must not repeat items';
    case 'minProperties':
      return `must have at least ${String(schema.minProperties)} properties`;
    case 'maxProperties':
      return `must have at most ${String(schema.maxProperties)} properties`;
    case 'oneOf':
    case 'anyOf':
      return 'must match one of the allowed forms';
    case 'dependentRequired':
      return `requires ${String(params.missingProperty)} when ${String(params.property)} is present`;
    default:
      return 'is not valid';
  }
}

/** The whole constraint on a scalar, as the contract states it: "must be an integer ≥ 1 and ≤ 100". */
export function describeType(schema: JsonObject): string {
  const types = typesOf(schema.type);
  const base =
    types.length === 0 ? 'must be a valid value' : `must be ${types.map(withArticle).join(' or ')}`;
  const bounds: string[] = [];
  if (types.includes('integer') || types.includes('number')) {
    if (typeof schema.minimum === 'number') bounds.push(`≥ ${schema.minimum}`);
    if (typeof schema.exclusiveMinimum === 'number') bounds.push(`> ${schema.exclusiveMinimum}`);
    if (typeof schema.maximum === 'number') bounds.push(`≤ ${schema.maximum}`);
    if (typeof schema.exclusiveMaximum === 'number') bounds.push(`< ${schema.exclusiveMaximum}`);
  }
  if (types.includes('string')) {
    const min = typeof schema.minLength === 'number' ? schema.minLength : 0;
    const max = typeof schema.maxLength === 'number' ? schema.maxLength : null;
    if (max !== null)
      bounds.push(min > 0 ? `of ${min} to ${max} characters` : `of at most ${max} characters`);
    else if (min > 0) bounds.push(`of at least ${min} characters`);
  }
  return bounds.length === 0 ? base : `${base} ${bounds.join(' and ')}`;
}

function typesOf(type: unknown): string[] {
  if (typeof type === 'string') return [type];
  return Array.isArray(type) ? type.filter((t): t is string => typeof t === 'string') : [];
}

function withArticle(type: string): string {
  if (type === 'null') return 'null';
  return (type === 'integer' || type === 'object' || type === 'array' ? 'an ' : 'a ') + type;
}

function describeEnum(values: unknown): string {
  if (!Array.isArray(values)) return 'must be one of the allowed values';
  if (values.length > MAX_LISTED_VALUES) return `must be one of the ${values.length} allowed values`;
  return `must be one of: ${values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ')}`;
}

/**
 * JSON pointer (RFC 6901) → `items[0].sku`. A segment the client chose (a key of a map) is
 * shown only when it is a plain name; otherwise it becomes `*`.
 */
function fieldPath(prefix: string, pointer: string): string {
  if (pointer === '') return prefix;
  let out = prefix;
  for (const raw of pointer.slice(1).split('/')) {
    const segment = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (/^(0|[1-9][0-9]{0,8})$/.test(segment)) out += `[${segment}]`;
    else out = join(out, SAFE_NAME.test(segment) ? segment : '*');
  }
  return out;
}

function join(path: string, name: string): string {
  return path === '' ? name : `${path}.${name}`;
}

function nameOrNull(value: unknown): string | null {
  return typeof value === 'string' && SAFE_NAME.test(value) ? value : null;
}

/** Operator-facing summary of field errors, for the journey record and the log. */
export function summarise(where: string, errors: readonly FieldError[]): string {
  return `${where}: ${errors.map((e) => `${e.field}: ${e.rule}`).join('; ')}`;
}
