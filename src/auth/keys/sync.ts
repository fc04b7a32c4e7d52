import type { Redis } from 'ioredis';
import { redisClient } from '../../redis/client.js';
import type { Logger } from 'pino';
import { KEY_ID_PATTERN } from './key-format.js';
import type { KeyStore } from './store.js';
import type { ApiKeyVerifier } from './verifier.js';

/** Rows read per query while catching up: bounds memory and event-loop time per step. */
const PAGE = 10_000;
/** With Redis carrying the news, a slow poll only covers messages lost while it was away. */
const SAFETY_POLL_MS = 5_000;

/** The Redis channel of one installation (the store's random id): two installations never mix. */
export function keyChannel(installationId: string): string {
  return `gatehouse:${installationId}:keys`;
}

/** What a change notice says: the store's version after the change, and a key it revoked. */
export interface KeyChange {
  readonly version: number;
  readonly revoked?: string;
}

/** The notice as published: `{"version":n}` or `{"version":n,"revoked":"<key id>"}`. */
export function encodeKeyChange(change: KeyChange): string {
  return JSON.stringify(change.revoked === undefined ? { version: change.version } : change);
}

/** The key id a notice says was revoked, or null (a bare version, or anything malformed). */
export function revokedIn(message: string): string | null {
  if (message.length > 256) return null;
  try {
    const revoked: unknown = (JSON.parse(message) as { revoked?: unknown } | null)?.revoked;
    return typeof revoked === 'string' && KEY_ID_PATTERN.test(revoked) ? revoked : null;
  } catch {
    return null;
  }
}

/** How often a store that stays unreadable is said again in the log. */
const STILL_FAILING_LOG_MS = 60_000;

export interface KeySyncOptions {
  readonly store: KeyStore;
  readonly verifier: ApiKeyVerifier;
  readonly logger: Logger;
  /** Poll interval without Redis (or while Redis is unreachable); ≤ 500 keeps changes within a second. */
  readonly pollMs: number;
  readonly lastUsedFlushMs: number;
  /** When set, change notices arrive by pub/sub and polling slows to a safety net. */
  readonly redisUrl: string | null;
}

/**
 * Keeps a verifier's index in step with the store. Changes are read from the store (the one
 * source of truth): a Redis message is a nudge to read now, so a lost message costs at most one
 * safety-poll interval. The one thing a message carries is a revocation, applied at once so it
 * arrives within a second even while this process cannot read the store; a message can only
 * take access away, never grant it. While the Redis subscription is down, polling runs at
 * `pollMs` again.
 */
export class KeySync {
  readonly #options: KeySyncOptions;
  readonly #subscriber: Redis | null;
  #subscribed = false;
  #pulling: Promise<void> | null = null;
  #pullAgain = false;
  #pollTimer: NodeJS.Timeout | null = null;
  #flushTimer: NodeJS.Timeout | null = null;
  #redisWarned = false;
  #lastPull = 0;
  /** When reading the store first failed, while it keeps failing; null while it is readable. */
  #failingSince: number | null = null;
  #failingLoggedAt = 0;
  /** Keys revoked by a notice ahead of the store, and when: settled by the next read of the store. */
  readonly #noticed = new Map<string, number>();

  /** False while the key store cannot be read: the index keeps serving what it last read. */
  get storeReadable(): boolean {
    return this.#failingSince === null;
  }
  #closed = false;

  private constructor(options: KeySyncOptions, subscriber: Redis | null) {
    this.#options = options;
    this.#subscriber = subscriber;
  }

  /** Loads every key into the verifier, then follows changes until `close`. */
  static async start(options: KeySyncOptions): Promise<KeySync> {
    const channel = options.redisUrl === null ? null : keyChannel(await options.store.installationId());
    const subscriber =
      options.redisUrl === null || channel === null
        ? null
        : createSubscriber(await redisClient(), options.redisUrl);
    const sync = new KeySync(options, subscriber);
    await sync.refresh();
    if (subscriber !== null && channel !== null) sync.#listen(subscriber, channel);
    sync.#schedulePoll();
    sync.#flushTimer = setInterval(() => void sync.flushLastUsed(), options.lastUsedFlushMs).unref();
    return sync;
  }

  /** Whether change notices currently arrive by Redis (else the store is polled every pollMs). */
  get subscribed(): boolean {
    return this.#subscribed;
  }

  /** Reads every change since the index's version; concurrent calls share one read. */
  refresh(): Promise<void> {
    if (this.#pulling !== null) {
      this.#pullAgain = true;
      return this.#pulling;
    }
    this.#pulling = this.#pull().finally(() => (this.#pulling = null));
    return this.#pulling;
  }

