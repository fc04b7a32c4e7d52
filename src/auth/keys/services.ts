import type { Logger } from 'pino';
import type { GatehouseConfig, KeysConfig } from '../../config/types.js';
import { KeyLifecycle } from './lifecycle.js';
import { PostgresKeyStore } from './postgres-store.js';
import { SqliteKeyStore } from './sqlite-store.js';
import type { KeyStore } from './store.js';
import { createRedisNotifier, KeySync, type KeyChangeNotifier } from './sync.js';
import { ApiKeyVerifier } from './verifier.js';

/** The key parts of a running gateway: the index requests are checked against, and the lifecycle the admin API drives. */
export interface KeyServices {
  readonly verifier: ApiKeyVerifier;
  readonly lifecycle: KeyLifecycle;
  /** False while the store cannot be read (the index serves what it last read). */
  storeReadable(): boolean;
  close(): Promise<void>;
}

/** Opens the configured store (running its migrations). */
export async function openKeyStore(config: KeysConfig, logger: Logger | null): Promise<KeyStore> {
  if (config.store.kind === 'sqlite') return new SqliteKeyStore(config.store.path);
  return PostgresKeyStore.open(config.store.url, config.store.schema, (err) =>
    logger?.warn({ msg: 'key store: PostgreSQL connection lost', error: String(err) }),
  );
}

/**
 * The hook gateway.ts calls once at start: opens the key store, loads every key into the
 * verifier and follows changes (Redis pub/sub or polling). Keys settings apply at start; a
 * reload keeps these.
 */
export async function startKeyServices(config: GatehouseConfig, logger: Logger): Promise<KeyServices> {
  const store = await openKeyStore(config.keys, logger);
  const opened: { sync?: KeySync; notifier?: KeyChangeNotifier } = {};
  const close = async (): Promise<void> => {
    await opened.sync?.close();
    await opened.notifier?.close();
    await store.close();
  };
  try {
    const verifier = new ApiKeyVerifier();
    const started = performance.now();
    const sync = (opened.sync = await KeySync.start({
      store,
      verifier,
      logger,
      pollMs: config.keys.sync.pollMs,
      lastUsedFlushMs: config.keys.lastUsedFlushMs,
      redisUrl: config.keys.sync.redisUrl,
    }));
    logger.info({ msg: 'API keys loaded', keys: verifier.size, ms: Math.round(performance.now() - started) });
    const redisUrl = config.keys.sync.redisUrl;
    const notifier =
      redisUrl === null ? null : (opened.notifier = await createRedisNotifier(store, redisUrl, logger));
    // A change made here is applied here at once, and announced to the other processes.
    const lifecycle = new KeyLifecycle(store, async (version) => {
      await notifier?.notify(version);
      await sync.refresh();
    });
    return { verifier, lifecycle, storeReadable: () => sync.storeReadable, close };
  } catch (err) {
    await close();
    throw err;
  }
}
