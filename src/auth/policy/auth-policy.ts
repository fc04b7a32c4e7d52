import { ContractError, toJsonPointer } from '../../contract/contract-error.js';
import type { CompiledApi, JsonObject, Operation } from '../../contract/index.js';
import { isJsonObject } from '../../contract/openapi-types.js';
import { buildChallenges, type Challenges } from './challenges.js';
import { compileRequirements, type AccessRequirements } from './conditions.js';

/** The credential a security requirement asks for. */
export type CredentialKind = 'api-key' | 'bearer' | 'client-secret';

/** One alternative of an operation's `security` (OpenAPI Security Requirement Object). */
export interface Requirement {
  readonly scheme: string;
  readonly kind: CredentialKind;
  /** Lower-case header of an API-key scheme; null otherwise. */
  readonly header: string | null;
  /** Every one of these is needed (least privilege). */
  readonly scopes: readonly string[];
}

/**
 * What the authenticate and authorize stages do for one operation, compiled at load.
 *
 * - `public`: `x-gatehouse-public: true`. Without requirements nobody is authenticated; with
 *   them (`security: [{}, {bearer: []}]`) a presented credential is still verified.
 * - `deny`: no usable security and not marked public: every request is refused (default deny).
 * - `credential`: one of `requirements` must be met.
 */
export interface AuthPolicy {
  readonly mode: 'public' | 'deny' | 'credential';
  readonly denyReason: string;
  readonly requirements: readonly Requirement[];
  readonly bearer: readonly Requirement[];
  /** Lower-case header names of the API-key requirements, in document order. */
  readonly apiKeyHeaders: readonly string[];
  readonly clientSecret: readonly Requirement[];
  readonly challenges: Challenges;
  readonly access: AccessRequirements | null;
  /** Request headers never forwarded: credentials, and any identity header a client sent. */
  readonly dropHeaders: ReadonlySet<string>;
  /**
   * With credential passthrough (`apis[].forwardCredentials`, `x-gatehouse-forward-credentials`):
   * for each credential header the gateway can verify here, the headers to drop once it has, so
   * the verified credential (and only it) reaches an upstream that checks it again. null: never.
   */
  readonly forwardDrops: ReadonlyMap<string, ReadonlySet<string>> | null;
  /** Query parameter names that carry credentials: a request using one is refused (401). */
  readonly queryCredentialNames: ReadonlySet<string>;
  /** The upstream the identity assertion is for (`aud`): the API's name. */
  readonly audience: string;
}

export interface PolicyOptions {
  readonly realm: string;
  /** Lower-case name of the identity assertion header, dropped from every client request. */
  readonly identityHeader: string;
  /** http basic schemes authenticate token-endpoint clients (the built-in API only). */
  readonly clientSecrets: boolean;
}

/** Methods whose response can be withheld before anything happened: owner conditions on the response. */
const READS: ReadonlySet<string> = new Set(['GET', 'HEAD']);

/** Query names that carry credentials by convention: RFC 6750 §2.3, and common API-key names. */
const CONVENTIONAL_QUERY_CREDENTIALS = ['access_token', 'api_key', 'apikey', 'api-key'];

export interface CompiledPolicies {
  readonly policies: ReadonlyMap<Operation, AuthPolicy>;
  /** What check-config should tell the operator (default deny, schemes never accepted). */
  readonly warnings: readonly string[];
}

/** Compiles every operation's policy; throws ContractError for what Gatehouse cannot enforce. */
export function compileAuthPolicies(api: CompiledApi, options: PolicyOptions): CompiledPolicies {
  const policies = new Map<Operation, AuthPolicy>();
  const warnings: string[] = [];
  const declaredSchemes = api.document.components?.securitySchemes;
  const schemes: JsonObject = isJsonObject(declaredSchemes) ? declaredSchemes : {};
  const dropHeaders = Object.freeze(
    new Set(['authorization', options.identityHeader, ...apiKeyHeadersOf(schemes)]),
  );
  const queryNames = Object.freeze(new Set([...CONVENTIONAL_QUERY_CREDENTIALS, ...queryKeyNamesOf(schemes)]));
  for (const operation of api.operations) {
    const context = new OperationContext(api, operation, warnings);
    policies.set(operation, compileOperation(context, options, dropHeaders, queryNames));
  }
  return { policies, warnings };
}

class OperationContext {
  readonly pointer: string;
  readonly label: string;
  constructor(
    readonly api: CompiledApi,
    readonly operation: Operation,
    readonly warnings: string[],
  ) {
    this.pointer = toJsonPointer(['paths', operation.documentPath, operation.method.toLowerCase()]);
    this.label = `${api.name}: ${operation.method} ${operation.template}`;
  }
  fail(problem: string, at: readonly (string | number)[] = []): never {
    throw new ContractError(this.api.file, this.pointer + toJsonPointer(at), problem);
  }
  warn(message: string): void {
    this.warnings.push(`${this.label}: ${message}`);
  }
}

