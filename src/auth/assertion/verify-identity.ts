/**
 * Checks the identity assertion Gatehouse adds to every request it forwards, for upstream
 * services. Self-contained on purpose (jose and node:crypto only): an upstream imports this one
 * file and nothing else of the gateway.
 *
 *     import { createIdentityVerifier } from 'gatehouse/dist/auth/assertion/verify-identity.js';
 *     const identity = createIdentityVerifier({
 *       keys: gatewayJwks,          // GET https://<gateway>/.well-known/jwks.json, or PEM public keys
 *       issuer: 'urn:gatehouse',    // auth.issuer of the gateway
 *       audience: 'bank',           // this upstream's API name in the gateway's configuration
 *     });
 *     const caller = await identity.verify(req.headers['gatehouse-identity']);  // throws IdentityRefused
 *
 * The assertion is an ES256 JWT (typ `gatehouse-identity+jwt`) living at most 60 s. What it proves
 * holds only if it cannot be replayed by someone else: the upstream must accept connections from
 * the gateway alone (mTLS with the gateway's client certificate), so a call that skips the gateway
 * has no assertion to carry. Within its lifetime the gateway reuses an assertion for the same
 * caller, so `assertionId` is not a request id: the request id is the `x-request-id` header.
 */
import { createHash, createPublicKey } from 'node:crypto';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet, type JWK, type JWTPayload } from 'jose';

export const IDENTITY_ASSERTION_TYPE = 'gatehouse-identity+jwt';
export const DEFAULT_IDENTITY_HEADER = 'gatehouse-identity';
export const MAX_ASSERTION_LIFETIME_SEC = 60;

export interface GatehouseIdentity {
  /** The caller: the consumer of an API key, or the `sub` of its token. */
  readonly subject: string;
  readonly consumer: string;
  readonly scopes: readonly string[];
  readonly roles: readonly string[];
  /** The credential the gateway verified (never the secret): its kind, id and issuer. */
  readonly credential: { readonly kind: string; readonly id: string; readonly issuer: string | null };
  /** `jti` of the assertion. */
  readonly assertionId: string;
  /** Seconds since the epoch. */
  readonly expiresAt: number;
}

export type IdentityRefusalCode = 'missing' | 'invalid' | 'expired' | 'audience' | 'issuer' | 'lifetime';

/** The assertion is missing or does not verify; `code` says which, `message` says why (for logs). */
export class IdentityRefused extends Error {
  override readonly name = 'IdentityRefused';
  constructor(
    readonly code: IdentityRefusalCode,
    message: string,
  ) {
    super(message);
  }
}

export interface IdentityVerifierOptions {
  /** The gateway's public keys: its JWK Set, or PEM public keys. */
  readonly keys: JSONWebKeySet | readonly string[];
  /** The gateway's `auth.issuer`. */
  readonly issuer: string;
  /** This upstream's name as the gateway knows it (the API name). */
  readonly audience: string;
  /** Allowance for clocks that differ; default 5 s. */
  readonly clockSkewSec?: number;
  /** Verified assertions remembered until they expire; default 1000. */
  readonly cacheSize?: number;
}

export interface IdentityVerifier {
  /** Verifies a header value; rejects with IdentityRefused. */
  verify(header: string | readonly string[] | undefined): Promise<GatehouseIdentity>;
}

export function createIdentityVerifier(options: IdentityVerifierOptions): IdentityVerifier {
  const keySet = createLocalJWKSet({ keys: jwksOf(options.keys) });
  const verifyOptions = {
    issuer: options.issuer,
    audience: options.audience,
    algorithms: ['ES256'],
    typ: IDENTITY_ASSERTION_TYPE,
    clockTolerance: options.clockSkewSec ?? 5,
    requiredClaims: ['sub', 'consumer', 'cred', 'jti', 'iat', 'exp'],
  };
  const cacheSize = options.cacheSize ?? 1000;
  const cache = new Map<string, GatehouseIdentity>();
  return {
    async verify(header) {
      if (typeof header !== 'string' || header === '') {
        throw new IdentityRefused('missing', 'no identity assertion, or more than one');
      }
      const cached = cache.get(header);
      if (cached !== undefined && Date.now() < cached.expiresAt * 1000) return cached;
      const identity = identityOf(await verifyAssertion(header, keySet, verifyOptions));
      if (cache.size >= cacheSize) cache.delete(cache.keys().next().value!);
      cache.set(header, identity);
      return identity;
    },
  };
}

async function verifyAssertion(
  token: string,
  keySet: ReturnType<typeof createLocalJWKSet>,
  options: Parameters<typeof jwtVerify>[2],
): Promise<JWTPayload> {
  try {
    const { payload } = await jwtVerify(token, keySet, options);
    if (payload.exp! - payload.iat! > MAX_ASSERTION_LIFETIME_SEC) {
      throw new IdentityRefused(
        'lifetime',
        `assertion lives ${payload.exp! - payload.iat!} s, over ${MAX_ASSERTION_LIFETIME_SEC} s`,
      );
    }
    return payload;
  } catch (err) {
    if (err instanceof IdentityRefused) throw err;
    const { code, claim } = err as { code?: string; claim?: string };
    if (code === 'ERR_JWT_EXPIRED') throw new IdentityRefused('expired', 'the assertion has expired');
    if (claim === 'aud') throw new IdentityRefused('audience', 'the assertion is for another upstream');
    if (claim === 'iss') throw new IdentityRefused('issuer', 'the assertion was not issued by this gateway');
    throw new IdentityRefused('invalid', `the assertion does not verify (${code ?? 'error'})`);
  }
}

function identityOf(payload: JWTPayload): GatehouseIdentity {
  const cred = payload.cred as { kind?: unknown; id?: unknown; iss?: unknown } | undefined;
  if (typeof payload.consumer !== 'string' || typeof cred?.kind !== 'string' || typeof cred.id !== 'string') {
    throw new IdentityRefused('invalid', 'the assertion lacks consumer or credential claims');
  }
  return Object.freeze({
    subject: payload.sub!,
    consumer: payload.consumer,
    scopes: Object.freeze(typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : []),
    roles: Object.freeze(
      Array.isArray(payload.roles) ? payload.roles.filter((r): r is string => typeof r === 'string') : [],
    ),
    credential: Object.freeze({
      kind: cred.kind,
      id: cred.id,
      issuer: typeof cred.iss === 'string' ? cred.iss : null,
    }),
    assertionId: payload.jti!,
    expiresAt: payload.exp!,
  });
}

function jwksOf(keys: JSONWebKeySet | readonly string[]): JWK[] {
  if (!Array.isArray(keys)) return [...(keys as JSONWebKeySet).keys];
  return (keys as readonly string[]).map((pem) => {
    const jwk = createPublicKey(pem).export({ format: 'jwk' }) as JWK;
    return { ...jwk, kid: ecThumbprint(jwk) };
  });
}

/** RFC 7638 §3.2 thumbprint of an EC key: the `kid` the gateway gives its keys. */
function ecThumbprint(jwk: JWK): string {
  const members = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return createHash('sha256').update(members).digest('base64url');
}
