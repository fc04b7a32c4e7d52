import { KeySetUnavailable } from './remote-jwks.js';

/**
 * A stable `jwt.*` cause for an error jose (or the key set) raised while verifying, for the
 * journey record and the log. jose's codes are stable (`ERR_*`); its messages never reach a client.
 */
export function describeJoseFailure(err: unknown, issuer: string): string {
  if (err instanceof KeySetUnavailable) return `jwt.keys-unavailable: ${err.message}`;
  const { code, claim, reason } = err as { code?: unknown; claim?: unknown; reason?: unknown };
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return 'jwt.expired: exp is in the past (beyond the clock skew)';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return describeClaimFailure(String(claim), String(reason), issuer);
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return `jwt.signature: the signature does not verify with the keys of ${issuer}`;
    case 'ERR_JWKS_NO_MATCHING_KEY':
      return `jwt.unknown-key: no key of ${issuer} matches the token's kid/alg (refetch done or rate-limited)`;
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return `jwt.algorithm: ${errorText(err)}`;
    case 'ERR_JWT_INVALID':
    case 'ERR_JWS_INVALID':
      return `jwt.malformed: ${errorText(err)}`;
    default:
      return `jwt.invalid: ${errorText(err)}`;
  }
}

function describeClaimFailure(claim: string, reason: string, issuer: string): string {
  if (claim === 'nbf') return 'jwt.not-yet-valid: nbf is in the future (beyond the clock skew)';
  if (claim === 'aud') return `jwt.audience: aud is not an audience configured for ${issuer}`;
  if (claim === 'iss') return `jwt.issuer: iss is not ${issuer}`;
  if (claim === 'typ') return 'jwt.type: the typ header is not the one this issuer uses';
  if (reason === 'missing') return `jwt.claims: required claim ${claim} is missing`;
  return `jwt.claims: ${claim} ${reason}`;
}

function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
