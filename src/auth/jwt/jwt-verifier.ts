import { createHash } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, type JWTPayload, type ProtectedHeaderParameters } from 'jose';
import type { Principal } from '../principal.js';
import { principalFromClaims } from './claims.js';
import { compactJwsProblem } from './compact-jws.js';
import type { IssuerVerifier } from './issuer-verifier.js';
import { describeJoseFailure } from './jose-failures.js';
import { mintingKeyRefusal, type MintingKeyStates } from './minting-key.js';
import { VerifiedTokenCache } from './verified-token-cache.js';

/** A bearer token refused; `reason` (a stable `jwt.*` cause, then details) is for the operator only. */
export class JwtRefused extends Error {
  override readonly name = 'JwtRefused';
  constructor(readonly reason: string) {
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0; // an expected outcome: no stack to capture
    super(reason);
    Error.stackTraceLimit = stackTraceLimit;
  }
}

/**
 * Header parameters that make a verifier look for keys the token itself supplies or points to
 * (RFC 7515 §4.1.2–4.1.6). jose ignores them unless asked, but a token carrying one is an
 * attempt to choose its own key, and is refused outright (RFC 8725 §3.10).
 */
const KEY_SUPPLYING_PARAMETERS = ['jwk', 'jku', 'x5u', 'x5c'] as const;

export interface JwtVerifierOptions {
  readonly maxTokenBytes: number;
  readonly cacheSize: number;
  /** The key index, for tokens minted from an API key; null (no key store): such tokens are refused. */
  readonly mintingKeys: MintingKeyStates | null;
  /** Milliseconds since the epoch, for the cache and the key check; Date.now unless a test moves time. */
  readonly clock?: () => number;
}

/**
 * Verifies bearer JWTs for the configured issuers. The common path is `cached()`: a token
 * verified before costs one map lookup until its `exp`. The first sight of a token goes through
 * `verify()`: shape, header, issuer and algorithm checks, then jose (signature, iss, aud, exp,
 * nbf, required claims); concurrent requests with the same new token share one verification.
 *
 * A token the gateway minted for a client authenticated by an API key names the key
 * (minting-key.ts); on every use, cached or not, the key's state in the key index is read too
 * (one more map lookup), so a revoked key's tokens are refused as soon as the index knows.
 */
export class JwtVerifier {
  readonly #issuers: ReadonlyMap<string, IssuerVerifier>;
  readonly #withoutIss: IssuerVerifier | undefined;
  readonly #cache: VerifiedTokenCache;
  readonly #inflight = new Map<string, Promise<Principal>>();
  readonly #maxTokenBytes: number;
  readonly #mintingKeys: MintingKeyStates | null;
  readonly #clock: () => number;

  constructor(issuers: readonly IssuerVerifier[], options: JwtVerifierOptions) {
    this.#issuers = new Map(issuers.map((issuer) => [issuer.issuer, issuer]));
    this.#withoutIss = issuers.find((issuer) => issuer.takesTokensWithoutIss);
    this.#cache = new VerifiedTokenCache(options.cacheSize);
    this.#maxTokenBytes = options.maxTokenBytes;
    this.#mintingKeys = options.mintingKeys;
    this.#clock = options.clock ?? Date.now;
  }

  get cacheSize(): number {
    return this.#cache.size;
  }

