import type { RateLimiter } from '../../limits/rate-limit.js';
import type { RequestContext } from '../request-context.js';
import type { Stage } from '../stage.js';

/**
 * Journey stage 6 (DESIGN.md): per principal / per operation policies, quotas and throttling,
 * after authentication and before the body is read; see src/limits. A refusal is a 429 with
 * Retry-After and the RateLimit headers, decided before any upstream work.
 */
export function createRateLimitStage(limiter: RateLimiter): Stage {
  return {
    name: 'rate-limit',
    onRequest: function applyRateLimits(ctx: RequestContext): void | Promise<void> {
      return limiter.onRequest(ctx);
    },
  };
}
