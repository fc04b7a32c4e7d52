import { Redis } from 'ioredis';
import type { RedisConfig } from '../config/types.js';
import { quotaWindow } from './quota-period.js';
import { DECIDE_ARGS_PER_CHECK, DECIDE_SCRIPT, RECORD_SCRIPT } from './redis-script.js';
import type { Rule } from './rule.js';
import { verdict, type LimitStore, type Outcome, type Verdict } from './store.js';

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
 */
export class RedisStore implements LimitStore {
  readonly #redis: Redis & ScriptCommands;
  readonly #prefix: string;

  constructor(config: RedisConfig) {
    this.#prefix = config.keyPrefix;
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
    const args: (string | number)[] = [rules.length];
    const wallNow = Date.now();
    for (let i = 0; i < rules.length; i += 1) args.push(this.#storeKey(rules[i]!, keys[i]!, wallNow));
    for (const rule of rules) pushCheckArgs(args, rule, wallNow);
    return this.#redis.gatehouseDecide(...args).then(parseDecision);
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
    const quit = this.#redis.quit().catch(() => 'failed');
    await Promise.race([quit, new Promise((resolve) => setTimeout(resolve, 200).unref())]);
    this.#redis.disconnect();
  }

  #storeKey(rule: Rule, key: string, wallNow: number): string {
    if (rule.kind !== 'quota') return this.#prefix + rule.keyPrefix + key;
    return `${this.#prefix}${rule.keyPrefix}${key}#${quotaWindow(rule.period!, wallNow).index}`;
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
