import type { ValidateFunction } from 'ajv';
import { ContractError, toJsonPointer } from '../contract-error.js';
import { isJsonObject, type JsonObject } from '../openapi-types.js';
import { describeAjvError, type FieldError } from './messages.js';
import { prepareSchema, type SchemaDialect } from './prepare-schema.js';
import type { SchemaCompiler } from './schema-compiler.js';
import { parseBoundedJson, JsonRefusal, type JsonBounds } from './safe-json.js';

export type ParameterLocation = 'path' | 'query' | 'header' | 'cookie';

/** How the text of a parameter becomes the value its schema describes. */
type ScalarKind = 'string' | 'integer' | 'number' | 'boolean';

/** One declared parameter, compiled: where to read it, how to convert it, how to check it. */
export interface CompiledParameter {
  readonly name: string;
  /** The lowercase header name, or the name as declared for the other locations. */
  readonly key: string;
  readonly in: ParameterLocation;
  /** What the client is told: "query.limit", "path.accountId", "header.idempotency-key". */
  readonly field: string;
  readonly required: boolean;
  /** null: a scalar; else the separator of a non-exploded array ("," " " "|"), or "" when exploded. */
  readonly arraySeparator: string | null;
  readonly kind: ScalarKind;
  /** A `content: application/json` parameter: its text is a JSON document. */
  readonly json: boolean;
  readonly validate: ValidateFunction;
}

/**
 * Header parameters OpenAPI says to ignore (Parameter Object, `name`): they are described by
 * other parts of the contract (content types, security schemes).
 */
const IGNORED_HEADERS = new Set(['accept', 'content-type', 'authorization']);

const SEPARATORS: Readonly<Record<string, string>> = {
  form: ',',
  simple: ',',
  spaceDelimited: ' ',
  pipeDelimited: '|',
};

export function compileParameters(
  parameters: readonly JsonObject[],
  dialect: SchemaDialect,
  compiler: SchemaCompiler,
  where: { readonly file: string; readonly pointer: readonly string[] },
): CompiledParameter[] {
  const compiled: CompiledParameter[] = [];
  for (const parameter of parameters) {
    const location = parameter.in;
    const name = String(parameter.name);
    if (location !== 'path' && location !== 'query' && location !== 'header' && location !== 'cookie')
      continue;
    if (location === 'header' && IGNORED_HEADERS.has(name.toLowerCase())) continue;
    const pointer = toJsonPointer([...where.pointer, 'parameters', `${location}:${name}`]);
    compiled.push(compileParameter(parameter, location, name, dialect, compiler, where.file, pointer));
  }
  return compiled;
}

function compileParameter(
  parameter: JsonObject,
  location: ParameterLocation,
  name: string,
  dialect: SchemaDialect,
  compiler: SchemaCompiler,
  file: string,
  pointer: string,
): CompiledParameter {
  const json =
    isJsonObject(parameter.content) && Object.keys(parameter.content).some((t) => t.includes('json'));
  const rawSchema = json ? firstContentSchema(parameter.content as JsonObject) : parameter.schema;
  const schema = prepareSchema(rawSchema ?? {}, dialect, 'request');
  const types = typesOf(schema);
  const style =
    typeof parameter.style === 'string'
      ? parameter.style
      : location === 'query' || location === 'cookie'
        ? 'form'
        : 'simple';
  if (!json && types.includes('object')) {
    throw new ContractError(
      file,
      pointer,
      `object parameters (style ${style}) are not supported by validation: describe the parameter as scalars, or as content: application/json`,
    );
  }
  const isArray = !json && types.includes('array');
  const explode = typeof parameter.explode === 'boolean' ? parameter.explode : style === 'form';
  const itemSchema = isArray && isJsonObject(schema) ? schema.items : schema;
  return {
    name,
    key: location === 'header' ? name.toLowerCase() : name,
    in: location,
    field: `${location}.${location === 'header' ? name.toLowerCase() : name}`,
    required: location === 'path' || parameter.required === true,
    arraySeparator: isArray ? (location === 'query' && explode ? '' : (SEPARATORS[style] ?? ',')) : null,
    kind: scalarKind(typesOf(itemSchema)),
    json,
    validate: compileOrExplain(compiler, schema, file, pointer),
  };
}

function firstContentSchema(content: JsonObject): unknown {
  for (const media of Object.values(content)) if (isJsonObject(media)) return media.schema;
  return undefined;
}

export function compileOrExplain(
  compiler: SchemaCompiler,
  schema: unknown,
  file: string,
  pointer: string,
): ValidateFunction {
  try {
    return compiler.compile(schema);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new ContractError(file, pointer, `the schema cannot be compiled: ${reason}`);
  }
}

function typesOf(schema: unknown): string[] {
  if (!isJsonObject(schema)) return [];
  if (typeof schema.type === 'string') return [schema.type];
  return Array.isArray(schema.type) ? schema.type.filter((t): t is string => typeof t === 'string') : [];
}

function scalarKind(types: readonly string[]): ScalarKind {
  for (const type of types) {
    if (type === 'integer' || type === 'number' || type === 'boolean' || type === 'string') return type;
  }
  return 'string';
}

/** RFC 8259 §6 number syntax: the only text converted to a number; "0x10", " 1", "1e" stay text. */
const NUMBER_TEXT = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;

/**
 * Text → the value the schema describes, for the scalar kinds only. Text that does not look
 * like the kind stays text, so the schema refuses it with its own rule ("must be an integer");
 * nothing is ever turned into an object or an array here.
 */
export function convertScalar(text: string, kind: ScalarKind): unknown {
  if (kind === 'string') return text;
  if (kind === 'boolean') return text === 'true' ? true : text === 'false' ? false : text;
  return NUMBER_TEXT.test(text) ? Number(text) : text;
}

const PARAMETER_JSON_BOUNDS: JsonBounds = { maxDepth: 8, maxKeys: 64 };

/**
 * Converts and checks one parameter's text (or texts, for an exploded query array); pushes a
 * FieldError when it is refused.
 */
export function checkParameter(
  parameter: CompiledParameter,
  raw: string | string[],
  errors: FieldError[],
): void {
  let value: unknown;
  if (parameter.json) {
    try {
      value = parseBoundedJson(
        Buffer.from(typeof raw === 'string' ? raw : raw.join(',')),
        PARAMETER_JSON_BOUNDS,
      );
    } catch (err) {
      errors.push({
        field: parameter.field,
        rule: err instanceof JsonRefusal ? err.rule : 'must be valid JSON',
      });
      return;
    }
  } else if (parameter.arraySeparator === null) {
    value = convertScalar(typeof raw === 'string' ? raw : raw[0]!, parameter.kind);
  } else {
    const items = typeof raw !== 'string' ? raw : raw === '' ? [] : splitList(raw, parameter);
    const converted: unknown[] = new Array(items.length);
    for (let i = 0; i < items.length; i += 1) converted[i] = convertScalar(items[i]!, parameter.kind);
    value = converted;
  }
  if (parameter.validate(value)) return;
  errors.push(describeAjvError(parameter.validate.errors![0]!, parameter.field));
}

function splitList(raw: string, parameter: CompiledParameter): string[] {
  const parts = raw.split(parameter.arraySeparator || ',');
  // Header lists allow optional whitespace around commas (RFC 9110 §5.6.1).
  if (parameter.in === 'header') for (let i = 0; i < parts.length; i += 1) parts[i] = parts[i]!.trim();
  return parts;
}
