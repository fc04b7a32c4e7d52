import type { ValidateFunction } from 'ajv';
import { GatehouseError } from '../../errors/gatehouse-error.js';
import { toJsonPointer } from '../contract-error.js';
import type { Operation } from '../operation.js';
import { isJsonObject, type JsonObject } from '../openapi-types.js';
import type { RouteMatch } from '../route-table.js';
import { charsetOf, isJsonMediaType, matchMediaType, mediaTypeEssence } from './media-type.js';
import { describeAjvError, summarise, type FieldError } from './messages.js';
import { checkParameter, compileOrExplain, compileParameters, type CompiledParameter } from './parameters.js';
import { prepareSchema, type SchemaDialect } from './prepare-schema.js';
import type { SchemaCompiler } from './schema-compiler.js';
import { JsonRefusal, parseBoundedJson, SAFE_NAME, type JsonBounds } from './safe-json.js';

/** How one declared request media type is checked. */
interface BodyMedia {
  readonly json: boolean;
  /** null: a JSON body with no schema (parsed with bounds only), or a non-JSON type (not parsed). */
  readonly validate: ValidateFunction | null;
  readonly bounds: JsonBounds;
}

export interface RequestValidationLimits {
  readonly maxJsonDepth: number;
  readonly maxJsonKeys: number;
}

/** OpenAPI extension: the operation accepts query parameters it does not declare (default: refused). */
export const ALLOW_UNKNOWN_QUERY = 'x-gatehouse-allow-unknown-query';
/** OpenAPI extension: a smaller body limit for this operation than the configuration's. */
export const MAX_BODY_BYTES = 'x-gatehouse-max-body-bytes';

const UNKNOWN_QUERY_RULE = 'is not a declared parameter';

/**
 * A request's headers as check() reads them: one value by lower-case name, repeated fields
 * joined as RFC 9110 §5.3 says (the gateway's FrontRequest looks a name up without building a
 * record of every header).
 */
export interface HeaderSource {
  header(name: string): string | undefined;
}

/**
 * Everything the validate stage checks for one operation, compiled once at load: parameters of
 * the four locations, the Content-Type, and the body. `check` throws a GatehouseError naming
 * the fields; it never changes the request (what was validated is what the upstream receives).
 */
export class RequestValidator {
  readonly #path: readonly CompiledParameter[];
  readonly #query: readonly CompiledParameter[];
  readonly #queryIndex: ReadonlyMap<string, number>;
  readonly #headers: readonly CompiledParameter[];
  readonly #cookies: readonly CompiledParameter[];
  readonly #allowUnknownQuery: boolean;
  readonly #hasParameters: boolean;
  /** null: the operation declares no request body, so none is accepted. */
  readonly #media: ReadonlyMap<string, BodyMedia> | null;
  readonly #mediaList: string;
  readonly #bodyRequired: boolean;
  readonly #maxBodyBytes: number | null;
  /** The last Content-Type a body passed with, and its entry: clients of one operation mostly repeat one. */
  #acceptedType: string | null = null;
  #acceptedEntry: BodyMedia | null = null;

  constructor(
    operation: Operation,
    dialect: SchemaDialect,
    compiler: SchemaCompiler,
    file: string,
    limits: RequestValidationLimits,
  ) {
    const pointer = ['paths', operation.documentPath, operation.method.toLowerCase()];
    const parameters = compileParameters(operation.parameters, dialect, compiler, { file, pointer });
    this.#path = parameters.filter((p) => p.in === 'path');
    this.#query = parameters.filter((p) => p.in === 'query');
    this.#queryIndex = new Map(this.#query.map((p, i) => [p.name, i]));
    this.#headers = parameters.filter((p) => p.in === 'header');
    this.#cookies = parameters.filter((p) => p.in === 'cookie');
    this.#hasParameters = parameters.length > 0;
    const op = operation.operation;
    this.#allowUnknownQuery = op[ALLOW_UNKNOWN_QUERY] === true;
    this.#maxBodyBytes = typeof op[MAX_BODY_BYTES] === 'number' ? op[MAX_BODY_BYTES] : null;
    const requestBody = isJsonObject(op.requestBody) ? op.requestBody : null;
    this.#bodyRequired = requestBody?.required === true;
    this.#media =
      requestBody === null
        ? null
        : compileBodyMedia(requestBody, dialect, compiler, file, [...pointer, 'requestBody'], limits);
    this.#mediaList = this.#media === null ? '' : [...this.#media.keys()].join(', ');
  }

