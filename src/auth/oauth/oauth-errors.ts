import type { ErrorCode } from '../../errors/catalogue.js';

/**
 * RFC 6749 §5.2: how the token endpoint answers a refusal by an earlier stage, so OAuth client
 * libraries (which read the `error` member) understand it. Only the error code: no description,
 * so no caller learns which check failed. Refusals that are not the request's fault or no OAuth
 * matter (limits, transport, the gateway's own faults) keep the gateway's problem answers.
 */
const OAUTH_ERRORS: Partial<Record<ErrorCode, { readonly status: number; readonly error: string }>> = {
  // No credential, an unknown client, a wrong secret or key, a revoked or expired one.
  GH_AUTH_UNAUTHENTICATED: { status: 401, error: 'invalid_client' },
  // An authenticated client this grant is not for.
  GH_AUTH_FORBIDDEN: { status: 400, error: 'unauthorized_client' },
  // Not the form-encoded body §4.4.2 requires, or a parameter the endpoint's contract refuses.
  GH_VALIDATE_MEDIA_TYPE: { status: 400, error: 'invalid_request' },
  GH_VALIDATE_BODY: { status: 400, error: 'invalid_request' },
  GH_VALIDATE_PARAMETER: { status: 400, error: 'invalid_request' },
};

export function oauthErrorFor(code: ErrorCode): { readonly status: number; readonly error: string } | null {
  return OAUTH_ERRORS[code] ?? null;
}
