import diagnosticsChannel from 'node:diagnostics_channel';
import type { Logger } from 'pino';
import type { GatehouseConfig, RedisConfig } from '../config/types.js';
import type { CompiledApi } from '../contract/index.js';
import { createLogger } from '../observe/logger.js';
import { ConcurrencyGuard } from './concurrency.js';
import { Limiter, type SharedStore } from './limiter.js';
import { MemoryStore } from './memory-store.js';
import { compileOperationPlans, compilePreAuthPlans } from './plan.js';
import { PreAuthLimiter } from './pre-auth.js';
import { RateLimiter } from './rate-limit.js';
import { redisClient } from '../redis/client.js';
import { RedisStore } from './redis-store.js';
import { compilePreAuthRules } from './rule.js';
import { BanList } from '../observe/bans.js';
import { CircuitBreaker, type BreakerListener } from './breaker.js';
import type { BodyReader, LimitedRequest } from './request.js';

/** The limits of one runtime: what the pre-auth limit and rate limit stages run. */
export interface Limits<R extends LimitedRequest = LimitedRequest> {
  readonly preAuth: PreAuthLimiter<R>;
  readonly rateLimit: RateLimiter<R>;
  readonly concurrency: ConcurrencyGuard;
  /** true when the limits are shared through Redis. */
  readonly shared: boolean;
  /** false while the breaker in front of the shared store is open (failure policies decide meanwhile). */
  storeAvailable(): boolean;
  close(): Promise<void>;
}

/** How long start-up waits for Redis; past it the gateway serves under the failure policies. */
const REDIS_READY_MS = 1000;

/**
 * Compiles every policy of the configuration and the contract, and opens the store. Everything
 * here happens once per configuration (start-up or reload), nothing per request.
 */
export async function createLimits<R extends LimitedRequest>(
  config: GatehouseConfig,
  apis: readonly CompiledApi[],
  /** Reads the request body early, for a policy keyed on a body field (the gateway's body stage). */
  readBody: BodyReader<R>,
  logger: Logger | null = null,
  bans: BanList = new BanList(),
): Promise<Limits<R>> {
  const replicas = config.rateLimits.replicas;
  const operationPlans = compileOperationPlans(config.rateLimits, apis);
  const preAuthRules = compilePreAuthRules(config.preAuthLimit, replicas, config.rateLimits.localShare);
  const preAuthPlans = compilePreAuthPlans(preAuthRules, apis);
  const memory = new MemoryStore(config.rateLimits.maxKeys);
  // Store outages are logged; a limiter built outside a gateway (tests, benches) gets a logger of its own.
  const ownLogger = logger === null && config.redis !== null ? createLogger(config.log) : null;
  const log = logger ?? ownLogger;
  const shared = config.redis === null || log === null ? null : await openSharedStore(config.redis, log);
  const limiter = new Limiter(memory, shared);
  const concurrency = new ConcurrencyGuard(config.concurrency);
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
    shared: shared !== null,
    storeAvailable: () => limiter.storeAvailable,
    async close() {
      concurrency.close();
      await limiter.close();
      ownLogger?.flush();
    },
  };
}

/**
 * `{ state: 'open', reason, failures }` when the breaker opens, `{ state: 'closed', openForMs,
 * fellBack }` when it closes: one message per change, for whatever watches from outside.
 */
export const limitsStoreChannel = diagnosticsChannel.channel('gatehouse:limits:store');

async function openSharedStore(config: RedisConfig, log: Logger): Promise<SharedStore> {
  const store = new RedisStore(config, await redisClient());
  const breaker = new CircuitBreaker(config.breaker, breakerLog(log), () => store.probe());
  if (!(await store.ready(REDIS_READY_MS))) breaker.trip('redis: not reachable at start');
  return { store, breaker };
}

/** The store given up on and back, once each per change: the requests in between say it in their journeys. */
function breakerLog(logger: Logger): BreakerListener {
  return {
    opened(reason, failures) {
      logger.warn({
        msg: 'rate-limit store unavailable: each policy now applies its onStoreFailure (fallback, closed or open)',
        reason,
        failures,
      });
      if (limitsStoreChannel.hasSubscribers) limitsStoreChannel.publish({ state: 'open', reason, failures });
    },
    closed(openForMs, fellBack) {
      const ms = Math.round(openForMs);
      logger.info({
        msg: 'rate-limit store answering again: limits are shared again',
        openForMs: ms,
        fellBack,
      });
      if (limitsStoreChannel.hasSubscribers)
        limitsStoreChannel.publish({ state: 'closed', openForMs: ms, fellBack });
    },
  };
}
