/**
 * Per-account backoff on failed logins: a few free failures, then a wait that doubles with each
 * failure up to a ceiling. Counted for every username tried, existing or not, so a blocked
 * unknown username looks exactly like a blocked real one.
 */
export interface LoginBackoff {
  readonly freeFailures: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  /** Failures older than this are forgotten: the count starts again from one. */
  readonly forgetAfterMs: number;
}

export const DEFAULT_LOGIN_BACKOFF: LoginBackoff = {
  freeFailures: 5,
  initialDelayMs: 1_000,
  maxDelayMs: 15 * 60_000,
  forgetAfterMs: 24 * 60 * 60_000,
};

/** When the next attempt may be made after `failures` consecutive failures (0: right away). */
export function blockedUntil(backoff: LoginBackoff, failures: number, now: number): number {
  const excess = failures - backoff.freeFailures;
  if (excess <= 0) return 0;
  const delay = Math.min(backoff.maxDelayMs, backoff.initialDelayMs * 2 ** Math.min(excess - 1, 40));
  return now + delay;
}

/** Usernames compare case-insensitively; the throttle counts per normalized name. */
export function normalizeUsername(username: string): string {
  return username.normalize('NFC').toLowerCase();
}
