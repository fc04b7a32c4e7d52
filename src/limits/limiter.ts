import { SKIP, type CircuitBreaker } from './breaker.js';
import type { MemoryStore } from './memory-store.js';
import type { RedisStore } from './redis-store.js';
import type { Rule } from './rule.js';
import { ADMIT_UNKNOWN, UnreadableKeyError, type Verdict } from './store.js';

export interface Decision {
  /** The rules that decided: the request's own, or their per-process share when a fallback did. */
  readonly rules: readonly Rule[];
  readonly verdicts: readonly Verdict[];
  /** null when the store answered; else which failure policies stood in for it (for the journey). */
  readonly degraded: string | null;
  /** A `closed` policy could not be decided: the response is 503. */
  readonly unavailable: Rule | null;
}

/** The store shared by every process, behind the breaker that decides when to stop asking it. */
export interface SharedStore {
  readonly store: RedisStore;
  readonly breaker: CircuitBreaker;
}

/**
 * Asks the store, and when the store cannot answer (Redis down, or slower than its timeout)
 * applies each rule's failure policy: `fallback` decides the rule at this process's share on
 * the in-memory store, `open` admits, `closed` refuses with 503. Never a 500, never a hang:
 * while the breaker is open the failure policies decide at once, without a call to Redis.
 */
export class Limiter {
  readonly #memory: MemoryStore;
  readonly #shared: SharedStore | null;

  constructor(memory: MemoryStore, shared: SharedStore | null) {
    this.#memory = memory;
    this.#shared = shared;
  }

  get shared(): boolean {
    return this.#shared !== null;
  }

  /** false while the breaker is open: decisions are taken without the shared store. */
  get storeAvailable(): boolean {
    return this.#shared === null || this.#shared.breaker.state === 'closed';
  }

  decide(rules: readonly Rule[], keys: readonly string[]): Decision | Promise<Decision> {
    const shared = this.#shared;
    if (shared === null) return decided(rules, this.#memory.decide(rules, keys));
    const { breaker } = shared;
    const ticket = breaker.admit();
    if (ticket === SKIP) return this.#degrade(rules, keys);
    return shared.store.decide(rules, keys).then(
      (verdicts) => {
        breaker.succeeded(ticket);
        return decided(rules, verdicts);
      },
      (err: unknown) => {
        // Redis answered: the breaker hears a success, and only this request goes to its policies.
        if (err instanceof UnreadableKeyError) {
          breaker.succeeded(ticket);
          return this.#degrade(rules, keys, 'store key unreadable');
        }
        breaker.failed(ticket, reasonOf(err));
        return this.#degrade(rules, keys);
      },
    );
  }

  /** Counts a failure (or a success) for a penalty or backoff rule; never throws. */
  record(rule: Rule, key: string, event: 'failure' | 'success'): void {
    const shared = this.#shared;
    // Never a probe: while the breaker is open, records stay in this process.
    if (shared === null || shared.breaker.state !== 'closed') {
      this.#memory.record(rule.fallback ?? rule, key, event);
      return;
    }
    const { breaker } = shared;
    const ticket = breaker.admit();
    shared.store.record(rule, key, event).then(
      () => breaker.succeeded(ticket),
      (err: unknown) => {
        breaker.failed(ticket, reasonOf(err));
        this.#memory.record(rule.fallback ?? rule, key, event);
      },
    );
  }

  #degrade(rules: readonly Rule[], keys: readonly string[], why = 'store unavailable'): Decision {
    for (const rule of rules) {
      if (rule.enforced && rule.onStoreFailure === 'closed') {
        return {
          rules,
          verdicts: [],
          degraded: `${why}: "${rule.name}" fails closed`,
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
    const degraded = `${why}: ${[...policies].sort().join(', ')}`;
    return { rules: decidedBy, verdicts, degraded, unavailable: null };
  }

  async close(): Promise<void> {
    this.#shared?.breaker.stop();
    await Promise.all([this.#memory.close(), this.#shared?.store.close()]);
  }
}

function decided(rules: readonly Rule[], verdicts: readonly Verdict[]): Decision {
  return { rules, verdicts, degraded: null, unavailable: null };
}

function reasonOf(err: unknown): string {
  return `redis: ${err instanceof Error ? err.message : String(err)}`;
}
