import type { AuthPolicy, CredentialKind } from '../auth/policy/auth-policy.js';
import type { GatehouseConfig } from '../config/types.js';
import type { JsonObject, Operation } from '../contract/index.js';
import { isJsonObject } from '../contract/openapi-types.js';
import {
  ALLOW_UNKNOWN_QUERY,
  MAX_BODY_BYTES,
  type ResponseContractMode,
} from '../contract/validation/index.js';
import { isJsonMediaType } from '../contract/validation/media-type.js';
import type { LoginMarker } from '../limits/extension.js';
import type { QuotaPeriod, Rule } from '../limits/rule.js';
import type { EffectiveRoute } from './effective-policy.js';

/**
 * What `gatehouse routes --json` prints for one operation: the policy the gateway enforces,
 * read from the compiled structures. Key names are stable (listed in the command's help).
 */
export interface RouteRecord {
  readonly api: string;
  readonly method: string;
  /** The public path template: the API's basePath joined with the document's path. */
  readonly path: string;
  readonly documentPath: string;
  readonly operationId: string | null;
  readonly security: SecurityRecord;
  /** `x-gatehouse-require` roles (any one of them), or null. */
  readonly roles: readonly string[] | null;
  /** `x-gatehouse-require` conditions on the request, as written: `path.username == principal.sub`. */
  readonly conditions: readonly string[];
  /** `x-gatehouse-require` conditions on the upstream's 2xx answer: `response.owner == principal.sub`. */
  readonly responseConditions: readonly string[];
  /** Credential headers passed on to the upstream once verified; [] when credentials are stripped. */
  readonly forwardCredentials: readonly string[];
  readonly rateLimits: readonly RateLimitRecord[];
  readonly preAuth: PreAuthRecord;
  readonly validation: ValidationRecord;
  readonly response: ResponseRecord;
}

export interface SecurityRecord {
  readonly mode: 'public' | 'credential' | 'deny';
  /** As the table shows it: `bearer[notes:read] | apiKey`, `public`, `DENIED (no security)`. */
  readonly summary: string;
  /** Any one of these is enough; each needs all of its scopes. */
  readonly alternatives: readonly {
    readonly scheme: string;
    readonly kind: CredentialKind;
    readonly header: string | null;
    readonly scopes: readonly string[];
  }[];
  readonly denyReason: string | null;
}

export interface RateLimitRecord {
  readonly name: string;
  readonly kind: 'rate' | 'quota';
  readonly limit: number;
  /** rate: the window in milliseconds; null for a quota. */
  readonly windowMs: number | null;
  /** quota: the calendar period; null for a rate. */
  readonly period: QuotaPeriod | null;
  /** rate: requests admitted at once; null for a quota. */
  readonly burst: number | null;
  /** delay mode: the longest a request waits for its turn; 0 = refused at once. */
  readonly maxDelayMs: number;
  /** false in shadow mode: counted and logged, never refusing. */
  readonly enforced: boolean;
}

export interface PreAuthRecord {
  /** Per-address rules decided before any credential is read. */
  readonly rules: readonly string[];
  readonly countsFailedAuth: boolean;
  /** `x-gatehouse-login`, or null; failedWhen: the tests that make a 2xx answer a failed login, as written. */
  readonly login: { readonly usernameField: string | null; readonly failedWhen: readonly string[] } | null;
}

export interface ValidationRecord {
  readonly parameters: readonly { readonly in: string; readonly name: string; readonly required: boolean }[];
  /** Query parameters the operation does not declare: refused unless x-gatehouse-allow-unknown-query. */
  readonly unknownQuery: 'refused' | 'allowed';
  /** null: the operation declares no request body, and a request with one is refused. */
  readonly body: {
    readonly required: boolean;
    /** schema: JSON validated against it; json: parsed within bounds only; type: content type only. */
    readonly mediaTypes: readonly { readonly type: string; readonly check: 'schema' | 'json' | 'type' }[];
  } | null;
  readonly maxBodyBytes: number;
}

export interface ResponseRecord {
  readonly mode: ResponseContractMode;
  /** Some answer of the operation is held and checked against a schema. */
  readonly filtered: boolean;
  /** Answers carry Cache-Control: no-store (the operation takes credentials). */
  readonly noStore: boolean;
  /** Declared responses; `schema` is true where a JSON schema is declared, which the response is held to. */
  readonly statuses: readonly {
    readonly status: string;
    readonly content: readonly { readonly type: string; readonly schema: boolean }[];
  }[];
}

export function describeRoute(route: EffectiveRoute, config: GatehouseConfig): RouteRecord {
  const { operation, policy } = route;
  return {
    api: route.api.name,
    method: operation.method,
    path: operation.template,
    documentPath: operation.documentPath,
    operationId: operation.operationId,
    security: securityRecord(policy, operation),
    roles: policy.access?.roles ?? null,
    conditions: policy.access?.conditions.map((condition) => condition.text) ?? [],
    responseConditions: policy.access?.responseConditions.map((condition) => condition.text) ?? [],
    forwardCredentials: policy.forwardDrops === null ? [] : [...policy.forwardDrops.keys()],
    rateLimits: (route.plan?.rules ?? []).map(rateLimitRecord),
    preAuth: {
      rules: [...new Set(route.preAuth.addressRules.map((rule) => rule.name))],
      countsFailedAuth: route.preAuth.countsFailedAuth,
      login: loginRecord(route.preAuth.login),
    },
    validation: validationRecord(operation, config),
    response: {
      mode: route.contract.response.mode,
      filtered: route.contract.response.filters,
      noStore: route.contract.response.noStore,
      statuses: responseStatuses(operation),
    },
  };
}

