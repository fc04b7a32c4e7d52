import type { GatehouseConfig, SimpleRateConfig } from '../config/types.js';
import type { WorkerRole } from './worker-messages.js';

type Limit = Pick<SimpleRateConfig, 'limit' | 'burst'>;

/**
 * The configuration one worker runs: the admin API only in the lead (the one listener operators
 * talk to), and each limit split: through Redis the limits stay exact, and a fallback admits
 * limit / (replicas × workers); without Redis each worker admits limit / workers, and says so in
 * RateLimit-Policy.
 */
export function workerConfig(config: GatehouseConfig, role: WorkerRole): GatehouseConfig {
  if (role.count === 1) return config;
  const rateLimits = {
    ...config.rateLimits,
    replicas: config.rateLimits.replicas * role.count,
    ...(config.redis === null ? { localShare: role.count } : {}),
  };
  return { ...config, rateLimits, admin: role.index === 0 ? config.admin : null };
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
  return rates
    .filter(([, rate]) => rate !== null && Math.min(rate.limit, rate.burst ?? rate.limit) < workers)
    .map(
      ([path, rate]) =>
        `warning: ${path}: a limit of ${rate!.limit} split over ${workers} workers without Redis admits ` +
        `1 in each, ${workers} in all: configure redis: to keep it exact, or start fewer workers (--workers)`,
    );
}
