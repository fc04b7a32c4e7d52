import type { DeviceCookies } from './device-cookie.js';
import type { ResponseTest } from './extension.js';

/**
 * What the limit stages remember about one request until it completes (LimitedRequest.limits):
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
  /**
   * The device a valid device cookie for this username names: the per-username limits and the
   * backoff count against it instead of the username. null without one (device-cookie.ts).
   */
  loginDeviceId: string | null = null;
  /** Where a successful login's device cookie comes from; null when device cookies are off or there is no username. */
  devices: DeviceCookies | null = null;
  /** The login limits or backoff refused this attempt: a failed login, as the detectors count them. */
  loginRefused = false;
  /** Tests that make a 2xx login answer a failure (`x-gatehouse-login.failedWhen`); null = by status only. */
  loginFailedWhen: readonly ResponseTest[] | null = null;
  /** The status the upstream answered the login with; null when it was not reached (or not a login). */
  loginResponseStatus: number | null = null;
  /** The failedWhen test the response met, as written; null when none did (or none was checked). */
  loginResponseFailed: string | null = null;
  /** The failedWhen tests were run on the whole response. */
  loginResponseRead = false;
  /** The request body as parsed for a `body:` key; undefined until parsed, null when not JSON or a form. */
  parsedBody: unknown = undefined;
}

/**
 * What the upstream's response to a login-marked request says: a failure when its status is one of
 * the failure statuses or a 2xx answer meets a `failedWhen` test (or could not be read for them),
 * a success on any other 2xx that reached the client, null otherwise (not a login, not answered
 * by the upstream, another status). `code` is the refusal the client got instead, if any.
 */
export function upstreamLoginOutcome(
  note: LimitsNote | null,
  failureStatuses: ReadonlySet<number>,
  code: string | null,
): 'failure' | 'success' | null {
  if (note === null || note.loginAddressKey === null) return null;
  const status = note.loginResponseStatus;
  if (status === null) return null;
  if (failureStatuses.has(status)) return 'failure';
  if (status < 200 || status >= 300) return null;
  if (note.loginFailedWhen !== null) {
    // Its tests decide; a response they never read (replaced, cut short) counts as a failure.
    return note.loginResponseFailed === null && note.loginResponseRead && code === null
      ? 'success'
      : 'failure';
  }
  // A 2xx the gateway replaced (a contract violation, too large) never reached the client.
  return code === null ? 'success' : null;
}

/** No 2xx is ever a failure status (the config schema), so telling a success needs none. */
const NO_FAILURE_STATUSES: ReadonlySet<number> = new Set();

/**
 * The `Set-Cookie` value of a device cookie for a login the upstream's response made a success, or
 * null. Asked when the response's headers are known (decided by status) and, for a login with
 * failedWhen tests, once they have read the held response (before that it is not yet a success).
 */
export function loginDeviceCookie(note: LimitsNote): string | null {
  const devices = note.devices;
  if (devices === null || note.loginUsernameKey === null) return null;
  if (upstreamLoginOutcome(note, NO_FAILURE_STATUSES, null) !== 'success') return null;
  return devices.issue(note.loginUsernameKey, note.loginDeviceId);
}
