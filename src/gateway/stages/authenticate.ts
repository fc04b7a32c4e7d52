import type { IncomingHttpHeaders } from 'node:http';
import { JwtRefused } from '../../auth/jwt/jwt-verifier.js';
import { API_KEY_SCANNER_REGEX, type VerifiedKey } from '../../auth/keys/index.js';
import type { AuthPolicy } from '../../auth/policy/auth-policy.js';
import type { Principal } from '../../auth/principal.js';
import type { ApiKeyCheck, AuthRuntime } from '../../auth/setup.js';
import { GatehouseError } from '../../errors/gatehouse-error.js';
import type { RequestContext } from '../request-context.js';
import type { Stage } from '../stage.js';

/** RFC 6750 §2.1: `Bearer` (case-insensitive, RFC 9110 §11.1) and one space before the token. */
const BEARER = /^bearer /i;
const BASIC = /^basic /i;
/** A Gatehouse API key anywhere in a query string (the scanner pattern, without its `g` flag). */
const API_KEY_IN_TEXT = new RegExp(API_KEY_SCANNER_REGEX.source);

/**
 * The authenticate stage: the credential the operation's `security` names becomes
 * `ctx.principal` — an API key (header only), a bearer JWT, or, on the token endpoint, a client
 * secret. Every failure is 401 with the same generic body and a WWW-Authenticate challenge; the
 * cause (a stable `api-key.*`, `jwt.*` or `credential.*` prefix) goes to the journey and log.
 * A cached token or an API key is decided synchronously; only a token seen for the first time
 * waits for jose.
 */
export function createAuthenticateStage(auth: AuthRuntime): Stage {
  const policies = auth.policies;
  return {
    name: 'authenticate',
    onRequest: function authenticate(ctx: RequestContext): void | Promise<void> {
      const route = ctx.route!;
      const policy = policies.get(route.operation)!;
      // Whatever happens next, the client's credentials are never forwarded.
      ctx.upstreamHeaderDrops = policy.dropHeaders;
      if (route.query !== '') refuseCredentialsInQuery(route.query, policy);
      if (policy.mode === 'deny') throw new GatehouseError('GH_AUTH_FORBIDDEN', policy.denyReason);
      if (policy.requirements.length === 0) return;
      return authenticateCredential(ctx, policy, auth);
    },
  };
}

/** The one credential the request presents for this operation: an API-key header or Authorization. */
function authenticateCredential(
  ctx: RequestContext,
  policy: AuthPolicy,
  auth: AuthRuntime,
): void | Promise<void> {
  const headers = ctx.req.headers;
  const keyHeader = presentedKeyHeader(headers, policy);
  const takesAuthorization = policy.bearer.length > 0 || policy.clientSecret.length > 0;
  const authorization = takesAuthorization ? headers.authorization : undefined;
  if (keyHeader !== null) {
    if (authorization !== undefined) {
      throw unauthenticated(
        'credential.ambiguous: both an API key and an Authorization header',
        policy.challenges.missing,
      );
    }
    ctx.principal = verifyApiKey(headers[keyHeader] as string, auth.apiKeys, policy);
    forwardVerified(ctx, policy, keyHeader);
    return;
  }
  if (authorization !== undefined) {
    const verified = authenticateAuthorization(ctx, authorization, policy, auth);
    if (verified === undefined) return forwardVerified(ctx, policy, 'authorization');
    return policy.forwardDrops === null
      ? verified
      : verified.then(() => forwardVerified(ctx, policy, 'authorization'));
  }
  if (policy.mode !== 'public') {
    throw unauthenticated('credential.missing: no credential presented', policy.challenges.missing);
  }
}

/** Credential passthrough: the header just verified goes on to the upstream, the others do not. */
function forwardVerified(ctx: RequestContext, policy: AuthPolicy, header: string): void {
  const drops = policy.forwardDrops?.get(header);
  if (drops !== undefined) ctx.upstreamHeaderDrops = drops;
}

function authenticateAuthorization(
  ctx: RequestContext,
  authorization: string,
  policy: AuthPolicy,
  auth: AuthRuntime,
): void | Promise<void> {
  if (policy.bearer.length > 0 && BEARER.test(authorization)) {
    const token = authorization.slice(7);
    const principal = cachedBearer(token, auth, policy);
    if (principal === null) return verifyBearer(ctx, token, auth, policy);
    ctx.principal = principal;
    return;
  }
  if (policy.clientSecret.length > 0 && BASIC.test(authorization)) {
    const verdict = auth.clientSecrets.verify(authorization);
    if (typeof verdict === 'string') throw unauthenticated(verdict, policy.challenges.invalidClient);
    ctx.principal = verdict;
    return;
  }
  throw unauthenticated(
    'credential.scheme: the Authorization scheme is not one the operation accepts',
    policy.challenges.missing,
  );
}

