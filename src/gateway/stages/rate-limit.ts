import type { BanList } from '../../observe/bans.js';
import type { RateLimiter } from '../../limits/rate-limit.js';
import type { RequestContext } from '../request-context.js';
import type { Stage } from '../stage.js';
import { refuseIfBanned } from './ban.js';

/**
 * Journey stage 6 (DESIGN.md): a banned consumer or key is refused first (403), then the per
 * principal / per operation policies, quotas and throttling, after authentication and before the
 * body is read; see src/limits. A limit refusal is a 429 with Retry-After and the RateLimit
 * headers, decided before any upstream work.
 */
export function createRateLimitStage(limiter: RateLimiter<RequestContext>, bans: BanList): Stage {
  return {
    name: 'rate-limit',
    onRequest: function applyRateLimits(ctx: RequestContext): void | Promise<void> {
      const principal = ctx.principal;
      if (principal !== null && bans.size !== 0) {
        refuseIfBanned(bans, 'consumer', principal.consumer);
        refuseIfBanned(bans, 'key', principal.credential.id);
        // A token minted from a banned key is refused with it, as a revoked key's tokens are.
        if (principal.mintedFrom !== undefined) refuseIfBanned(bans, 'key', principal.mintedFrom);
      }
      return limiter.onRequest(ctx);
    },
  };
}
