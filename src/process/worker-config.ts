import { parseDuration } from '../config/duration.js';
import type { GatehouseConfig, PreAuthLimitConfig, SimpleRateConfig } from '../config/types.js';
import type { WorkerRole } from './worker-messages.js';

type Limit = Pick<SimpleRateConfig, 'limit' | 'burst'>;

/**
 * The configuration one worker runs: the admin API only in the lead (the one listener operators
 * talk to), and each limit split: through Redis the limits stay exact, and a fallback admits
 * limit / (replicas × workers); without Redis each worker admits limit / workers, and says so in
 * RateLimit-Policy. Without Redis the login backoff is shared out too: each worker counts the
 * failures it sees, so it gets its share of the free failures and waits longer after them.
 */
export function workerConfig(config: GatehouseConfig, role: WorkerRole): GatehouseConfig {
  if (role.count === 1) return config;
  const rateLimits = {
    ...config.rateLimits,
    replicas: config.rateLimits.replicas * role.count,
    ...(config.redis === null ? { localShare: role.count } : {}),
  };
  return {
    ...config,
    rateLimits,
    preAuthLimit: config.redis === null ? splitBackoff(config.preAuthLimit, role.count) : config.preAuthLimit,
    admin: role.index === 0 ? config.admin : null,
  };
}

/**
 * Each worker keeps its own failure counts without Redis: it gets its share of the free failures
 * (at least one, as a limit's share is at least one: start-up warns when that rounds up), and
 * waits `workers` times as long after them, at most maxDelay, so that failures spread over every
 * worker are slowed about as one process would slow them.
 */
function splitBackoff(preAuth: PreAuthLimitConfig, workers: number): PreAuthLimitConfig {
  const backoff = preAuth.login.backoff;
  const initialMs = Math.min(parseDuration(backoff.initialDelay) * workers, parseDuration(backoff.maxDelay));
  const split = {
    ...backoff,
    freeFailures: backoff.freeFailures === 0 ? 0 : Math.max(1, Math.floor(backoff.freeFailures / workers)),
    initialDelay: durationText(initialMs),
  };
  return { ...preAuth, login: { ...preAuth.login, backoff: split } };
}

/**
 * Milliseconds as a configuration duration (at most nine digits and a unit): in the largest unit
 * that divides them, else in whole seconds, rounded up.
 */
export function durationText(ms: number): string {
  const units = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const;
  for (const [unit, size] of units) if (ms % size === 0) return `${ms / size}${unit}`;
  return ms < 1e9 ? `${ms}ms` : `${Math.ceil(ms / 1000)}s`;
}

/**
 * What splitting the limits over `workers` processes without Redis cannot keep: a limit (or
 * burst) below the number of workers, whose share rounds up to 1 in each, so the gateway admits
 * up to `workers` where the file says fewer.
 */
export function splitWarnings(config: GatehouseConfig, workers: number): string[] {
  if (workers === 1 || config.redis !== null) return [];
  const rates: [string, Limit | null][] = [
    ['preAuthLimit.perAddress', config.preAuthLimit.perAddress],
    ['preAuthLimit.failedAuth', config.preAuthLimit.failedAuth],
    ['preAuthLimit.login.perAddress', config.preAuthLimit.login.perAddress],
    ['preAuthLimit.login.perUsername', config.preAuthLimit.login.perUsername],
    ...Object.entries(config.rateLimits.policies).map(([name, policy]): [string, Limit] => [
      `rateLimits.policies.${name}`,
      policy,
    ]),
  ];
  const warnings = rates
    .filter(([, rate]) => rate !== null && Math.min(rate.limit, rate.burst ?? rate.limit) < workers)
    .map(
      ([path, rate]) =>
        `warning: ${path}: a limit of ${rate!.limit} split over ${workers} workers without Redis admits ` +
        `1 in each, ${workers} in all: configure redis: to keep it exact, or start fewer workers (--workers)`,
    );
  const free = config.preAuthLimit.login.backoff.freeFailures;
  if (free > 0 && free < workers) {
    warnings.push(
      `warning: preAuthLimit.login.backoff.freeFailures: ${free} free failures split over ${workers} workers ` +
        `without Redis leave 1 in each, ${workers} in all: configure redis: to keep it exact, or start fewer workers (--workers)`,
    );
  }
  return warnings;
}