function loginRecord(login: LoginMarker | null): PreAuthRecord['login'] {
  if (login === null) return null;
  return { usernameField: login.usernameField, failedWhen: login.failedWhen.map((test) => test.text) };
}

function securityRecord(policy: AuthPolicy, operation: Operation): SecurityRecord {
  return {
    mode: policy.mode,
    summary: securitySummary(policy, operation),
    alternatives: policy.requirements.map(({ scheme, kind, header, scopes }) => ({
      scheme,
      kind,
      header,
      scopes,
    })),
    denyReason: policy.mode === 'deny' ? policy.denyReason : null,
  };
}

/** `bearer[notes:read] | apiKey`, `public`, `public (optional: bearer)`, `DENIED (no security)`. */
export function securitySummary(policy: AuthPolicy, operation: Operation): string {
  const alternatives = policy.requirements
    .map((r) => (r.scopes.length === 0 ? r.scheme : `${r.scheme}[${r.scopes.join(',')}]`))
    .join(' | ');
  switch (policy.mode) {
    case 'public':
      return alternatives === '' ? 'public' : `public (optional: ${alternatives})`;
    case 'credential':
      return alternatives;
    case 'deny':
      return declaresSecurity(operation) ? 'DENIED (no accepted scheme)' : 'DENIED (no security)';
  }
}

/** The operation (or its document) names a scheme: `{}` alone is anonymous access, not security. */
export function declaresSecurity(operation: Operation): boolean {
  return operation.security.some((requirement) => Object.keys(requirement).length > 0);
}

function rateLimitRecord(rule: Rule): RateLimitRecord {
  const rate = rule.kind !== 'quota';
  return {
    name: rule.name,
    kind: rate ? 'rate' : 'quota',
    limit: rule.limit,
    windowMs: rate ? Math.round(rule.intervalMs * rule.limit) : null,
    period: rule.period,
    burst: rate && rule.intervalMs > 0 ? Math.round(rule.toleranceMs / rule.intervalMs) + 1 : null,
    maxDelayMs: rule.maxDelayMs,
    enforced: rule.enforced,
  };
}

/** Header parameters OpenAPI says to ignore; the validator skips them too. */
const IGNORED_HEADERS = new Set(['accept', 'content-type', 'authorization']);
const LOCATIONS = new Set(['path', 'query', 'header', 'cookie']);

/**
 * The request side, from the Operation the RequestValidator compiles (its compiled state is
 * private): the merged parameters, the body's media types and the body limit.
 */
function validationRecord(operation: Operation, config: GatehouseConfig): ValidationRecord {
  const op = operation.operation;
  const parameters = operation.parameters
    .filter((p) => LOCATIONS.has(String(p.in)))
    .filter((p) => p.in !== 'header' || !IGNORED_HEADERS.has(String(p.name).toLowerCase()))
    .map((p) => ({ in: String(p.in), name: String(p.name), required: p.required === true }));
  const requestBody = isJsonObject(op.requestBody) ? op.requestBody : null;
  const operationLimit = op[MAX_BODY_BYTES];
  return {
    parameters,
    unknownQuery: op[ALLOW_UNKNOWN_QUERY] === true ? 'allowed' : 'refused',
    body:
      requestBody === null
        ? null
        : {
            required: requestBody.required === true,
            mediaTypes: contentOf(requestBody).map(({ type, json, schema }) => ({
              type,
              check: json ? (schema ? 'schema' : 'json') : 'type',
            })),
          },
    maxBodyBytes: typeof operationLimit === 'number' ? operationLimit : config.limits.maxBodyBytes,
  };
}

function responseStatuses(operation: Operation): ResponseRecord['statuses'] {
  const responses = isJsonObject(operation.operation.responses) ? operation.operation.responses : {};
  return Object.entries(responses)
    .filter(([, response]) => isJsonObject(response))
    .map(([status, response]) => ({
      status,
      content: contentOf(response as JsonObject).map(({ type, json, schema }) => ({
        type,
        schema: json && schema,
      })),
    }));
}

/** The media types of a Request Body or Response Object, lowercase as the compiled contract keys them. */
function contentOf(holder: JsonObject): { type: string; json: boolean; schema: boolean }[] {
  const content = isJsonObject(holder.content) ? holder.content : {};
  return Object.entries(content).map(([type, entry]) => {
    const essence = type.toLowerCase();
    return {
      type: essence,
      json: isJsonMediaType(essence),
      schema: isJsonObject(entry) && entry.schema !== undefined,
    };
  });
}
