import type { ValidateFunction } from 'ajv';
import { ContractError, toJsonPointer } from '../contract-error.js';
import type { Operation } from '../operation.js';
import { isJsonObject, type JsonObject } from '../openapi-types.js';
import { isJsonMediaType, matchMediaType, mediaTypeEssence } from './media-type.js';
import { compileOrExplain } from './parameters.js';
import { prepareSchema, type SchemaDialect } from './prepare-schema.js';
import {
  applyResponseFilter,
  compileResponseFilter,
  ShapeBreach,
  type ResponseFilter,
} from './response-filter.js';
import { filterResponseBytes } from './response-filter-bytes.js';
import type { SchemaCompiler } from './schema-compiler.js';

/** What the gateway does with a response that carries undeclared properties (per API, in the config). */
export type ResponseContractMode = 'strip' | 'reject';

/** One declared media type of one declared response. */
interface MediaPlan {
  /** null: nothing declared to filter or check (no schema, free-form, or not JSON): the response streams. */
  readonly filter: ResponseFilter | null;
  /** `reject` mode only: the whole schema is checked too. */
  readonly validate: ValidateFunction | null;
}

/** One declared response (a status, a range such as 2XX, or `default`). */
interface ResponsePlan {
  /** null: the response declares no content, so there is nothing to check the body against. */
  readonly media: ReadonlyMap<string, MediaPlan> | null;
}

/**
 * What to do with a response, decided from its status and headers alone: let it stream as it
 * is, hold it to check its body, or replace it. A string is the operator-facing reason for a
 * replacement.
 */
export type ResponseDecision = null | MediaPlan | string;

/** Statuses that carry no content whatever the document says (RFC 9110 §6.4.1). */
function carriesNoContent(status: number, method: string | undefined): boolean {
  return status === 204 || status === 304 || method === 'HEAD';
}

/**
 * The response side of one operation's contract, compiled at load: declared statuses (exact,
 * then `2XX`-style ranges, then `default`, as OpenAPI's Responses Object orders them), their media
 * types, and a filter per JSON schema.
 */
export class ResponseContract {
  readonly mode: ResponseContractMode;
  /** The operation names credentials: its responses are never stored by a cache (RFC 9111 §5.2.2.5). */
  readonly noStore: boolean;
  /** Some answer of this operation may be held and filtered (the upstream must not compress it). */
  readonly filters: boolean;
  readonly #exact: ReadonlyMap<number, ResponsePlan>;
  readonly #ranges: readonly (ResponsePlan | undefined)[];
  readonly #default: ResponsePlan | undefined;

  constructor(
    operation: Operation,
    dialect: SchemaDialect,
    compiler: SchemaCompiler,
    file: string,
    mode: ResponseContractMode,
  ) {
    this.mode = mode;
    this.noStore = operation.security.some((requirement) => Object.keys(requirement).length > 0);
    const exact = new Map<number, ResponsePlan>();
    const ranges: (ResponsePlan | undefined)[] = [];
    let fallback: ResponsePlan | undefined;
    const responses = isJsonObject(operation.operation.responses) ? operation.operation.responses : {};
    const pointer = ['paths', operation.documentPath, operation.method.toLowerCase(), 'responses'];
    for (const [key, response] of Object.entries(responses)) {
      if (!isJsonObject(response)) continue;
      const plan = compilePlan(response, dialect, compiler, file, [...pointer, key], mode);
      if (key === 'default') fallback = plan;
      else if (/^[1-5]XX$/i.test(key)) ranges[Number(key[0])] = plan;
      else if (/^[1-5][0-9][0-9]$/.test(key)) exact.set(Number(key), plan);
    }
    this.#exact = exact;
    this.#ranges = ranges;
    this.#default = fallback;
    this.filters = [...exact.values(), ...ranges, fallback].some(
      (plan) =>
        plan?.media !== null &&
        plan?.media !== undefined &&
        [...plan.media.values()].some((m) => m.filter !== null || m.validate !== null),
    );
  }

