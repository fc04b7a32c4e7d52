import type { Logger } from 'pino';
import { describeStoreFailure, StoreUnavailable } from '../../config/store-failure.js';
import { storeEndpoint } from '../../config/store-url.js';
import type { GatehouseConfig, KeyStoreConfig, KeysConfig } from '../../config/types.js';
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

/** PostgresKeyStore's pool waits this long for a connection (its connectionTimeoutMillis). */
const POSTGRES_CONNECT_MS = 5000;

/**
 * Opens the configured store (running its migrations). A store that cannot be opened throws
 * StoreUnavailable: the configuration key, the cause and the fix, in one line.
 */
export async function openKeyStore(config: KeysConfig, logger: Logger | null): Promise<KeyStore> {
  const store = config.store;
  try {
    if (store.kind === 'sqlite') return new SqliteKeyStore(store.path);
    return await PostgresKeyStore.open(store.url, store.schema, (err) =>
      logger?.warn({ msg: 'key store: PostgreSQL connection lost', error: String(err) }),
    );
  } catch (err) {
    if (store.kind === 'postgres') {
      const failure = describeStoreFailure('postgres', store.url, err, POSTGRES_CONNECT_MS);
      throw new StoreUnavailable('keys.store.postgres.url', failure, err);
    }
    const reason = `cannot open the key store ${store.path}: ${err instanceof Error ? err.message : String(err)}`;
    const hint =
      'check that its folder can be made and written by this user, and that the file is a SQLite database (without keys.store.sqlite.path it is <stateDir>/keys.db)';
    throw new StoreUnavailable('keys.store.sqlite.path', { reason, hint }, err);
  }
}

/** The key store in use, for the start-up log: where it is, never a password. */
export function describeKeyStore(store: KeyStoreConfig): Record<string, string | null> {
  if (store.kind === 'sqlite') return { store: 'sqlite', path: store.path };
  const endpoint = storeEndpoint('postgres', store.url);
  return {
    store: 'postgres',
    host: endpoint?.address ?? null,
    database: endpoint?.database ?? null,
    schema: store.schema,
  };
}

/**
 * The hook gateway.ts calls once at start: opens the key store, loads every key into the
 * verifier and follows changes (Redis pub/sub or polling). Keys settings apply at start; a
 * reload keeps these.
 */
export async function startKeyServices(config: GatehouseConfig, logger: Logger): Promise<KeyServices> {
  const store = await openKeyStore(config.keys, logger);
  logger.info({ msg: 'key store', ...describeKeyStore(config.keys.store) });
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
    const lifecycle = new KeyLifecycle(store, async (change) => {
      await notifier?.notify(change);
      await sync.refresh();
    });
    return { verifier, lifecycle, storeReadable: () => sync.storeReadable, close };
  } catch (err) {
    await close();
    throw err;
  }
}