function compileOperation(
  context: OperationContext,
  options: PolicyOptions,
  dropHeaders: ReadonlySet<string>,
  queryCredentialNames: ReadonlySet<string>,
): AuthPolicy {
  const { operation } = context;
  const isPublic = publicFlag(context);
  const declared = declaredRequirements(context, isPublic);
  const requirements = declared
    .map((requirement, i) => compileRequirement(context, options, requirement, i))
    .filter((r): r is Requirement => r !== null);
  const access = compileRequirements(
    operation.operation['x-gatehouse-require'],
    operation.pathParamNames,
    context.api.file,
    context.pointer + '/x-gatehouse-require',
  );
  if (isPublic && access !== null)
    context.fail('x-gatehouse-require needs a caller: a public operation cannot have it');
  if (access !== null && access.responseConditions.length > 0 && !READS.has(operation.method)) {
    context.fail(
      `x-gatehouse-require: response conditions are checked on the answer, after the upstream has acted: a ${operation.method} would already have changed another caller's object; use path.<name> conditions or roles for it`,
      ['x-gatehouse-require'],
    );
  }
  const mode = isPublic ? 'public' : requirements.length > 0 ? 'credential' : 'deny';
  const denyReason =
    declared.length === 0
      ? 'default deny: the operation declares no security and is not marked x-gatehouse-public'
      : 'no security scheme of the operation is one Gatehouse accepts';
  if (mode === 'deny') context.warn(`every request is refused (403): ${denyReason}`);
  const apiKeyHeaders = [...new Set(requirements.filter((r) => r.kind === 'api-key').map((r) => r.header!))];
  const forward = forwardsCredentials(context) && requirements.length > 0;
  return Object.freeze({
    mode,
    denyReason,
    requirements: Object.freeze(requirements),
    bearer: Object.freeze(requirements.filter((r) => r.kind === 'bearer')),
    apiKeyHeaders: Object.freeze(apiKeyHeaders),
    clientSecret: Object.freeze(requirements.filter((r) => r.kind === 'client-secret')),
    challenges: buildChallenges(options.realm, {
      bearer: requirements.some((r) => r.kind === 'bearer'),
      apiKeyHeaders: apiKeyHeaders.map((header) => documentHeaderName(operation.securitySchemes, header)),
      clientSecret: requirements.some((r) => r.kind === 'client-secret'),
    }),
    access,
    dropHeaders,
    forwardDrops: forward ? forwardDropsOf(dropHeaders, requirements) : null,
    queryCredentialNames,
    audience: context.api.name,
  });
}

/**
 * The requirements that name a scheme. A public operation does not inherit the document's
 * security (as `security: []` would say); its own, if any, must allow anonymous callers (`{}`),
 * and `{}` anywhere else needs the operation marked public: anonymous access is never implicit.
 */
function declaredRequirements(context: OperationContext, isPublic: boolean): readonly JsonObject[] {
  const operation = context.operation;
  const security = isPublic && operation.operation.security === undefined ? [] : operation.security;
  const anonymous = security.some((requirement) => Object.keys(requirement).length === 0);
  const declared = security.filter((requirement) => Object.keys(requirement).length > 0);
  if (isPublic && declared.length > 0 && !anonymous) {
    context.fail(
      'x-gatehouse-public: true contradicts the security requirements; add {} to security to make the credential optional, or remove x-gatehouse-public',
    );
  }
  if (!isPublic && anonymous) {
    context.fail(
      'security lists {} (anonymous access): mark the operation x-gatehouse-public: true to confirm it, or remove {}',
    );
  }
  return declared;
}

/** The operation's own `x-gatehouse-forward-credentials`, else the API's setting. */
function forwardsCredentials(context: OperationContext): boolean {
  const flag = context.operation.operation['x-gatehouse-forward-credentials'];
  if (flag === undefined) return context.api.forwardCredentials;
  if (typeof flag !== 'boolean') context.fail('x-gatehouse-forward-credentials must be true or false');
  return flag;
}

function forwardDropsOf(
  dropHeaders: ReadonlySet<string>,
  requirements: readonly Requirement[],
): ReadonlyMap<string, ReadonlySet<string>> {
  const verifiable = requirements.map((r) => (r.kind === 'api-key' ? r.header! : 'authorization'));
  return new Map(
    verifiable.map((header) => [
      header,
      Object.freeze(new Set([...dropHeaders].filter((h) => h !== header))),
    ]),
  );
}