  /**
   * Decides from the status and headers; `contentType`/`contentEncoding` are the upstream's.
   * Returns null (stream as is), a plan (hold and check the body), or why to replace the response.
   */
  decide(
    status: number,
    method: string | undefined,
    contentType: string | undefined,
    contentEncoding: string | undefined,
  ): ResponseDecision {
    // RFC 9110 §15.4.5: a 304 stands for the cached response the client already holds; it has no body.
    if (status === 304) return null;
    const plan = this.#exact.get(status) ?? this.#ranges[Math.floor(status / 100)] ?? this.#default;
    if (plan === undefined) return `upstream answered ${status}, which the operation does not declare`;
    if (plan.media === null || carriesNoContent(status, method)) return null;
    const essence = mediaTypeEssence(contentType);
    const media = essence === null ? undefined : matchMediaType(plan.media, essence);
    if (media === undefined) {
      return `upstream answered ${status} as ${essence ?? '(no content type)'}, which the operation does not declare`;
    }
    if (media.filter === null && media.validate === null) return null;
    if (contentEncoding !== undefined && contentEncoding.toLowerCase() !== 'identity') {
      return `upstream answered ${status} with content-encoding ${contentEncoding}, which cannot be checked`;
    }
    return media;
  }
}

/** The outcome of checking a held body: the bytes to send (the original ones when nothing changed), or why not. */
export interface CheckedBody {
  readonly body: Buffer | null;
  readonly violation: string | null;
}

/**
 * Checks a held JSON answer. In strip mode undeclared properties are cut out of the bytes (and
 * listed in `removed`) without parsing them into a value, and a response whose shape is not the
 * declared one (a value of another JSON kind, an object without a required property) is refused;
 * in reject mode the response is parsed, and any undeclared property, or any schema violation,
 * refuses it.
 */
export function checkResponseBody(
  plan: MediaPlan,
  mode: ResponseContractMode,
  raw: Buffer,
  removed: string[],
): CheckedBody {
  if (mode === 'strip') {
    const body = filterResponseBytes(plan.filter, raw, removed);
    if (body === 'invalid') return { body: null, violation: NOT_JSON };
    return body instanceof ShapeBreach ? { body: null, violation: body.reason } : { body, violation: null };
  }
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch {
    return { body: null, violation: NOT_JSON };
  }
  if (plan.filter !== null && applyResponseFilter(plan.filter, value, removed)) {
    return {
      body: null,
      violation: `upstream answer carries undeclared properties: ${removed.join(', ')}`,
    };
  }
  if (plan.validate !== null && !plan.validate(value)) {
    const error = plan.validate.errors![0]!;
    return {
      body: null,
      violation: `upstream answer breaks its schema at ${error.instancePath || '/'} (${error.keyword})`,
    };
  }
  return { body: raw, violation: null };
}

const NOT_JSON = 'upstream answer is not valid JSON';

function compilePlan(
  response: JsonObject,
  dialect: SchemaDialect,
  compiler: SchemaCompiler,
  file: string,
  pointer: readonly string[],
  mode: ResponseContractMode,
): ResponsePlan {
  if (!isJsonObject(response.content) || Object.keys(response.content).length === 0) return { media: null };
  const media = new Map<string, MediaPlan>();
  for (const [type, entry] of Object.entries(response.content)) {
    const schema = isJsonObject(entry) ? entry.schema : undefined;
    const essence = type.toLowerCase();
    if (schema === undefined || !isJsonMediaType(essence)) {
      media.set(essence, { filter: null, validate: null });
      continue;
    }
    const prepared = prepareSchema(schema, dialect, 'response');
    const at = toJsonPointer([...pointer, 'content', type, 'schema']);
    media.set(essence, {
      filter: compileFilterOrExplain(prepared, file, at),
      validate: mode === 'reject' ? compileOrExplain(compiler, prepared, file, at) : null,
    });
  }
  return { media };
}

function compileFilterOrExplain(schema: unknown, file: string, pointer: string): ResponseFilter | null {
  try {
    return compileResponseFilter(schema);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new ContractError(file, pointer, `the response schema cannot be compiled into a filter: ${reason}`);
  }
}
