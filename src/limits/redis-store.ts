import { Redis } from 'ioredis';
import type { RedisConfig } from '../config/types.js';
import { quotaWindow } from './quota-period.js';
import { DECIDE_ARGS_PER_CHECK, DECIDE_SCRIPT, RECORD_SCRIPT } from './redis-script.js';
import type { Rule } from './rule.js';
import { verdict, type LimitStore, type Outcome, type Verdict } from './store.js';

/** Told when the store stops answering and when it answers again (for the log). */
export interface StoreHealthListener {
  down(reason: string): void;
  up(): void;
}

interface ScriptCommands {
  gatehouseDecide(...args: (string | number)[]): Promise<unknown>;
  gatehouseRecord(...args: (string | number)[]): Promise<unknown>;
}

/** After a failure, decisions skip Redis (straight to the failure policy) for this long, then try again. */
const RETRY_AFTER_FAILURE_MS = 1000;

/**
 * The Redis store shared by every gateway process. Failure is bounded: no offline queue (a
 * command while disconnected fails at once), no retry of a command in flight, and every command
 * times out after `timeoutMs` (a Redis that hangs). The caller applies each policy's failure
 * policy; ioredis keeps reconnecting, and the first answer after a failure marks it back.
 */
export class RedisStore implements LimitStore {
  readonly #redis: Redis & ScriptCommands;
  readonly #prefix: string;
  readonly #health: StoreHealthListener;
  #skipUntil = 0;
  #down = false;

  constructor(config: RedisConfig, health: StoreHealthListener) {
    this.#prefix = config.keyPrefix;
    this.#health = health;
    const redis = new Redis(config.url, {
      enableAutoPipelining: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: config.timeoutMs,
      connectTimeout: 1000,
      retryStrategy: (attempt: number) => Math.min(50 * attempt, 500),
    });
    redis.defineCommand('gatehouseDecide', { lua: DECIDE_SCRIPT });
    redis.defineCommand('gatehouseRecord', { numberOfKeys: 1, lua: RECORD_SCRIPT });
    // Without a listener ioredis prints every connection error; the failure is reported once, below.
    redis.on('error', (err: Error) => this.#markDown(`redis: ${err.message}`));
    redis.on('close', () => this.#markDown('redis: connection closed'));
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

  /** False while disconnected or just after a failure: the caller goes straight to the failure policy. */
  get available(): boolean {
    return this.#redis.status === 'ready' && (this.#skipUntil === 0 || performance.now() >= this.#skipUntil);
  }

  decide(rules: readonly Rule[], keys: readonly string[]): Promise<Verdict[]> {
    const args: (string | number)[] = [rules.length];
    const wallNow = Date.now();
    for (let i = 0; i < rules.length; i += 1) args.push(this.#storeKey(rules[i]!, keys[i]!, wallNow));
    for (const rule of rules) pushCheckArgs(args, rule, wallNow);
    return this.#redis.gatehouseDecide(...args).then(this.#onAnswer, this.#onFailure) as Promise<Verdict[]>;
  }

  readonly #onAnswer = (reply: unknown): Verdict[] => {
    if (this.#down) this.#markUp();
    return parseDecision(reply);
  };

  readonly #onFailure = (err: unknown): never => {
    this.#markDown(`redis: ${err instanceof Error ? err.message : String(err)}`);
    throw err;
  };

  async record(rule: Rule, key: string, event: 'failure' | 'success'): Promise<void> {
    const storeKey = this.#prefix + rule.keyPrefix + key;
    if (rule.kind === 'penalty') {
      if (event === 'success') return;
      await this.#redis
        .gatehouseRecord(storeKey, 'p', micros(rule.intervalMs), micros(rule.toleranceMs), 0, 0)
        .catch(this.#onFailure);
      return;
    }
    if (rule.kind !== 'backoff') return;
    const b = rule.backoff!;
    const args =
      event === 'success'
        ? ['s', 0, 0, 0, 0]
        : ['f', b.freeFailures, micros(b.initialMs), micros(b.maxMs), micros(b.forgetMs)];
    await this.#redis.gatehouseRecord(storeKey, ...args).catch(this.#onFailure);
  }

  async close(): Promise<void> {
    this.#redis.removeAllListeners('close');
    const quit = this.#redis.quit().catch(() => 'failed');
    await Promise.race([quit, new Promise((resolve) => setTimeout(resolve, 200).unref())]);
    this.#redis.disconnect();
    this.#redis.on('error', () => undefined);
  }

  #storeKey(rule: Rule, key: string, wallNow: number): string {
    if (rule.kind !== 'quota') return this.#prefix + rule.keyPrefix + key;
    return `${this.#prefix}${rule.keyPrefix}${key}#${quotaWindow(rule.period!, wallNow).index}`;
  }

  #markDown(reason: string): void {
    this.#skipUntil = performance.now() + RETRY_AFTER_FAILURE_MS;
    if (this.#down) return;
    this.#down = true;
    this.#health.down(reason);
  }

  #markUp(): void {
    this.#down = false;
    this.#skipUntil = 0;
    this.#health.up();
  }
}

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

function parseDecision(reply: unknown): Verdict[] {
  if (!Array.isArray(reply) || reply.length % 4 !== 0)
    throw new TypeError('unexpected reply from the limit script');
  const verdicts: Verdict[] = [];
  for (let i = 0; i < reply.length; i += 4) {
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
