import { redisClient } from '../redis/client.js';
import pg from 'pg';
import type { StoreProblem } from '../config/load.js';
import { describeStoreFailure } from '../config/store-failure.js';
import { configuredStores, type StoreKind } from '../config/store-url.js';
import type { GatehouseConfig } from '../config/types.js';

/** Long enough for a store across a data centre, short enough for a check a person waits on. */
export const STORE_PROBE_MS = 2_000;

/**
 * `gatehouse check-config`: connects to every store the configuration names (PostgreSQL key
 * store, Redis of key sync, limits and bans), all at once, each for at most `timeoutMs`, and
 * says what is wrong at which key. Nothing is written: a login and one round trip each.
 */
export async function probeStores(
  config: GatehouseConfig,
  timeoutMs: number = STORE_PROBE_MS,
): Promise<StoreProblem[]> {
  const results = await Promise.all(
    configuredStores(config).map(async ({ at, kind, url }): Promise<StoreProblem | null> => {
      const err = await probeStore(kind, url, timeoutMs);
      if (err === null) return null;
      const { reason, hint } = describeStoreFailure(kind, url, err, timeoutMs);
      return { at, message: reason, hint };
    }),
  );
  return results.filter((problem) => problem !== null);
}

/** What the store's client threw, or null when it answered. */
export async function probeStore(kind: StoreKind, url: string, timeoutMs: number): Promise<unknown> {
  const probe = kind === 'postgres' ? probePostgres(url, timeoutMs) : probeRedis(url, timeoutMs);
  return probe.then(
    () => null,
    (err: unknown) => err,
  );
}

async function probePostgres(url: string, timeoutMs: number): Promise<void> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
  });
  client.on('error', () => undefined); // the failure is the rejection below; never an unhandled event
  try {
    await withTimeout(
      client.connect().then(() => client.query('SELECT 1')),
      timeoutMs,
    );
  } finally {
    void client.end().catch(() => undefined);
  }
}

async function probeRedis(url: string, timeoutMs: number): Promise<void> {
  const Redis = await redisClient();
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null, // one attempt: a probe reports, it does not wait for a recovery
  });
  // ioredis rejects with "Connection is closed."; the event before it says why (ECONNREFUSED, WRONGPASS…).
  let first: unknown = null;
  redis.on('error', (err: unknown) => (first ??= err));
  try {
    await withTimeout(
      redis.connect().then(() => redis.ping()),
      timeoutMs,
    );
  } catch (err) {
    throw first ?? err;
  } finally {
    redis.disconnect();
  }
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
