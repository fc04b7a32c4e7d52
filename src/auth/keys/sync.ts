import { Redis } from 'ioredis';
import type { Logger } from 'pino';
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
 * Keeps a verifier's index in step with the store. Changes are always read from the store (the
 * one source of truth): a Redis message is only a nudge to read now, so nothing trusted travels
 * through Redis and a lost message costs at most one safety-poll interval. While the Redis
 * subscription is down, polling runs at `pollMs` again.
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
  #failing = false;

  /** False while the key store cannot be read: the index keeps serving what it last read. */
  get storeReadable(): boolean {
    return !this.#failing;
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
      options.redisUrl === null || channel === null ? null : createSubscriber(options.redisUrl);
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
    this.#lastPull = Date.now();
    do {
      this.#pullAgain = false;
      for (;;) {
        const changes = await store.changesSince(verifier.version, PAGE);
        verifier.apply(changes);
        if (changes.length < PAGE) break;
      }
    } while (this.#pullAgain);
  }

  /**
   * Ticks every `pollMs` whatever the Redis state, so losing the subscription switches to fast
   * polling at once; while subscribed, a tick only reads when the safety interval has passed.
   */
  #schedulePoll(): void {
    if (this.#closed) return;
    this.#pollTimer = setTimeout(() => {
      if (this.#subscribed && Date.now() - this.#lastPull < SAFETY_POLL_MS) {
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
    subscriber.on('message', () => void this.refresh().catch((err: unknown) => this.#failed(err)));
    subscriber.on('ready', () => {
      // ioredis resubscribes on reconnect; catch up on whatever was published meanwhile.
      subscriber.subscribe(channel).then(
        () => {
          this.#subscribed = true;
          this.#redisWarned = false;
          void this.refresh().catch((err: unknown) => this.#failed(err));
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
    if (this.#failing) return;
    this.#failing = true;
    // The index keeps serving what it last read; revocations wait until the store answers.
    this.#options.logger.error({ msg: 'key sync: cannot read the key store', error: String(err) });
  }

  #recovered(): void {
    if (!this.#failing) return;
    this.#failing = false;
    this.#options.logger.info({ msg: 'key sync: key store readable again' });
  }
}

function createSubscriber(url: string): Redis {
  return new Redis(url, {
    lazyConnect: true,
    // Reconnect for ever (polling covers the gap meanwhile); SUBSCRIBE is only sent once ready.
    maxRetriesPerRequest: null,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
}

/** Tells every gateway process that the store changed: a publish on the installation's channel. */
export interface KeyChangeNotifier {
  notify(version: number): Promise<void>;
  close(): Promise<void>;
}

export async function createRedisNotifier(
  store: KeyStore,
  redisUrl: string,
  logger: Logger | null,
): Promise<KeyChangeNotifier> {
  const channel = keyChannel(await store.installationId());
  const publisher = new Redis(redisUrl, {
    lazyConnect: true,
    connectTimeout: 2_000,
    maxRetriesPerRequest: 1,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
  publisher.on('error', () => undefined);
  return {
    async notify(version: number): Promise<void> {
      try {
        await publisher.publish(channel, String(version));
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