  /**
   * The principal of a token verified before and not yet expired, else null. Synchronous; throws
   * JwtRefused when the API key the token was minted from is no longer active.
   */
  cached(token: string): Principal | null {
    if (token.length > this.#maxTokenBytes) return null;
    const now = this.#clock();
    const verified = this.#cache.get(token, now);
    if (verified === null) return null;
    if (verified.mintedFrom !== null) this.#refuseUnlessKeyActive(verified.mintedFrom, now);
    return verified.principal;
  }

  /** Verifies a token not in the cache; rejects with JwtRefused. */
  verify(token: string): Promise<Principal> {
    const running = this.#inflight.get(token);
    if (running !== undefined) return running;
    const verification = this.#verify(token).finally(() => this.#inflight.delete(token));
    this.#inflight.set(token, verification);
    return verification;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#issuers.values()].map((issuer) => issuer.close()));
  }

  async #verify(token: string): Promise<Principal> {
    const shape = compactJwsProblem(token, this.#maxTokenBytes);
    if (shape !== null) throw new JwtRefused(`jwt.malformed: ${shape}`);
    const claims = claimsOf(token);
    const issuer = this.#issuerOf(claims.iss, headerOf(token));
    let payload;
    try {
      payload = await issuer.verify(token, claims);
    } catch (err) {
      throw new JwtRefused(describeJoseFailure(err, issuer.issuer));
    }
    const tokenId = typeof payload.jti === 'string' ? payload.jti : digestId(token);
    const verified = principalFromClaims(payload, issuer.issuer, issuer.mapping, tokenId);
    if (typeof verified === 'string') throw new JwtRefused(`jwt.claims: ${verified}`);
    const mintedFrom = mintingKeyOf(payload, issuer);
    const principal = mintedFrom === null ? verified : Object.freeze({ ...verified, mintedFrom });
    // Cached even when its key is gone: a replayed token is then refused by a lookup, not by jose.
    this.#cache.set(token, principal, payload.exp! * 1000, mintedFrom);
    if (mintedFrom !== null) this.#refuseUnlessKeyActive(mintedFrom, this.#clock());
    return principal;
  }

  #refuseUnlessKeyActive(keyId: string, nowMs: number): void {
    const state = this.#mintingKeys === null ? 'unknown' : this.#mintingKeys.stateOf(keyId, nowMs);
    if (state !== 'active') throw new JwtRefused(mintingKeyRefusal(state, keyId));
  }

  /** The configured issuer the token claims, once its header passed; nothing here is trusted yet. */
  #issuerOf(claimed: unknown, header: ProtectedHeaderParameters): IssuerVerifier {
    const issuer =
      typeof claimed === 'string'
        ? this.#issuers.get(claimed)
        : claimed === undefined
          ? this.#withoutIss
          : undefined;
    if (issuer === undefined)
      throw new JwtRefused(`jwt.issuer: ${quote(claimed)} is not a configured issuer`);
    if (!issuer.algorithms.has(header.alg!)) {
      throw new JwtRefused(`jwt.algorithm: ${quote(header.alg)} is not allowed for ${issuer.issuer}`);
    }
    return issuer;
  }
}

/** The API key a verified token was minted from: only the gateway's own tokens name one. */
function mintingKeyOf(payload: JWTPayload, issuer: IssuerVerifier): string | null {
  if (issuer.mintingKeyClaim === null) return null;
  const keyId = payload[issuer.mintingKeyClaim];
  if (keyId === undefined) return null; // minted for a client authenticated by its secret
  if (typeof keyId !== 'string')
    throw new JwtRefused(`jwt.claims: ${issuer.mintingKeyClaim} is not a string`);
  return keyId;
}

function claimsOf(token: string): JWTPayload {
  try {
    return decodeJwt(token);
  } catch {
    throw new JwtRefused('jwt.malformed: the payload is not a JSON object');
  }
}

function headerOf(token: string): ProtectedHeaderParameters {
  let header: ProtectedHeaderParameters;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    throw new JwtRefused('jwt.malformed: the header is not a JSON object');
  }
  for (const parameter of KEY_SUPPLYING_PARAMETERS) {
    if (header[parameter] !== undefined) {
      throw new JwtRefused(`jwt.header: "${parameter}" in the header (a token may not name its own key)`);
    }
  }
  if (typeof header.alg !== 'string' || header.alg === 'none') {
    throw new JwtRefused(`jwt.algorithm: ${quote(header.alg)} (unsigned tokens are never accepted)`);
  }
  return header;
}

/** An id for a token without `jti`: not the token, and not enough to rebuild it. */
function digestId(token: string): string {
  return 'sha256:' + createHash('sha256').update(token).digest('base64url').slice(0, 22);
}

/** Attacker-chosen text for a log line: JSON-quoted and cut short. */
function quote(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}