  /** Writes the last-use times gathered since the last flush, as one batch. */
  async flushLastUsed(): Promise<void> {
    const used = this.#options.verifier.takeLastUsed();
    if (used.size === 0) return;
    try {
      await this.#options.store.recordLastUsed(used);
    } catch (err) {
      this.#options.logger.warn({ msg: 'key store: last-use times not written', error: String(err) });
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#pollTimer !== null) clearTimeout(this.#pollTimer);
    if (this.#flushTimer !== null) clearInterval(this.#flushTimer);
    this.#subscriber?.disconnect();
    await this.#pulling?.catch(() => undefined);
    await this.flushLastUsed();
  }

  async #pull(): Promise<void> {
    const { store, verifier } = this.#options;
    const started = (this.#lastPull = Date.now());
    do {
      this.#pullAgain = false;
      for (;;) {
        const changes = await store.changesSince(verifier.version, PAGE);
        verifier.apply(changes);
        if (changes.length < PAGE) break;
      }
    } while (this.#pullAgain);
    // The store, read after a notice, has the last word on the key it named: a notice that was
    // wrong (or forged) refuses the key only until then.
    for (const [id, noticedAt] of this.#noticed) {
      if (noticedAt >= started) continue;
      verifier.settle(id);
      this.#noticed.delete(id);
    }
  }

  /**
   * Ticks every `pollMs` whatever the Redis state, so losing the subscription switches to fast
   * polling at once; while subscribed, a tick only reads when the safety interval has passed.
   */
  #schedulePoll(): void {
    if (this.#closed) return;
    this.#pollTimer = setTimeout(() => {
      // While the store fails, it is tried every pollMs to notice its return soon.
      if (this.#subscribed && this.#failingSince === null && Date.now() - this.#lastPull < SAFETY_POLL_MS) {
        this.#schedulePoll();
        return;
      }
      this.refresh()
        .then(
          () => this.#recovered(),
          (err: unknown) => this.#failed(err),
        )
        .finally(() => this.#schedulePoll());
    }, this.#options.pollMs).unref();
  }

  #listen(subscriber: Redis, channel: string): void {
    subscriber.on('message', (_channel: string, message: string) => {
      const revoked = revokedIn(message);
      if (revoked !== null && this.#options.verifier.revoke(revoked)) {
        this.#noticed.set(revoked, Date.now());
        if (this.#failingSince !== null) {
          this.#options.logger.warn({
            msg: 'key sync: key revoked by notice while the store is unreadable',
            id: revoked,
          });
        }
      }
      this.refresh().then(
        () => this.#recovered(),
        (err: unknown) => this.#failed(err),
      );
    });
    subscriber.on('ready', () => {
      // ioredis resubscribes on reconnect; catch up on whatever was published meanwhile.
      subscriber.subscribe(channel).then(
        () => {
          this.#subscribed = true;
          this.#redisWarned = false;
          this.refresh().then(
            () => this.#recovered(),
            (err: unknown) => this.#failed(err),
          );
        },
        (err: unknown) => this.#redisTrouble(err),
      );
    });
    subscriber.on('close', () => (this.#subscribed = false));
    subscriber.on('error', (err: unknown) => this.#redisTrouble(err));
    subscriber.connect().catch((err: unknown) => this.#redisTrouble(err));
  }

  #redisTrouble(err: unknown): void {
    this.#subscribed = false;
    if (this.#redisWarned) return;
    this.#redisWarned = true;
    this.#options.logger.warn({ msg: 'key sync: Redis unavailable, polling the store', error: String(err) });
  }

  #failed(err: unknown): void {
    const now = Date.now();
    if (this.#failingSince !== null && now - this.#failingLoggedAt < STILL_FAILING_LOG_MS) return;
    this.#failingSince ??= now;
    this.#failingLoggedAt = now;
    // The index keeps serving what it last read; revocations arrive by Redis notice, if any.
    this.#options.logger.error({
      msg: 'key sync: cannot read the key store',
      since: new Date(this.#failingSince).toISOString(),
      revocationsBy: this.#subscribed ? 'redis' : 'none until the store answers',
      error: String(err),
    });
  }

  #recovered(): void {
    if (this.#failingSince === null) return;
    const since = this.#failingSince;
    this.#failingSince = null;
    this.#options.logger.info({
      msg: 'key sync: key store readable again',
      unreadableSince: new Date(since).toISOString(),
      unreadableForMs: Date.now() - since,
    });
  }
}

function createSubscriber(Client: typeof Redis, url: string): Redis {
  return new Client(url, {
    lazyConnect: true,
    // Reconnect for ever (polling covers the gap meanwhile); SUBSCRIBE is only sent once ready.
    maxRetriesPerRequest: null,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
}

/** Tells every gateway process that the store changed: a publish on the installation's channel. */
export interface KeyChangeNotifier {
  notify(change: KeyChange): Promise<void>;
  close(): Promise<void>;
}

export async function createRedisNotifier(
  store: KeyStore,
  redisUrl: string,
  logger: Logger | null,
): Promise<KeyChangeNotifier> {
  const channel = keyChannel(await store.installationId());
  const Client = await redisClient();
  const publisher = new Client(redisUrl, {
    lazyConnect: true,
    connectTimeout: 2_000,
    maxRetriesPerRequest: 1,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
  publisher.on('error', () => undefined);
  return {
    async notify(change: KeyChange): Promise<void> {
      try {
        await publisher.publish(channel, encodeKeyChange(change));
      } catch (err) {
        // The change is in the store: every process still learns of it at its next safety poll.
        logger?.warn({ msg: 'key sync: change notice not published', error: String(err) });
        if (logger === null) throw err;
      }
    },
    async close(): Promise<void> {
      publisher.disconnect();
    },
  };
}
