import type { Logger } from 'pino';
import { checkKeyShape, hashApiKey, keyIdOf } from '../auth/keys/index.js';
import { BUILTIN_API_NAME } from '../auth/oauth/builtin-api.js';
import { buildAuth, type ApiKeyCheck, type AuthRuntime } from '../auth/setup.js';
import type { GatehouseConfig } from '../config/types.js';
import { buildRouteTable, compileApi, loadApiDocument, type CompiledApi } from '../contract/index.js';
import { compileContractsInSlices, contractOptionsOf } from '../contract/validation/index.js';
import { BanList } from '../observe/bans.js';
import { DeviceCookies } from '../limits/device-cookie.js';
import { loadDeviceKey } from '../limits/device-key.js';
import { createLimits, type Limits } from '../limits/limits.js';
import type { CredentialIdentifier } from '../limits/pre-auth.js';
import type { DevCertificates } from '../tls/dev-certs.js';
import { Pipeline } from './pipeline.js';
import { compileResponseChecks } from './response-checks.js';
import type { RequestContext } from './request-context.js';
import { createAuthenticateStage } from './stages/authenticate.js';
import { createAuthorizeStage } from './stages/authorize.js';
import { createBodyStage } from './stages/body.js';
import { createCorsStage } from './stages/cors.js';
import { createForwardStage } from './stages/forward.js';
import { createPreAuthLimitStage } from './stages/pre-auth-limit.js';
import { createRateLimitStage } from './stages/rate-limit.js';
import { createRouteStage } from './stages/route.js';
import { createTransportStage } from './stages/transport.js';
import { createValidateStage } from './stages/validate.js';
import { createBuiltinTarget, createUpstreamTarget, type UpstreamTarget } from './upstream.js';

/**
 * Everything compiled from one configuration: route table, upstream pools and the pipeline.
 * A reload builds a new Runtime beside the old one and swaps it in; requests in flight finish
 * on the one they started with.
 */
export interface Runtime {
  readonly config: GatehouseConfig;
  readonly pipeline: Pipeline;
  readonly targets: ReadonlyMap<string, UpstreamTarget>;
  readonly apis: readonly CompiledApi[];
  /** Rate limits, concurrency guard and their store (src/limits). */
  readonly limits: Limits<RequestContext>;
  /** Policies, verifiers, signing keys and the built-in token endpoint (src/auth). */
  readonly auth: AuthRuntime;
  /** Upstream statuses of a login operation that mean "wrong credentials". */
  readonly loginFailureStatuses: ReadonlySet<number>;
}

export async function buildRuntime(
  config: GatehouseConfig,
  devCerts: DevCertificates | null,
  apiKeys: ApiKeyCheck | null = null,
  logger: Logger | null = null,
  bans: BanList = new BanList(),
): Promise<Runtime> {
  // Built while the gateway may be serving (a reload): each step hands the event loop back.
  const apis: CompiledApi[] = [];
  for (const api of config.apis) {
    apis.push(compileApi(api, await loadApiDocument(api)));
    await nextTurn();
  }
  const auth = await buildAuth(config, apis, apiKeys, logger);
  // From here a failure (a reload refused) must not leave the new auth's timers, or the new
  // limits' Redis connections, behind.
  let limits: Limits<RequestContext> | null = null;
  try {
    await nextTurn();
    // The token endpoint and JWKS are a built-in API: routed, limited and validated like the others.
    if (auth.builtin !== null) apis.push(auth.builtin.api);
    const routes = buildRouteTable(apis, { maxTargetBytes: config.limits.maxPathBytes });
    const devices = await deviceCookiesOf(config);
    // A policy keyed on a body field reads the body early with the body stage's own reader (the same
    // streaming size limit); the body stage then finds `ctx.body` set and skips. Only operations
    // whose policies name a body field pay for this, once the limits needing no body admitted them.
    limits = await createLimits(config, apis, createBodyStage(config.limits).onRequest, logger, bans);
    await nextTurn();
    const contracts = await compileContractsInSlices(apis, contractOptionsOf(config));
    limits.preAuth.trustKnownCredentials(credentialIdentifier(auth, apiKeyHeadersOf(auth, config)));
    limits.preAuth.recogniseDevices(devices);
    const preAuth = limits.preAuth;
    const checks = compileResponseChecks(contracts, auth.policies, (operation) =>
      preAuth.readsLoginResponse(operation),
    );
    const targets = new Map<string, UpstreamTarget>();
    for (const api of config.apis) targets.set(api.name, createUpstreamTarget(api, devCerts));
    if (auth.builtin !== null) targets.set(BUILTIN_API_NAME, createBuiltinTarget(auth.builtin));
    // The journey of DESIGN.md, in order; pre-auth limit, authenticate, rate limit, authorize and
    // validate take their places between route and body as those parts are built.
    const pipeline = new Pipeline([
      createTransportStage(config.limits, apiKeyHeadersOf(auth, config)),
      ...(config.cors === null ? [] : [createCorsStage(config.cors, routes)]),
      createRouteStage(routes),
      createPreAuthLimitStage(limits.preAuth),
      createAuthenticateStage(auth),
      createRateLimitStage(limits.rateLimit, bans),
      createAuthorizeStage(auth),
      createBodyStage(config.limits),
      createValidateStage(contracts),
      createForwardStage(targets, checks),
    ]);
    const loginFailureStatuses = new Set(config.preAuthLimit.login.failureStatuses);
    return { config, pipeline, targets, apis, limits, auth, loginFailureStatuses };
  } catch (err) {
    await limits?.close();
    await auth.close();
    throw err;
  }
}

/**
 * The id of the credential a request presents, from memory and without verifying it: an API key's
 * id from its digest (its shape checked first), a bearer token's only if verified before. The
 * pre-auth limit asks it only for an address over its failed-authentication budget.
 */
function credentialIdentifier(auth: AuthRuntime, keyHeaders: readonly string[]): CredentialIdentifier {
  return function identifyCredential(ctx) {
    const headers = ctx.req.headers;
    for (const header of keyHeaders) {
      const presented = headers[header];
      if (typeof presented !== 'string') continue;
      return checkKeyShape(presented) === null ? keyIdOf(hashApiKey(presented)) : null;
    }
    const authorization = headers.authorization;
    if (typeof authorization !== 'string' || !/^bearer /i.test(authorization)) return null;
    return auth.jwt.cached(authorization.slice(7))?.credential.id ?? null;
  };
}

/** Device cookies for logins (preAuthLimit.login.deviceCookie), MAC'd with the key kept in stateDir. */
async function deviceCookiesOf(config: GatehouseConfig): Promise<DeviceCookies | null> {
  const { enabled, maxAgeDays } = config.preAuthLimit.login.deviceCookie;
  return enabled ? new DeviceCookies(await loadDeviceKey(config.stateDir), maxAgeDays) : null;
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Every API-key header any operation takes (the token endpoint's among them): each may come once. */
function apiKeyHeadersOf(auth: AuthRuntime, config: GatehouseConfig): string[] {
  const names = new Set<string>([config.auth.tokenEndpoint.apiKeyHeader.toLowerCase()]);
  for (const policy of auth.policies.values()) for (const name of policy.apiKeyHeaders) names.add(name);
  return [...names];
}

/** Closes the upstream pools once the requests still using them have finished. */
export async function retireRuntime(runtime: Runtime): Promise<void> {
  await Promise.all([...runtime.targets.values()].map((target) => target.pool.close()));
  await runtime.limits.close();
  await runtime.auth.close();
}
