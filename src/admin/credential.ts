import { hash, timingSafeEqual } from 'node:crypto';

/** RFC 6750 §2.1: `Authorization: Bearer <token>`, the scheme name case-insensitive (RFC 9110 §11.1). */
const BEARER = /^bearer +([\x21-\x7E]+) *$/i;

/**
 * Builds the admin credential check once. Both sides are hashed to SHA-256 before the
 * constant-time comparison, so neither a wrong byte nor a wrong length shows in the timing.
 */
export function createAdminCredentialCheck(token: string): (authorization: string | undefined) => boolean {
  const isToken = createTokenCheck(token);
  return function isAdminCredential(authorization: string | undefined): boolean {
    if (authorization === undefined) return false;
    const match = BEARER.exec(authorization);
    return match !== null && isToken(match[1]!);
  };
}

/** The same comparison for a token given as it is (the dashboard's sign-in form). */
export function createTokenCheck(token: string): (presented: string) => boolean {
  if (token.length === 0) throw new TypeError('the admin API needs a credential');
  const expected = hash('sha256', token, 'buffer');
  return function isToken(presented: string): boolean {
    return timingSafeEqual(hash('sha256', presented, 'buffer'), expected);
  };
}
