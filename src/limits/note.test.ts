import { describe, expect, it } from 'vitest';
import type { ResponseTest } from './extension.js';
import { LimitsNote, upstreamLoginOutcome } from './note.js';

const FAILURES = new Set([401, 403]);
const TOKEN_ABSENT: ResponseTest = { tokens: ['token'], test: 'absent', value: null, text: '/token absent' };

/** A login note as the stages leave it: the upstream's status, and what its tests made of the response. */
function login(status: number | null, read: { failedWhen?: boolean; read?: boolean; failed?: string } = {}) {
  const note = new LimitsNote();
  note.loginAddressKey = '10.0.0.1';
  note.loginResponseStatus = status;
  if (read.failedWhen === true) note.loginFailedWhen = [TOKEN_ABSENT];
  note.loginResponseRead = read.read ?? false;
  note.loginResponseFailed = read.failed ?? null;
  return note;
}

describe('upstreamLoginOutcome', () => {
  it('decides by status: a failure status, a 2xx the client got, anything else', () => {
    expect(upstreamLoginOutcome(login(401), FAILURES, null)).toBe('failure');
    expect(upstreamLoginOutcome(login(200), FAILURES, null)).toBe('success');
    expect(upstreamLoginOutcome(login(302), FAILURES, null)).toBeNull();
    expect(upstreamLoginOutcome(login(null), FAILURES, 'GH_LIMIT_RATE_EXCEEDED')).toBeNull();
    expect(upstreamLoginOutcome(null, FAILURES, null)).toBeNull();
  });

  it('never counts a 2xx the gateway replaced as a success', () => {
    expect(upstreamLoginOutcome(login(200), FAILURES, 'GH_UPSTREAM_CONTRACT_VIOLATION')).toBeNull();
    expect(upstreamLoginOutcome(login(500), new Set([500]), 'GH_UPSTREAM_BAD_RESPONSE')).toBe('failure');
  });

  it('with failedWhen, counts a success only for an answer read whole that met no test', () => {
    expect(upstreamLoginOutcome(login(200, { failedWhen: true, read: true }), FAILURES, null)).toBe(
      'success',
    );
    const failed = login(200, { failedWhen: true, read: true, failed: '/token absent' });
    expect(upstreamLoginOutcome(failed, FAILURES, null)).toBe('failure');
    // Cut short or replaced before its tests ran: it must not reset the backoff.
    expect(upstreamLoginOutcome(login(200, { failedWhen: true }), FAILURES, null)).toBe('failure');
    const replaced = login(200, { failedWhen: true, read: true });
    expect(upstreamLoginOutcome(replaced, FAILURES, 'GH_UPSTREAM_CONTRACT_VIOLATION')).toBe('failure');
  });
});