function unauthenticated(reason: string, challenge: Readonly<Record<string, string>>): GatehouseError {
  return new GatehouseError('GH_AUTH_UNAUTHENTICATED', reason, challenge);
}

/** A token verified before; refused when the API key it was minted from is gone since. */
function cachedBearer(token: string, auth: AuthRuntime, policy: AuthPolicy): Principal | null {
  try {
    return auth.jwt.cached(token);
  } catch (err) {
    throw refusedToken(err, policy);
  }
}

async function verifyBearer(
  ctx: RequestContext,
  token: string,
  auth: AuthRuntime,
  policy: AuthPolicy,
): Promise<void> {
  try {
    ctx.principal = await auth.jwt.verify(token);
  } catch (err) {
    throw refusedToken(err, policy);
  }
}

function refusedToken(err: unknown, policy: AuthPolicy): unknown {
  return err instanceof JwtRefused ? unauthenticated(err.reason, policy.challenges.invalidToken) : err;
}

/** The one API-key header of the operation the request carries; null for none. */
function presentedKeyHeader(headers: IncomingHttpHeaders, policy: AuthPolicy): string | null {
  let found: string | null = null;
  for (const header of policy.apiKeyHeaders) {
    if (headers[header] === undefined) continue;
    if (found !== null) {
      throw unauthenticated(
        `credential.ambiguous: API keys in both ${found} and ${header}`,
        policy.challenges.missing,
      );
    }
    found = header;
  }
  return found;
}

function verifyApiKey(presented: string, apiKeys: ApiKeyCheck | null, policy: AuthPolicy): Principal {
  if (apiKeys === null)
    throw unauthenticated('api-key.unavailable: no key store in this process', policy.challenges.invalidKey);
  const verdict = apiKeys.verify(presented);
  if (!verdict.ok) throw unauthenticated(`api-key.${verdict.reason}`, policy.challenges.invalidKey);
  return principalOfKey(verdict.key);
}

/**
 * One principal per key record, made on first use. The verifier hands out the same frozen record
 * until the key changes (revoke, rotate), so the record itself keys the cache and a change is
 * never served stale.
 */
const keyPrincipals = new WeakMap<VerifiedKey, Principal>();

function principalOfKey(key: VerifiedKey): Principal {
  let principal = keyPrincipals.get(key);
  if (principal === undefined) {
    const ends = [key.expiresAt, key.overlapUntil].filter((t): t is number => t !== null);
    principal = Object.freeze({
      subject: key.consumer,
      consumer: key.consumer,
      scopes: key.scopeSet,
      roles: Object.freeze([]),
      credential: Object.freeze({ kind: 'api-key' as const, id: key.id, issuer: null }),
      claims: Object.freeze({ sub: key.consumer, consumer: key.consumer, key_id: key.id }),
      expiresAt: ends.length === 0 ? null : Math.floor(Math.min(...ends) / 1000),
    });
    keyPrincipals.set(key, principal);
  }
  return principal;
}

/**
 * A credential in the query string is exposed already (logs, proxies, browser history, Referer):
 * refused, never accepted, whatever the operation's schemes say (RFC 6750 §2.3 advises the same
 * for tokens). Names come from the document's `in: query` schemes and common conventions.
 */
function refuseCredentialsInQuery(query: string, policy: AuthPolicy): void {
  const text = query.includes('%') ? safeDecode(query) : query;
  if (API_KEY_IN_TEXT.test(text)) {
    throw unauthenticated('credential.query: an API key in the query string', policy.challenges.missing);
  }
  const names = policy.queryCredentialNames;
  let start = 0;
  while (start <= query.length) {
    let end = query.indexOf('&', start);
    if (end < 0) end = query.length;
    const equals = query.indexOf('=', start);
    const name = query.slice(start, equals >= 0 && equals < end ? equals : end);
    if (names.has((name.includes('%') ? safeDecode(name) : name).toLowerCase())) {
      throw unauthenticated(
        `credential.query: a credential parameter in the query string`,
        policy.challenges.missing,
      );
    }
    start = end + 1;
  }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text.replaceAll('+', ' '));
  } catch {
    return text;
  }
}
