/**
 * What the limit stages remember about one request until it completes (RequestContext.limits):
 * what to release and what to count once the outcome is known.
 */
export class LimitsNote {
  /** Counted by the concurrency guard: released when the request completes. */
  inFlight = false;
  /** The client address failed authentications count against; null when the operation takes no credentials. */
  failedAuthKey: string | null = null;
  /** Login-marked operation: whose consecutive failures the outcome counts or clears. */
  loginAddressKey: string | null = null;
  loginUsernameKey: string | null = null;
  /** The login limits or backoff refused this attempt: a failed login, as the detectors count them. */
  loginRefused = false;
  /** The request body as parsed for a `body:` key; undefined until parsed, null when not JSON or a form. */
  parsedBody: unknown = undefined;
}