function publicFlag(context: OperationContext): boolean {
  const flag = context.operation.operation['x-gatehouse-public'];
  if (flag !== undefined && typeof flag !== 'boolean')
    context.fail('x-gatehouse-public must be true or false');
  return flag === true;
}

/** One alternative, or null when its scheme is one Gatehouse never accepts (warned about). */
function compileRequirement(
  context: OperationContext,
  options: PolicyOptions,
  requirement: JsonObject,
  index: number,
): Requirement | null {
  const names = Object.keys(requirement);
  if (names.length > 1) {
    context.fail(
      `a requirement naming several schemes (${names.join(' AND ')}) is not supported: list them as alternatives`,
      ['security', index],
    );
  }
  const scheme = names[0]!;
  const definition = context.operation.securitySchemes[scheme];
  if (typeof definition !== 'object' || definition === null) {
    context.fail(`security names "${scheme}", which components.securitySchemes does not declare`, [
      'security',
      index,
    ]);
  }
  const found = schemeKind(definition as JsonObject, options);
  if (typeof found === 'string') {
    context.warn(`scheme "${scheme}" is never accepted: ${found}`);
    return null;
  }
  const scopes = scopesOf(
    context,
    requirement[scheme],
    index,
    scheme,
    found.kind === 'bearer' && found.oauth,
  );
  return Object.freeze({ scheme, kind: found.kind, header: found.header, scopes });
}

type SchemeKind = { kind: CredentialKind; header: string | null; oauth: boolean };

/** What a Security Scheme Object asks for, or why Gatehouse refuses it. */
function schemeKind(scheme: JsonObject, options: PolicyOptions): SchemeKind | string {
  switch (scheme.type) {
    case 'apiKey':
      if (scheme.in === 'header' && typeof scheme.name === 'string') {
        return { kind: 'api-key', header: scheme.name.toLowerCase(), oauth: false };
      }
      return scheme.in === 'query'
        ? 'API keys in the query string end up in logs and browser history; Gatehouse refuses them (use in: header)'
        : `API keys in: ${String(scheme.in)} are not supported (use in: header)`;
    case 'http': {
      const httpScheme = String(scheme.scheme).toLowerCase();
      if (httpScheme === 'bearer') return { kind: 'bearer', header: null, oauth: false };
      if (httpScheme === 'basic' && options.clientSecrets)
        return { kind: 'client-secret', header: null, oauth: false };
      return `HTTP ${httpScheme} authentication is not supported (use bearer tokens or API keys)`;
    }
    case 'oauth2':
    case 'openIdConnect':
      return { kind: 'bearer', header: null, oauth: true };
    default:
      return `scheme type ${String(scheme.type)} is not supported`;
  }
}

/**
 * Scopes the requirement needs: its own list (OAuth2 scopes; OpenAPI 3.1 allows role names for
 * other schemes too) plus, for API keys and plain bearer tokens, `x-gatehouse-scopes`.
 */
function scopesOf(
  context: OperationContext,
  listed: unknown,
  index: number,
  scheme: string,
  oauth: boolean,
): readonly string[] {
  if (!isStringList(listed)) context.fail('must be a list of scope names', ['security', index, scheme]);
  const extra = context.operation.operation['x-gatehouse-scopes'];
  if (extra !== undefined && !isStringList(extra))
    context.fail('x-gatehouse-scopes must be a list of scope names');
  return Object.freeze([
    ...new Set([...(listed as string[]), ...(oauth ? [] : ((extra as string[] | undefined) ?? []))]),
  ]);
}

function isStringList(value: unknown): boolean {
  return Array.isArray(value) && value.every((item) => typeof item === 'string' && item !== '');
}

function apiKeyHeadersOf(schemes: JsonObject): string[] {
  return Object.values(schemes).flatMap((scheme) => {
    const s = scheme as JsonObject;
    return s.type === 'apiKey' && s.in === 'header' && typeof s.name === 'string'
      ? [s.name.toLowerCase()]
      : [];
  });
}

function queryKeyNamesOf(schemes: JsonObject): string[] {
  return Object.values(schemes).flatMap((scheme) => {
    const s = scheme as JsonObject;
    return s.type === 'apiKey' && s.in === 'query' && typeof s.name === 'string'
      ? [s.name.toLowerCase()]
      : [];
  });
}

/** The header name as the document writes it, for the challenge a client reads. */
function documentHeaderName(schemes: JsonObject, lower: string): string {
  for (const scheme of Object.values(schemes)) {
    const s = scheme as JsonObject;
    if (s.type === 'apiKey' && typeof s.name === 'string' && s.name.toLowerCase() === lower) return s.name;
  }
  return lower;
}
