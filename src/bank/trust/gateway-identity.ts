import type { JSONWebKeySet } from 'jose';
import {
  createIdentityVerifier,
  DEFAULT_IDENTITY_HEADER,
  IdentityRefused,
} from '../../auth/assertion/verify-identity.js';

/** Who the gateway says is calling, as far as the bank uses it. */
export interface GatewayIdentity {
  /** `sub`: the bank user id (a bank token's `sub`, or an API key's consumer). */
  readonly subject: string;
  readonly scopes: ReadonlySet<string>;
}

export interface GatewayTrustOptions {
  /** Request header carrying the assertion (default `gatehouse-identity`). */
  readonly header?: string;
  /** The gateway's `auth.issuer`. */
  readonly issuer: string;
  /** The bank's API name in the gateway's configuration: the assertion's `aud`. */
  readonly audience: string;
  /** The gateway's public keys: its JWK Set, or PEM public keys. */
  readonly keys: JSONWebKeySet | readonly string[];
}

export { DEFAULT_IDENTITY_HEADER, IdentityRefused };

export type VerifyGatewayIdentity = (
  headerValue: string | readonly string[] | undefined,
) => Promise<GatewayIdentity>;

/**
 * The bank's one trust check, on the gateway's own verifier (src/auth/assertion/verify-identity.ts,
 * the only gateway module the bank imports): takes the header value, returns the verified
 * identity or throws IdentityRefused. The scope set is built once per verified assertion, and
 * the verifier caches assertions, which the gateway reuses for a few seconds per caller.
 */
export function createGatewayIdentityVerifier(options: GatewayTrustOptions): VerifyGatewayIdentity {
  const verifier = createIdentityVerifier({
    keys: options.keys,
    issuer: options.issuer,
    audience: options.audience,
  });
  const scopeSets = new WeakMap<readonly string[], ReadonlySet<string>>();
  return async function verifyGatewayIdentity(headerValue) {
    const identity = await verifier.verify(headerValue);
    let scopes = scopeSets.get(identity.scopes);
    if (scopes === undefined) scopeSets.set(identity.scopes, (scopes = new Set(identity.scopes)));
    return { subject: identity.subject, scopes };
  };
}
