import { blockedUntil, normalizeUsername } from '../auth/login-backoff.js';
import { BankProblem } from '../problems.js';
import type { BankContext, BankHandler } from './context.js';

/**
 * POST /auth/login: username and password → an access token (RFC 6749 §5.1 answer shape).
 * An unknown username and a wrong password take the same path (one lookup, one argon2id
 * verification, one failure counted) and get the same 401. After a few failures a username is
 * blocked with a doubling wait, whether or not it exists; while blocked, no password is checked.
 */
export function createLoginHandler(ctx: BankContext): BankHandler {
  return async function login(request, reply) {
    const body = request.body as { username: string; password: string };
    const usernameKey = normalizeUsername(body.username);
    const now = ctx.now();
    const throttle = await ctx.store.loginThrottle(usernameKey);
    if (throttle !== undefined && throttle.blockedUntil > now) throw blocked(throttle.blockedUntil, now);
    const user = await ctx.store.findUserByUsername(usernameKey);
    if (!(await ctx.passwords.matches(user?.passwordHash, body.password)) || user === undefined) {
      await ctx.store.recordLoginFailure({
        usernameKey,
        now,
        forgetBefore: now - ctx.backoff.forgetAfterMs,
        blockUntil: (failures) => blockedUntil(ctx.backoff, failures, now),
      });
      throw new BankProblem('invalid-credentials', 'unknown username or wrong password');
    }
    if (throttle !== undefined) await ctx.store.clearLoginFailures(usernameKey);
    const token = await ctx.tokens.issue(user, now);
    reply.header('cache-control', 'no-store');
    return {
      access_token: token.accessToken,
      token_type: 'Bearer',
      expires_in: token.expiresIn,
      scope: token.scope,
    };
  };
}

function blocked(until: number, now: number): BankProblem {
  const retryAfter = String(Math.max(1, Math.ceil((until - now) / 1000)));
  return new BankProblem('too-many-attempts', 'login blocked after repeated failures', {
    'retry-after': retryAfter,
  });
}
