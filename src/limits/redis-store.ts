import type { Redis } from 'ioredis';
import type { RedisConfig } from '../config/types.js';
import { quotaWindow } from './quota-period.js';
import { DECIDE_ARGS_PER_CHECK, DECIDE_SCRIPT, RECORD_SCRIPT } from './redis-script.js';
import type { Rule } from './rule.js';
import { UnreadableKeyError, verdict, type LimitStore, type Outcome, type Verdict } from './store.js';

/** A decision asked for and not yet sent: its checks, and where its verdicts go. */
interface Asked {
  readonly rules: readonly Rule[];
  readonly keys: readonly string[];
  readonly resolve: (verdicts: Verdict[]) => void;
  readonly reject: (err: unknown) => void;
}

/**
 * The most decisions one script call carries: a bigger batch would hold Redis (single-threaded)
 * for longer at a time; the rest go in further calls, in the same turn.
 */
const MAX_BATCH = 128;

interface ScriptCommands {
  gatehouseDecide(...args: (string | number)[]): Promise<unknown>;
  gatehouseRecord(...args: (string | number)[]): Promise<unknown>;
}

/**
 * The Redis store shared by every gateway process. Failure is bounded: no offline queue (a
 * command while disconnected fails at once), no retry of a command in flight, and every command
 * times out after `timeoutMs` (a Redis that hangs). A failure throws; the caller's circuit
 * breaker (breaker.ts) decides when to stop asking, and each policy's failure policy decides
 * meanwhile. ioredis keeps reconnecting by itself.
 *
 * The decisions asked for in one turn of the event loop go to Redis as one script call (at most
 * MAX_BATCH each), decided in the order asked, each as atomically as alone: a call costs this
 * process and Redis far more than a check within it. A call that fails (Redis unreachable, a
 * timeout) fails each of its decisions; a decision whose keys Redis cannot read fails alone.
 */
export class RedisStore implements LimitStore {
  readonly #redis: Redis & ScriptCommands;
  readonly #prefix: string;
  #asked: Asked[] = [];

  /** `Client`: the ioredis class (src/redis/client.ts loads it). */
  constructor(config: RedisConfig, Client: typeof Redis) {
    this.#prefix = config.keyPrefix;
    const redis = new Client(config.url, {
      // decide() batches itself; the rest (records, probes) is rare.
      enableAutoPipelining: false,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: config.timeoutMs,
      connectTimeout: 1000,
      retryStrategy: (attempt: number) => Math.min(50 * attempt, 500),
    });
    redis.defineCommand('gatehouseDecide', { lua: DECIDE_SCRIPT });
    redis.defineCommand('gatehouseRecord', { numberOfKeys: 1, lua: RECORD_SCRIPT });
    // Without a listener ioredis prints every connection error; the breaker reports outages, once.
    redis.on('error', () => undefined);
    this.#redis = redis as Redis & ScriptCommands;
  }

