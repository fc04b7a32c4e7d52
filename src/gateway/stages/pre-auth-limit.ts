import type { PreAuthLimiter } from '../../limits/pre-auth.js';
import type { RequestContext } from '../request-context.js';
import type { Stage } from '../stage.js';

/**
 * Journey stage 4 (DESIGN.md): before any credential work, the concurrency guard, a banned
 * address, and the per-address limits (floods, failed authentications, login brute force); see
 * src/limits. Its onComplete counts failed authentications and login outcomes and releases the
 * request's concurrency slot.
 */
export function createPreAuthLimitStage(limiter: PreAuthLimiter<RequestContext>): Stage {
  return {
    name: 'pre-auth-limit',
    onRequest: function limitBeforeAuthentication(ctx: RequestContext): void | Promise<void> {
      return limiter.onRequest(ctx);
    },
    onComplete: function countAuthenticationOutcome(ctx: RequestContext): void {
      limiter.onComplete(ctx);
    },
  };
}
