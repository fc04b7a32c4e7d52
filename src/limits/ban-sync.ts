import { Redis } from 'ioredis';
import { parseBan, type Ban, type BanList, type BanListener } from './bans.js';

/** A lost message costs at most this: every process reads the whole list again this often. */
const RESYNC_MS = 5_000;
/** A ban this recent may not have reached Redis yet: a resync does not drop it. */
const IN_FLIGHT_MS = 2_000;

export interface BanSyncLog {
  warn(fields: Record<string, unknown>): void;
  info(fields: Record<string, unknown>): void;
}

/**
 * Shares bans between gateway processes through Redis: each ban is a key that expires with it
 * (`<prefix>ban:<id>`), and a message on `<prefix>bans` carries a set or a lift to every process
 * at once. Requests never wait for Redis: they read the local BanList, which this keeps in step.
 * While Redis is away, bans still apply where they were set, and the others arrive once it is back.
 */
export class RedisBanSync implements BanListener {
  readonly #bans: BanList;
  readonly #redis: Redis;
  readonly #subscriber: Redis;
  readonly #prefix: string;
  readonly #log: BanSyncLog;
  readonly #timer: NodeJS.Timeout;
  #healthy = true;

  constructor(bans: BanList, url: string, prefix: string, log: BanSyncLog) {
    this.#bans = bans;
    this.#prefix = prefix;
    this.#log = log;
    const options = {
      connectTimeout: 2_000,
      maxRetriesPerRequest: 1,
      retryStrategy: (attempt: number) => Math.min(attempt * 200, 2_000),
    };
    this.#redis = new Redis(url, options);
    this.#subscriber = new Redis(url, { ...options, maxRetriesPerRequest: null });
    this.#redis.on('error', (err: Error) => this.#trouble(err));
    this.#subscriber.on('error', (err: Error) => this.#trouble(err));
    this.#subscriber.on('message', (_channel: string, message: string) => this.#onMessage(message));
    this.#subscriber.subscribe(this.#channel).catch((err: unknown) => this.#trouble(err));
    this.#timer = setInterval(() => void this.resync(), RESYNC_MS).unref();
    bans.listen(this);
  }

  /** False while Redis cannot be reached: bans then hold only where they were set. */
  get healthy(): boolean {
    return this.#healthy;
  }

  get #channel(): string {
    return `${this.#prefix}bans`;
  }

  set(ban: Ban): void {
    const ttl = Math.max(1, ban.expiresAt - Date.now());
    const text = JSON.stringify(ban);
    this.#redis
      .multi()
      .set(`${this.#prefix}ban:${ban.id}`, text, 'PX', ttl)
      .publish(this.#channel, JSON.stringify({ set: ban }))
      .exec()
      .then(
        () => this.#ok(),
        (err: unknown) => this.#trouble(err),
      );
  }

  lifted(ban: Ban): void {
    this.#redis
      .multi()
      .del(`${this.#prefix}ban:${ban.id}`)
      .publish(this.#channel, JSON.stringify({ lift: ban.id }))
      .exec()
      .then(
        () => this.#ok(),
        (err: unknown) => this.#trouble(err),
      );
  }

  /** Reads every ban in Redis: adds the ones missing here, drops the ones lifted elsewhere. */
  async resync(): Promise<void> {
    const startedAt = Date.now();
    try {
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await this.#redis.scan(cursor, 'MATCH', `${this.#prefix}ban:*`, 'COUNT', 1000);
        cursor = next;
        keys.push(...batch);
      } while (cursor !== '0');
      const values = keys.length === 0 ? [] : await this.#redis.mget(...keys);
      const held = new Set<string>();
      for (const value of values) {
        const ban = value === null ? null : parseBan(safeParse(value));
        if (ban === null) continue;
        held.add(ban.id);
        this.#bans.apply(ban);
      }
      for (const ban of this.#bans.list()) {
        if (!held.has(ban.id) && ban.createdAt < startedAt - IN_FLIGHT_MS) this.#bans.remove(ban.id);
      }
      this.#ok();
    } catch (err) {
      this.#trouble(err);
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#bans.listen(null);
    this.#subscriber.disconnect();
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }

  #onMessage(message: string): void {
    const parsed = safeParse(message) as { set?: unknown; lift?: unknown } | null;
    if (parsed === null || typeof parsed !== 'object') return;
    if (typeof parsed.lift === 'string') this.#bans.remove(parsed.lift);
    const ban = parseBan(parsed.set);
    if (ban !== null) this.#bans.apply(ban);
  }

  #ok(): void {
    if (this.#healthy) return;
    this.#healthy = true;
    this.#log.info({ msg: 'bans: Redis reachable again, bans shared' });
  }

  #trouble(err: unknown): void {
    if (!this.#healthy) return;
    this.#healthy = false;
    this.#log.warn({
      msg: 'bans: Redis unavailable, bans hold only where they were set',
      error: String(err),
    });
  }
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}