  /** Resolves once connected, or after `ms` (the gateway starts either way; failure policies cover it). */
  ready(ms: number): Promise<boolean> {
    if (this.#redis.status === 'ready') return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#redis.off('ready', onReady);
        resolve(false);
      }, ms);
      const onReady = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      this.#redis.once('ready', onReady);
    });
  }

  decide(rules: readonly Rule[], keys: readonly string[]): Promise<Verdict[]> {
    return new Promise((resolve, reject) => {
      if (this.#asked.length === 0) setImmediate(() => this.#send());
      this.#asked.push({ rules, keys, resolve, reject });
    });
  }

  /** Sends the decisions asked for since the last turn, MAX_BATCH to a call. */
  #send(): void {
    const asked = this.#asked;
    this.#asked = [];
    for (let start = 0; start < asked.length; start += MAX_BATCH)
      this.#call(asked.slice(start, start + MAX_BATCH));
  }

  #call(batch: readonly Asked[]): void {
    const wallNow = Date.now();
    let checks = 0;
    for (const one of batch) checks += one.rules.length;
    const args: (string | number)[] = [checks];
    for (const { rules, keys } of batch)
      for (let i = 0; i < rules.length; i += 1) args.push(this.#storeKey(rules[i]!, keys[i]!, wallNow));
    args.push(batch.length);
    for (const one of batch) args.push(one.rules.length);
    for (const { rules } of batch) for (const rule of rules) pushCheckArgs(args, rule, wallNow);
    this.#redis.gatehouseDecide(...args).then(
      (reply) => {
        let verdicts: (Verdict | Error)[];
        try {
          verdicts = parseDecision(reply, checks);
        } catch (err) {
          for (const one of batch) one.reject(err);
          return;
        }
        let at = 0;
        for (const one of batch) {
          const own = verdicts.slice(at, at + one.rules.length);
          at += one.rules.length;
          const failed = own.find((v) => v instanceof Error);
          if (failed === undefined) one.resolve(own as Verdict[]);
          else one.reject(failed);
        }
      },
      (err: unknown) => {
        for (const one of batch) one.reject(err);
      },
    );
  }

  /** The decision script with no check: answers when Redis runs the script, and writes nothing. */
  probe(): Promise<unknown> {
    return this.#redis.gatehouseDecide(0);
  }

  async record(rule: Rule, key: string, event: 'failure' | 'success'): Promise<void> {
    const storeKey = this.#prefix + rule.keyPrefix + key;
    if (rule.kind === 'penalty') {
      if (event === 'success') return;
      await this.#redis.gatehouseRecord(
        storeKey,
        'p',
        micros(rule.intervalMs),
        micros(rule.toleranceMs),
        0,
        0,
      );
      return;
    }
    if (rule.kind !== 'backoff') return;
    const b = rule.backoff!;
    const args =
      event === 'success'
        ? ['s', 0, 0, 0, 0]
        : ['f', b.freeFailures, micros(b.initialMs), micros(b.maxMs), micros(b.forgetMs)];
    await this.#redis.gatehouseRecord(storeKey, ...args);
  }

  async close(): Promise<void> {
    // Decisions asked for this turn go before QUIT, to be answered as any other.
    if (this.#asked.length > 0) this.#send();
    const quit = this.#redis.quit().catch(() => 'failed');
    await Promise.race([quit, new Promise((resolve) => setTimeout(resolve, 200).unref())]);
    this.#redis.disconnect();
  }

  #storeKey(rule: Rule, key: string, wallNow: number): string {
    if (rule.kind !== 'quota') return this.#prefix + rule.keyPrefix + key;
    return `${this.#prefix}${rule.keyPrefix}${key}#${quotaWindow(rule.period!, wallNow).index}`;
  }
}

/** The outcome DECIDE_SCRIPT gives each check of a request whose keys it could not read. */
const FAILED = 3;

function micros(ms: number): string {
  return String(ms * 1000);
}

/** A rule's script arguments never change (a quota's period end aside): written out once per rule. */
const fixedArgs = new WeakMap<Rule, readonly (string | number)[]>();

function pushCheckArgs(args: (string | number)[], rule: Rule, wallNow: number): void {
  if (rule.kind === 'quota') {
    args.push('q', rule.enforced ? 1 : 0, rule.limit, quotaWindow(rule.period!, wallNow).endMs, 0);
    return;
  }
  let fixed = fixedArgs.get(rule);
  if (fixed === undefined) fixedArgs.set(rule, (fixed = checkArgs(rule)));
  for (let i = 0; i < fixed.length; i += 1) args.push(fixed[i]!);
}

function checkArgs(rule: Rule): (string | number)[] {
  const enforced = rule.enforced ? 1 : 0;
  switch (rule.kind) {
    case 'rate':
      return ['r', enforced, micros(rule.intervalMs), micros(rule.toleranceMs), micros(rule.maxDelayMs)];
    case 'penalty':
      return ['p', enforced, 0, micros(rule.toleranceMs), 0];
    default:
      return ['b', enforced, micros(rule.backoff?.forgetMs ?? 0), 0, 0];
  }
}

if (DECIDE_ARGS_PER_CHECK !== 5) throw new Error('checkArgs writes 5 arguments per check');

/** The script's reply: a verdict per check, or the error that failed the check's request alone. */
function parseDecision(reply: unknown, checks: number): (Verdict | Error)[] {
  if (!Array.isArray(reply) || reply.length !== checks * 4)
    throw new TypeError('unexpected reply from the limit script');
  const verdicts: (Verdict | Error)[] = [];
  for (let i = 0; i < reply.length; i += 4) {
    if (Number(reply[i]) === FAILED) {
      verdicts.push(new UnreadableKeyError(`the limit script could not read a key: ${String(reply[i + 1])}`));
      continue;
    }
    const remaining = Number(reply[i + 1]);
    verdicts.push(
      verdict(
        Number(reply[i]) as Outcome,
        remaining,
        Number(reply[i + 2]) / 1000,
        Number(reply[i + 3]) / 1000,
      ),
    );
  }
  return verdicts;
}
