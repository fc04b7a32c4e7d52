import { describe, expect, it } from 'vitest';
import { AdminSessions, csrfMatches, SESSION_COOKIE } from './sessions.js';

describe('AdminSessions', () => {
  it('finds a session by its cookie until it ends, and never by anything else', () => {
    let now = 1_000_000;
    const sessions = new AdminSessions(() => now);
    const { id, session } = sessions.create();
    expect(AdminSessions.cookie(id)).toMatch(
      new RegExp(`^${SESSION_COOKIE}=${id}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=28800$`),
    );
    expect(sessions.find(`other=1; ${SESSION_COOKIE}=${id}`)).toBe(session);
    expect(sessions.find(`${SESSION_COOKIE}=${id.slice(1)}x`)).toBeNull();
    expect(sessions.find(`${SESSION_COOKIE}=${id}x`)).toBeNull();
    expect(sessions.find(undefined)).toBeNull();
    now += 8 * 3_600_000;
    expect(sessions.find(`${SESSION_COOKIE}=${id}`)).toBeNull();
  });

  it('ends a session on sign-out, and checks its CSRF token exactly', () => {
    const sessions = new AdminSessions();
    const { id, session } = sessions.create();
    expect(csrfMatches(session, session.csrf)).toBe(true);
    expect(csrfMatches(session, session.csrf.slice(1))).toBe(false);
    expect(csrfMatches(session, undefined)).toBe(false);
    expect(csrfMatches(session, [session.csrf])).toBe(false);
    sessions.end(`${SESSION_COOKIE}=${id}`);
    expect(sessions.find(`${SESSION_COOKIE}=${id}`)).toBeNull();
  });
});
