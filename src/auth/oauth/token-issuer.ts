import { randomUUID } from 'node:crypto';
import type { TokenEndpointConfig } from '../../config/types.js';
import { MINTING_KEY_CLAIM } from '../jwt/minting-key.js';
import type { Principal } from '../principal.js';
import { JwtSigner } from '../signing/sign-jwt.js';
import type { SigningKey } from '../signing/signing-keys.js';

/** RFC 9068 §2.1: the `typ` of JWT access tokens, which the gateway requires of its own tokens. */
export const ACCESS_TOKEN_TYPE = 'at+jwt';

/** A response of the token endpoint: a status and a JSON body, plus the operator-facing reason of a refusal. */
export interface TokenResponse {
  readonly status: number;
  readonly body: string;
  readonly reason: string | null;
}

/**
 * The client-credentials grant (RFC 6749 §4.4) for a client already authenticated by the
 * authenticate stage (its API key or its secret). Issues a short-lived ES256 JWT access token
 * (RFC 9068) with the scopes asked for, never more than the client holds. A token obtained with
 * an API key names the key (`key_id`, minting-key.ts), so revoking the key refuses the token too.
 */
export class TokenIssuer {
  readonly #config: TokenEndpointConfig;
  readonly #issuer: string;
  readonly #signer: JwtSigner;

  /** `keys`: the ring whose active key signs (signing-keys.ts). */
  constructor(config: TokenEndpointConfig, issuer: string, keys: { readonly active: SigningKey }) {
    this.#config = config;
    this.#issuer = issuer;
    this.#signer = new JwtSigner(keys, ACCESS_TOKEN_TYPE);
  }

  issue(
    client: Principal,
    contentType: string | undefined,
    body: Buffer | null,
    nowMs: number,
  ): TokenResponse {
    // RFC 6749 §4.4.2: the parameters are application/x-www-form-urlencoded in the body.
    if (contentType?.split(';')[0]?.trim().toLowerCase() !== 'application/x-www-form-urlencoded') {
      return refuse(400, 'invalid_request', 'oauth.request: body is not application/x-www-form-urlencoded');
    }
    const form = new URLSearchParams(body?.toString('utf8') ?? '');
    for (const name of new Set(form.keys())) {
      // RFC 6749 §3.2: parameters must not be repeated.
      if (form.getAll(name).length > 1)
        return refuse(400, 'invalid_request', `oauth.request: ${name} repeated`);
    }
    const grant = form.get('grant_type');
    // RFC 6749 §5.2: a missing parameter is a malformed request; another grant, one not supported.
    if (grant === null) return refuse(400, 'invalid_request', 'oauth.request: grant_type missing');
    if (grant !== 'client_credentials') {
      return refuse(400, 'unsupported_grant_type', 'oauth.grant: grant_type is not client_credentials');
    }
    const scopes = grantedScopes(client, form.get('scope'));
    if (typeof scopes === 'string') return refuse(400, 'invalid_scope', scopes);
    return this.#grant(client, scopes, nowMs);
  }

  #grant(client: Principal, scopes: readonly string[], nowMs: number): TokenResponse {
    const iat = Math.floor(nowMs / 1000);
    // Never outlives the credential that obtained it (an API key that expires sooner, say).
    const exp = Math.min(iat + this.#config.lifetimeSec, client.expiresAt ?? Number.MAX_SAFE_INTEGER);
    if (exp <= iat)
      return refuse(400, 'invalid_grant', 'oauth.grant: the client credential expires within a second');
    const scope = scopes.join(' ');
    const credential = client.credential;
    const token = this.#signer.sign({
      iss: this.#issuer,
      sub: client.subject,
      aud: this.#config.audience,
      client_id: client.consumer,
      scope,
      ...(credential.kind === 'api-key' ? { [MINTING_KEY_CLAIM]: credential.id } : {}),
      jti: randomUUID(),
      iat,
      exp,
    });
    const body = { access_token: token, token_type: 'Bearer', expires_in: exp - iat, scope };
    return { status: 200, body: JSON.stringify(body), reason: null };
  }
}

/** RFC 6749 §3.3: the scopes asked for, each held by the client; all it holds when none are asked for. */
function grantedScopes(client: Principal, asked: string | null): readonly string[] | string {
  const wanted = (asked ?? '').split(' ').filter((scope) => scope !== '');
  if (wanted.length === 0) return [...client.scopes];
  const missing = wanted.filter((scope) => !client.scopes.has(scope));
  if (missing.length > 0) return `oauth.scope: the client does not hold ${missing.slice(0, 5).join(', ')}`;
  return [...new Set(wanted)];
}

/** RFC 6749 §5.2: an error code only; no description, so no check is told which part failed. */
function refuse(status: number, error: string, reason: string): TokenResponse {
  return { status, body: JSON.stringify({ error }), reason };
}
