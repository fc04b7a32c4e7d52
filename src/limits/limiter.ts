import type { MemoryStore } from './memory-store.js';
import type { RedisStore } from './redis-store.js';
import type { Rule } from './rule.js';
import { ADMIT_UNKNOWN, type Verdict } from './store.js';

export interface Decision {
  /** The rules that decided: the request's own, or their per-process share when a fallback did. */
  readonly rules: readonly Rule[];
  readonly verdicts: readonly Verdict[];
  /** null when the store answered; else which failure policies stood in for it (for the journey). */
  readonly degraded: string | null;
  /** A `closed` policy could not be decided: the answer is 503. */
  readonly unavailable: Rule | null;
}

/**
 * Asks the store, and when the store cannot answer (Redis down, or slower than its timeout)
 * applies each rule's failure policy: `fallback` decides the rule at this process's share on
 * the in-memory store, `open` admits, `closed` refuses with 503. Never a 500, never a hang.
 */
export class Limiter {
  readonly #memory: MemoryStore;
  readonly #redis: RedisStore | null;

  constructor(memory: MemoryStore, redis: RedisStore | null) {
    this.#memory = memory;
    this.#redis = redis;
  }

  get shared(): boolean {
    return this.#redis !== null;
  }

  decide(rules: readonly Rule[], keys: readonly string[]): Decision | Promise<Decision> {
    const redis = this.#redis;
    if (redis === null) return decided(rules, this.#memory.decide(rules, keys));
    if (!redis.available) return this.#degrade(rules, keys);
    return redis.decide(rules, keys).then(
      (verdicts) => decided(rules, verdicts),
      () => this.#degrade(rules, keys),
    );
  }

  /** Counts a failure (or a success) for a penalty or backoff rule; never throws. */
  record(rule: Rule, key: string, event: 'failure' | 'success'): void {
    const redis = this.#redis;
    if (redis === null || !redis.available) {
      this.#memory.record(rule.fallback ?? rule, key, event);
      return;
    }
    redis.record(rule, key, event).catch(() => this.#memory.record(rule.fallback ?? rule, key, event));
  }

  #degrade(rules: readonly Rule[], keys: readonly string[]): Decision {
    for (const rule of rules) {
      if (rule.enforced && rule.onStoreFailure === 'closed') {
        return {
          rules,
          verdicts: [],
          degraded: `store unavailable: "${rule.name}" fails closed`,
          unavailable: rule,
        };
      }
    }
    const local: Rule[] = [];
    const localKeys: string[] = [];
    const policies = new Set<string>();
    for (let i = 0; i < rules.length; i += 1) {
      const rule = rules[i]!;
      policies.add(rule.onStoreFailure);
      if (rule.onStoreFailure === 'fallback' && rule.fallback !== null) {
        local.push(rule.fallback);
        localKeys.push(keys[i]!);
      }
    }
    const localVerdicts = local.length === 0 ? [] : this.#memory.decide(local, localKeys);
    const verdicts: Verdict[] = [];
    const decidedBy: Rule[] = [];
    let next = 0;
    for (const rule of rules) {
      const local = rule.onStoreFailure === 'fallback' && rule.fallback !== null;
      verdicts.push(local ? localVerdicts[next++]! : ADMIT_UNKNOWN);
      decidedBy.push(local ? rule.fallback! : rule);
    }
    const degraded = `store unavailable: ${[...policies].sort().join(', ')}`;
    return { rules: decidedBy, verdicts, degraded, unavailable: null };
  }

  async close(): Promise<void> {
    await Promise.all([this.#memory.close(), this.#redis?.close()]);
  }
}

function decided(rules: readonly Rule[], verdicts: readonly Verdict[]): Decision {
  return { rules, verdicts, degraded: null, unavailable: null };
}
