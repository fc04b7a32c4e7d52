import type { JWTPayload } from 'jose';
import type { Principal } from '../principal.js';

/** Which claims of an issuer's tokens say what (configurable per issuer). */
export interface ClaimMapping {
  /** Space-separated string (RFC 9068 §2.2.3, RFC 8693 §4.2) or array of strings. */
  readonly scopeClaim: string;
  /** Array of strings (RFC 9068 §7.2.1.1) or a space-separated string. */
  readonly rolesClaim: string;
  /** The consumer (RFC 9068 §2.2: `client_id`); the subject when the claim is absent. */
  readonly consumerClaim: string;
}

/**
 * The principal a verified token establishes, or why its claims cannot make one. Everything
 * is frozen: the principal is cached with the token and shared by every request carrying it.
 */
export function principalFromClaims(
  payload: JWTPayload,
  issuer: string,
  mapping: ClaimMapping,
  tokenId: string,
): Principal | string {
  if (typeof payload.sub !== 'string' || payload.sub === '') return 'sub claim is missing or not a string';
  const scopes = stringList(payload[mapping.scopeClaim]);
  if (scopes === null) return `${mapping.scopeClaim} claim is neither a string nor a list of strings`;
  const roles = stringList(payload[mapping.rolesClaim]);
  if (roles === null) return `${mapping.rolesClaim} claim is neither a string nor a list of strings`;
  const consumer = payload[mapping.consumerClaim];
  return Object.freeze({
    subject: payload.sub,
    consumer: typeof consumer === 'string' && consumer !== '' ? consumer : payload.sub,
    scopes: Object.freeze(new Set(scopes)) as ReadonlySet<string>,
    roles: Object.freeze(roles),
    credential: Object.freeze({ kind: 'jwt' as const, id: tokenId, issuer }),
    claims: Object.freeze({ ...payload }),
    expiresAt: typeof payload.exp === 'number' ? payload.exp : null,
  });
}

/** A claim as a list of strings: absent → [], a string → its space-separated words. */
function stringList(value: unknown): string[] | null {
  if (value === undefined) return [];
  if (typeof value === 'string') return value.split(' ').filter((word) => word !== '');
  if (Array.isArray(value) && value.every((item) => typeof item === 'string'))
    return [...(value as string[])];
  return null;
}
