import type { Redis } from 'ioredis';

let loading: Promise<typeof Redis> | null = null;

/**
 * The Redis client class (ioredis), loaded on first use: a gateway configured without Redis never
 * loads it, which keeps about a tenth of a second off every start on a busy machine.
 */
export function redisClient(): Promise<typeof Redis> {
  loading ??= import('ioredis').then((module) => module.Redis);
  return loading;
}
