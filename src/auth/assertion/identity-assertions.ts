import { randomUUID } from 'node:crypto';
import type { IdentityConfig } from '../../config/types.js';
import type { Principal } from '../principal.js';
import { JwtSigner } from '../signing/sign-jwt.js';
import type { SigningKey } from '../signing/signing-keys.js';
import { IDENTITY_ASSERTION_TYPE } from './verify-identity.js';

interface Cached {
  /** [header name, assertion]: appended as it is to the upstream request's headers. */
  readonly pair: readonly string[];
  readonly refreshAtMs: number;
}

/**
 * Signs the identity assertion for upstreams (verify-identity.ts checks it): an ES256 JWT with
 * the caller's subject, consumer, scopes, roles and credential id, `aud` = the upstream.
 *
 * An ES256 signature costs ~50 µs here, half of what the whole proxied request costs, so with
 * `reuseSec` > 0 an assertion is reused for the same principal and upstream for that long (it
 * lives `lifetimeSec`, so an upstream always receives one with ≥ lifetimeSec − reuseSec left).
 * The trade-off: `jti` then names the assertion, not the request (the request id travels in
 * `x-request-id`, unsigned), and a captured assertion could be replayed for its remaining
 * lifetime — which is why the hop is mTLS, so only the gateway can present it. With
 * `reuseSec: 0` every request gets its own assertion and `jti` is the request id.
 */
export class IdentityAssertions {
  readonly #header: string;
  readonly #signer: JwtSigner;
  readonly #issuer: string;
  readonly #lifetimeSec: number;
  readonly #reuseMs: number;
  readonly #cache = new WeakMap<Principal, Map<string, Cached>>();

  /** `keys`: the ring whose active key signs (signing-keys.ts). */
  constructor(config: IdentityConfig, issuer: string, keys: { readonly active: SigningKey }) {
    this.#header = config.header.toLowerCase();
    this.#signer = new JwtSigner(keys, IDENTITY_ASSERTION_TYPE);
    this.#issuer = issuer;
    this.#lifetimeSec = config.lifetimeSec;
    this.#reuseMs = config.reuseSec * 1000;
  }

  /** The header (name, value) to add for `principal` calling `audience`. */
  headerFor(principal: Principal, audience: string, requestId: string, nowMs: number): readonly string[] {
    if (this.#reuseMs === 0) return [this.#header, this.#sign(principal, audience, requestId, nowMs)];
    let byAudience = this.#cache.get(principal);
    const cached = byAudience?.get(audience);
    if (cached !== undefined && nowMs < cached.refreshAtMs) return cached.pair;
    const assertion = this.#sign(principal, audience, randomUUID(), nowMs);
    const expMs = expiresAt(principal, nowMs, this.#lifetimeSec) * 1000;
    // Reused at most reuseSec, and never so late that less than (lifetime − reuse) is left.
    const refreshAtMs = Math.min(nowMs + this.#reuseMs, expMs - (this.#lifetimeSec * 1000 - this.#reuseMs));
    if (byAudience === undefined) this.#cache.set(principal, (byAudience = new Map()));
    const pair = Object.freeze([this.#header, assertion]);
    byAudience.set(audience, { pair, refreshAtMs });
    return pair;
  }

  #sign(principal: Principal, audience: string, jti: string, nowMs: number): string {
    const credential = principal.credential;
    return this.#signer.sign({
      iss: this.#issuer,
      aud: audience,
      sub: principal.subject,
      consumer: principal.consumer,
      scope: [...principal.scopes].join(' '),
      roles: principal.roles,
      cred: { kind: credential.kind, id: credential.id, iss: credential.issuer },
      jti,
      iat: Math.floor(nowMs / 1000),
      exp: expiresAt(principal, nowMs, this.#lifetimeSec),
    });
  }
}

/** Never later than the credential it vouches for. */
function expiresAt(principal: Principal, nowMs: number, lifetimeSec: number): number {
  const exp = Math.floor(nowMs / 1000) + lifetimeSec;
  return principal.expiresAt === null ? exp : Math.min(exp, principal.expiresAt);
}