  check(route: RouteMatch, headers: HeaderSource, body: Buffer | null): void {
    if (this.#hasParameters || route.query !== '') this.#checkParameters(route, headers);
    if (body !== null && body.length > 0) this.#checkBody(headers.header('content-type'), body);
    else if (this.#bodyRequired) refuseBody('body is missing', { field: 'body', rule: 'is required' });
  }

  #checkParameters(route: RouteMatch, headers: HeaderSource): void {
    const errors: FieldError[] = [];
    for (const parameter of this.#path) checkParameter(parameter, route.params[parameter.name]!, errors);
    if (route.query !== '' || this.#query.length > 0) this.#checkQuery(route.query, errors);
    for (const parameter of this.#headers) {
      const value = headers.header(parameter.key);
      if (value !== undefined) checkParameter(parameter, value, errors);
      else if (parameter.required) errors.push({ field: parameter.field, rule: 'is required' });
    }
    if (this.#cookies.length > 0) this.#checkCookies(headers.header('cookie'), errors);
    if (errors.length > 0) {
      throw new GatehouseError('GH_VALIDATE_PARAMETER', summarise('parameters', errors), undefined, errors);
    }
  }

  /**
   * `application/x-www-form-urlencoded` pairs (WHATWG URL §5.1: "+" is a space), as the
   * frameworks behind the gateway read them. A non-array parameter given twice is refused: which
   * copy wins differs between frameworks (HTTP parameter pollution).
   */
  #checkQuery(query: string, errors: FieldError[]): void {
    const declared = this.#query;
    const values: (string | string[] | undefined)[] = new Array<string | string[] | undefined>(
      declared.length,
    );
    for (let start = 0; start < query.length;) {
      let end = query.indexOf('&', start);
      if (end === -1) end = query.length;
      if (end > start && !this.#readPair(query, start, end, values, errors)) return;
      start = end + 1;
    }
    for (let i = 0; i < declared.length; i += 1) {
      const parameter = declared[i]!;
      const value = values[i];
      if (value !== undefined) checkParameter(parameter, value, errors);
      else if (parameter.required) errors.push({ field: parameter.field, rule: 'is required' });
    }
  }

  /** Records one `name=value` pair; false when the query is refused as a whole. */
  #readPair(
    query: string,
    start: number,
    end: number,
    values: (string | string[] | undefined)[],
    errors: FieldError[],
  ): boolean {
    const eq = query.indexOf('=', start);
    const hasValue = eq !== -1 && eq < end;
    const name = decodeFormComponent(query.slice(start, hasValue ? eq : end));
    const value = hasValue ? decodeFormComponent(query.slice(eq + 1, end)) : '';
    if (name === null || value === null) {
      errors.push({ field: 'query', rule: 'must be valid percent-encoded UTF-8' });
      return false;
    }
    const index = this.#queryIndex.get(name);
    if (index === undefined) {
      if (this.#allowUnknownQuery) return true;
      errors.push({ field: SAFE_NAME.test(name) ? `query.${name}` : 'query', rule: UNKNOWN_QUERY_RULE });
      return false;
    }
    const parameter = this.#query[index]!;
    const previous = values[index];
    if (previous === undefined) values[index] = parameter.arraySeparator === '' ? [value] : value;
    else if (typeof previous !== 'string') previous.push(value);
    else {
      errors.push({ field: parameter.field, rule: 'must not be repeated' });
      return false;
    }
    return true;
  }

  /** RFC 6265 §4.2.1: `name=value` pairs separated by "; ". Undeclared cookies are not ours to judge. */
  #checkCookies(header: string | undefined, errors: FieldError[]): void {
    const found = new Map<string, string>();
    if (header !== undefined) {
      for (const pair of header.split(';')) {
        const eq = pair.indexOf('=');
        if (eq > 0) found.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
      }
    }
    for (const parameter of this.#cookies) {
      const value = found.get(parameter.name);
      if (value !== undefined) checkParameter(parameter, value, errors);
      else if (parameter.required) errors.push({ field: parameter.field, rule: 'is required' });
    }
  }

  #checkBody(contentType: string | undefined, body: Buffer): void {
    const entry =
      contentType !== undefined && contentType === this.#acceptedType
        ? this.#acceptedEntry!
        : this.#acceptContentType(contentType);
    if (this.#maxBodyBytes !== null && body.length > this.#maxBodyBytes) {
      throw new GatehouseError(
        'GH_TRANSPORT_BODY_TOO_LARGE',
        `body of ${body.length} bytes over the operation's ${this.#maxBodyBytes}`,
      );
    }
    if (!entry.json) return;
    let value: unknown;
    try {
      value = parseBoundedJson(body, entry.bounds);
    } catch (err) {
      if (!(err instanceof JsonRefusal)) throw err;
      refuseBody(`body refused by the JSON parser: ${err.rule}`, { field: 'body', rule: err.rule });
    }
    const validate = entry.validate;
    if (validate === null || validate(value)) return;
    const error = describeAjvError(validate.errors![0]!, '');
    refuseBody(summarise('body', [error]), error);
  }

  /** The declared entry for a Content-Type (a JSON one in UTF-8), remembered; else the 415 refusal. */
  #acceptContentType(contentType: string | undefined): BodyMedia {
    const media = this.#media;
    if (media === null) {
      refuseMediaType(
        'a body was sent to an operation that declares none',
        'must be absent: this operation takes no body',
      );
    }
    const essence = mediaTypeEssence(contentType);
    const entry = essence === null ? undefined : matchMediaType(media, essence);
    if (entry === undefined) {
      refuseMediaType(
        `content type ${essence ?? '(none)'} is not declared`,
        `must be one of: ${this.#mediaList}`,
      );
    }
    if (entry.json) {
      const charset = charsetOf(contentType!);
      if (charset !== null && charset !== 'utf-8') {
        refuseMediaType(`JSON body in charset ${charset}`, 'must be UTF-8 encoded JSON (RFC 8259 §8.1)');
      }
    }
    this.#acceptedType = contentType!;
    this.#acceptedEntry = entry;
    return entry;
  }
}

function refuseBody(detail: string, error: FieldError): never {
  throw new GatehouseError('GH_VALIDATE_BODY', detail, undefined, [error]);
}

function refuseMediaType(detail: string, rule: string): never {
  throw new GatehouseError('GH_VALIDATE_MEDIA_TYPE', detail, undefined, [{ field: 'content-type', rule }]);
}

function compileBodyMedia(
  requestBody: JsonObject,
  dialect: SchemaDialect,
  compiler: SchemaCompiler,
  file: string,
  pointer: readonly string[],
  limits: RequestValidationLimits,
): Map<string, BodyMedia> {
  const media = new Map<string, BodyMedia>();
  const content = isJsonObject(requestBody.content) ? requestBody.content : {};
  for (const [type, entry] of Object.entries(content)) {
    const essence = type.toLowerCase();
    const json = isJsonMediaType(essence);
    const schema = isJsonObject(entry) ? entry.schema : undefined;
    const prepared = json && schema !== undefined ? prepareSchema(schema, dialect, 'request') : null;
    const at = toJsonPointer([...pointer, 'content', type, 'schema']);
    media.set(essence, {
      json,
      validate: prepared === null ? null : compileOrExplain(compiler, prepared, file, at),
      bounds: {
        maxDepth: limits.maxJsonDepth,
        maxKeys: limits.maxJsonKeys,
        allowedSpecialKeys: declaredSpecialKeys(prepared),
      },
    });
  }
  return media;
}

/** `constructor` / `prototype` declared as property names somewhere in the schema: allowed there. */
function declaredSpecialKeys(schema: unknown): ReadonlySet<string> {
  const found = new Set<string>();
  const seen = new Set<unknown>();
  const pending: unknown[] = [schema];
  while (pending.length > 0) {
    const next = pending.pop();
    if (typeof next !== 'object' || next === null || seen.has(next)) continue;
    seen.add(next);
    if (!Array.isArray(next) && isJsonObject((next as JsonObject).properties)) {
      for (const name of Object.keys((next as { properties: JsonObject }).properties)) {
        if (name === 'constructor' || name === 'prototype') found.add(name);
      }
    }
    pending.push(...Object.values(next));
  }
  return found;
}

/** Percent-decoding of a query component, "+" as a space; null when the escapes are not UTF-8. */
function decodeFormComponent(text: string): string | null {
  const plus = text.includes('+') ? text.replaceAll('+', ' ') : text;
  if (!plus.includes('%')) return plus;
  try {
    return decodeURIComponent(plus);
  } catch {
    return null;
  }
}
