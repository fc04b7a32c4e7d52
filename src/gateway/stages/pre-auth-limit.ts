import type { BanList } from '../../limits/bans.js';
import type { PreAuthLimiter } from '../../limits/pre-auth.js';
import type { RequestContext } from '../request-context.js';
import type { Stage } from '../stage.js';
import { refuseIfBanned } from './ban.js';

/**
 * Journey stage 4 (DESIGN.md): before any credential work, a banned address is refused (403),
 * then the concurrency guard and the per-address limits (floods, failed authentications, login
 * brute force); see src/limits. Its onComplete counts failed authentications and login outcomes
 * and releases the request's concurrency slot.
 */
export function createPreAuthLimitStage(limiter: PreAuthLimiter, bans: BanList): Stage {
  return {
    name: 'pre-auth-limit',
    onRequest: function limitBeforeAuthentication(ctx: RequestContext): void | Promise<void> {
      if (bans.size !== 0) refuseIfBanned(bans, 'address', ctx.journey.clientAddress);
      return limiter.onRequest(ctx);
    },
    onComplete: function countAuthenticationOutcome(ctx: RequestContext): void {
      limiter.onComplete(ctx);
    },
  };
}
