import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import {
  BAN_KINDS,
  parseBan,
  targetOf,
  type Ban,
  type BanKind,
  type BanList,
  type BanListener,
} from './bans.js';

/** A lost message costs at most this: every process reads the whole list again this often. */
const RESYNC_MS = 5_000;
/** A ban this recent may not have reached Redis yet: a resync does not drop it. */
const IN_FLIGHT_MS = 2_000;

/**
 * Sets a target's ban unless Redis holds one ending later, and tells every process: the later
 * end wins everywhere, whichever replica banned first. KEYS[1] the target's key; ARGV: the ban
 * as JSON, its end (ms), its time to live (ms), the channel, the message.
 */
const SET_LATER_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if current then
  local ok, held = pcall(cjson.decode, current)
  if ok and type(held) == 'table' and tonumber(held.expiresAt) and tonumber(held.expiresAt) >= tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
`;

export interface BanSyncLog {
  warn(fields: Record<string, unknown>): void;
  info(fields: Record<string, unknown>): void;
}

interface BanCommands {
  gatehouseBanSet(key: string, ...args: (string | number)[]): Promise<unknown>;
}

/**
 * Shares bans between gateway processes through Redis: one key per target (`<prefix>ban:<kind>:
 * <digest of the value>`) that expires with its ban, and a message on `<prefix>bans` that carries
 * a set or a lift to every process at once. Requests never wait for Redis: they read the local
 * BanList, which this keeps in step. A change that could not reach Redis is kept and replayed
 * once Redis answers again, before anything is read back; until then bans hold where they were
 * set, and `healthy` is false (readiness says degraded).
 */
export class RedisBanSync implements BanListener {
  readonly #bans: BanList;
  readonly #redis: Redis & BanCommands;
  readonly #subscriber: Redis;
  readonly #prefix: string;
  readonly #log: BanSyncLog;
  readonly #timer: NodeJS.Timeout;
  /** Changes made here that Redis has not taken yet, by target: the newest one wins. */
  readonly #pending = new Map<string, { set: Ban } | { lift: Ban }>();
  #healthy = true;

  /** `Client`: the ioredis class (src/redis/client.ts loads it). */
  constructor(bans: BanList, url: string, prefix: string, log: BanSyncLog, Client: typeof Redis) {
    this.#bans = bans;
    this.#prefix = prefix;
    this.#log = log;
    const options = {
      connectTimeout: 2_000,
      maxRetriesPerRequest: 1,
      retryStrategy: (attempt: number) => Math.min(attempt * 200, 2_000),
    };
    const redis = new Client(url, options);
    redis.defineCommand('gatehouseBanSet', { numberOfKeys: 1, lua: SET_LATER_SCRIPT });
    this.#redis = redis as Redis & BanCommands;
    this.#subscriber = new Client(url, { ...options, maxRetriesPerRequest: null });
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
    this.#pending.set(targetOf(ban.kind, ban.value), { set: ban });
    void this.#flush();
  }

  lifted(ban: Ban): void {
    this.#pending.set(targetOf(ban.kind, ban.value), { lift: ban });
    void this.#flush();
  }

  /**
   * Replays what Redis has not taken, then reads every ban there: adds the ones missing here,
   * drops the ones lifted elsewhere (older than a moment, and not waiting to be written).
   */
  async resync(): Promise<void> {
    const startedAt = Date.now();
    try {
      if (!(await this.#flush())) return;
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await this.#redis.scan(cursor, 'MATCH', `${this.#prefix}ban:*`, 'COUNT', 1000);
        cursor = next;
        keys.push(...batch);
      } while (cursor !== '0');
      const held = new Set<string>();
      for (let i = 0; i < keys.length; i += 1000) {
        for (const value of await this.#redis.mget(...keys.slice(i, i + 1000))) {
          const ban = value === null ? null : parseBan(safeParse(value));
          if (ban === null) continue;
          held.add(targetOf(ban.kind, ban.value));
          this.#bans.apply(ban);
        }
      }
      for (const ban of this.#bans.list()) {
        const target = targetOf(ban.kind, ban.value);
        if (held.has(target) || this.#pending.has(target) || ban.createdAt >= startedAt - IN_FLIGHT_MS)
          continue;
        this.#bans.removeTarget(ban.kind, ban.value);
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

  /** Writes the pending changes in order; true when none is left. */
  async #flush(): Promise<boolean> {
    for (const [target, change] of [...this.#pending]) {
      try {
        if ('set' in change) await this.#writeSet(change.set);
        else await this.#writeLift(change.lift);
        if (this.#pending.get(target) === change) this.#pending.delete(target);
        this.#ok();
      } catch (err) {
        this.#trouble(err);
        return false;
      }
    }
    return true;
  }

  async #writeSet(ban: Ban): Promise<void> {
    const ttl = ban.expiresAt - Date.now();
    if (ttl <= 0) return;
    const message = JSON.stringify({ set: ban });
    await this.#redis.gatehouseBanSet(
      this.#key(ban.kind, ban.value),
      JSON.stringify(ban),
      ban.expiresAt,
      ttl,
      this.#channel,
      message,
    );
  }

  async #writeLift(ban: Ban): Promise<void> {
    await this.#redis
      .multi()
      .del(this.#key(ban.kind, ban.value))
      .publish(this.#channel, JSON.stringify({ lift: { kind: ban.kind, value: ban.value } }))
      .exec();
  }

  #key(kind: BanKind, value: string): string {
    return `${this.#prefix}ban:${kind}:${createHash('sha256').update(value).digest('hex').slice(0, 32)}`;
  }

  #onMessage(message: string): void {
    const parsed = safeParse(message) as { set?: unknown; lift?: { kind?: unknown; value?: unknown } } | null;
    if (parsed === null || typeof parsed !== 'object') return;
    const lift = parsed.lift;
    if (
      typeof lift === 'object' &&
      lift !== null &&
      BAN_KINDS.includes(lift.kind as BanKind) &&
      typeof lift.value === 'string'
    ) {
      this.#bans.removeTarget(lift.kind as BanKind, lift.value);
    }
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
