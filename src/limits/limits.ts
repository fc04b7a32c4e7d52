import type { Logger } from 'pino';
import type { GatehouseConfig } from '../config/types.js';
import type { CompiledApi } from '../contract/index.js';
import { createLogger } from '../observe/logger.js';
import { createBodyReader } from './body-field.js';
import { ConcurrencyGuard } from './concurrency.js';
import { Limiter } from './limiter.js';
import { MemoryStore } from './memory-store.js';
import { compileOperationPlans, compilePreAuthPlans } from './plan.js';
import { PreAuthLimiter } from './pre-auth.js';
import { RateLimiter } from './rate-limit.js';
import { RedisStore, type StoreHealthListener } from './redis-store.js';
import { compilePreAuthRules } from './rule.js';
import { BanList } from './bans.js';

/** The limits of one runtime: what the pre-auth limit and rate limit stages run. */
export interface Limits {
  readonly preAuth: PreAuthLimiter;
  readonly rateLimit: RateLimiter;
  readonly concurrency: ConcurrencyGuard;
  /** true when the limits are shared through Redis. */
  readonly shared: boolean;
  /** false while the shared store cannot be reached (failure policies decide meanwhile). */
  storeAvailable(): boolean;
  close(): Promise<void>;
}

/** How long start-up waits for Redis; past it the gateway serves under the failure policies. */
const REDIS_READY_MS = 1000;

/**
 * Compiles every policy of the configuration and the contract, and opens the store. Everything
 * here happens once per configuration (start-up or reload), nothing per request.
 */
export async function createLimits(
  config: GatehouseConfig,
  apis: readonly CompiledApi[],
  logger: Logger | null = null,
  bans: BanList = new BanList(),
): Promise<Limits> {
  const replicas = config.rateLimits.replicas;
  const operationPlans = compileOperationPlans(config.rateLimits, apis);
  const preAuthRules = compilePreAuthRules(config.preAuthLimit, replicas);
  const preAuthPlans = compilePreAuthPlans(preAuthRules, apis);
  const memory = new MemoryStore(config.rateLimits.maxKeys);
  // Store outages are logged; a limiter built outside a gateway (tests, benches) gets a logger of its own.
  const ownLogger = logger === null && config.redis !== null ? createLogger(config.log) : null;
  const log = logger ?? ownLogger;
  const redis = config.redis === null || log === null ? null : new RedisStore(config.redis, healthLog(log));
  if (redis !== null && !(await redis.ready(REDIS_READY_MS))) {
    log?.warn({ msg: 'rate-limit store not reachable at start; failure policies apply until it is' });
  }
  const limiter = new Limiter(memory, redis);
  const concurrency = new ConcurrencyGuard(config.concurrency);
  const readBody = createBodyReader(config.limits);
  return {
    preAuth: new PreAuthLimiter({
      plans: preAuthPlans,
      rules: preAuthRules,
      limiter,
      concurrency,
      readBody,
      failureStatuses: config.preAuthLimit.login.failureStatuses,
      bans,
    }),
    rateLimit: new RateLimiter({
      plans: operationPlans,
      limiter,
      readBody,
      maxDelayed: config.rateLimits.maxDelayed,
    }),
    concurrency,
    shared: redis !== null,
    storeAvailable: () => redis === null || redis.available,
    async close() {
      concurrency.close();
      await limiter.close();
      ownLogger?.flush();
    },
  };
}

/** Store failures and recoveries, once each per transition: the requests in between say it in their journeys. */
function healthLog(logger: Logger): StoreHealthListener {
  return {
    down: (reason) =>
      logger.warn({
        msg: 'rate-limit store unavailable: each policy now applies its onStoreFailure (fallback, closed or open)',
        reason,
      }),
    up: () => logger.info({ msg: 'rate-limit store answering again: limits are shared again' }),
  };
}
