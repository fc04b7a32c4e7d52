import { quotaWindow } from './quota-period.js';
import type { Rule } from './rule.js';
import { ADMIT, DELAY, REFUSE, verdict, type LimitStore, type Verdict } from './store.js';

/**
 * A map bounded by two generations: lookups promote a key to the current generation, and when
 * the current one is full the previous one is dropped whole. Memory stays under `maxKeys` with
 * O(1) work per operation, and what is dropped is what was least recently used. A dropped key
 * restarts with a full allowance: memory pressure costs accuracy, never availability.
 */
export class GenerationalMap<V> {
  #current = new Map<string, V>();
  #previous = new Map<string, V>();
  readonly #generationSize: number;

  constructor(maxKeys: number) {
    this.#generationSize = Math.max(1, Math.floor(maxKeys / 2));
  }

  get size(): number {
    return this.#current.size + this.#previous.size;
  }

  get(key: string): V | undefined {
    const value = this.#current.get(key);
    if (value !== undefined) return value;
    const old = this.#previous.get(key);
    if (old === undefined) return undefined;
    this.#previous.delete(key);
    this.set(key, old);
    return old;
  }

  set(key: string, value: V): void {
    this.#current.set(key, value);
    if (this.#current.size >= this.#generationSize) {
      this.#previous = this.#current;
      this.#current = new Map();
    }
  }

  delete(key: string): void {
    this.#current.delete(key);
    this.#previous.delete(key);
  }
}

interface BackoffState {
  failures: number;
  untilMs: number;
  lastFailureMs: number;
}

export type Clock = () => number;

/** Milliseconds since the epoch with sub-millisecond resolution, from the monotonic clock. */
export const preciseClock: Clock = () => performance.timeOrigin + performance.now();

/**
 * The in-process store (the default): the same arithmetic as the Redis script (redis-script.ts),
 * synchronous, so a decision costs a map lookup and a few additions. Each rule has maps of its
 * own (at most `maxKeys` keys each), so the key a request brings is looked up as it is: no
 * string is built or hashed per decision beyond the key itself.
 */
export class MemoryStore implements LimitStore {
  readonly #values = new Map<string, GenerationalMap<number>>();
  readonly #backoffs = new Map<string, GenerationalMap<BackoffState>>();
  readonly #maxKeys: number;
  readonly #now: Clock;
  /** New values of one decision, their maps and keys, written only when the request is admitted. */
  readonly #pending: number[] = [];
  readonly #pendingMaps: GenerationalMap<number>[] = [];
  readonly #pendingKeys: string[] = [];

  constructor(maxKeys: number, now: Clock = preciseClock) {
    this.#maxKeys = maxKeys;
    this.#now = now;
  }

  get size(): number {
    let size = 0;
    for (const map of this.#values.values()) size += map.size;
    for (const map of this.#backoffs.values()) size += map.size;
    return size;
  }

  decide(rules: readonly Rule[], keys: readonly string[]): Verdict[] {
    const now = this.#now();
    const verdicts: Verdict[] = new Array<Verdict>(rules.length);
    let refused = false;
    for (let i = 0; i < rules.length; i += 1) {
      const rule = rules[i]!;
      const key = rule.kind === 'quota' ? `${keys[i]!}#${quotaWindow(rule.period!, now).index}` : keys[i]!;
      this.#pendingKeys[i] = key;
      this.#pending[i] = NaN;
      const result = this.#judge(rule, key, now, i);
      verdicts[i] = result;
      if (result.outcome === REFUSE && rule.enforced) refused = true;
    }
    if (!refused) this.#commit(rules.length);
    return verdicts;
  }

  #valuesOf(rule: Rule): GenerationalMap<number> {
    let map = this.#values.get(rule.keyPrefix);
    if (map === undefined) this.#values.set(rule.keyPrefix, (map = new GenerationalMap(this.#maxKeys)));
    return map;
  }

  #backoffsOf(rule: Rule): GenerationalMap<BackoffState> {
    let map = this.#backoffs.get(rule.keyPrefix);
    if (map === undefined) this.#backoffs.set(rule.keyPrefix, (map = new GenerationalMap(this.#maxKeys)));
    return map;
  }

  #judge(rule: Rule, key: string, now: number, i: number): Verdict {
    const values = this.#valuesOf(rule);
    this.#pendingMaps[i] = values;
    switch (rule.kind) {
      case 'rate':
        return this.#rate(rule, values.get(key), now, i);
      case 'quota':
        return this.#quota(rule, values.get(key), now, i);
      case 'penalty':
        return peekPenalty(rule, values.get(key), now);
      case 'backoff':
        return peekBackoff(rule, this.#backoffsOf(rule).get(key), now);
    }
  }

  /** GCRA: admitted when now ≥ TAT − τ; the new TAT is max(TAT, now) + T. */
  #rate(rule: Rule, stored: number | undefined, now: number, i: number): Verdict {
    const tat = stored === undefined || stored < now ? now : stored;
    const wait = tat - rule.toleranceMs - now;
    if (wait > rule.maxDelayMs) return verdict(REFUSE, 0, tat - now, wait);
    const next = tat + rule.intervalMs;
    this.#pending[i] = next;
    const remaining = Math.max(0, Math.floor((now + rule.toleranceMs - next) / rule.intervalMs) + 1);
    return verdict(wait > 0 ? DELAY : ADMIT, remaining, next - now, wait > 0 ? wait : 0);
  }

  #quota(rule: Rule, stored: number | undefined, now: number, i: number): Verdict {
    const count = stored ?? 0;
    const resetMs = quotaWindow(rule.period!, now).endMs - now;
    if (count >= rule.limit) return verdict(REFUSE, 0, resetMs, resetMs);
    this.#pending[i] = count + 1;
    return verdict(ADMIT, rule.limit - count - 1, resetMs, 0);
  }

  #commit(count: number): void {
    for (let i = 0; i < count; i += 1) {
      const value = this.#pending[i]!;
      if (!Number.isNaN(value)) this.#pendingMaps[i]!.set(this.#pendingKeys[i]!, value);
    }
  }

  record(rule: Rule, key: string, event: 'failure' | 'success'): void {
    const now = this.#now();
    if (rule.kind === 'penalty') {
      const values = this.#valuesOf(rule);
      if (event === 'failure') values.set(key, penalise(rule, values.get(key), now));
      return;
    }
    if (rule.kind !== 'backoff') return;
    const backoffs = this.#backoffsOf(rule);
    if (event === 'success') backoffs.delete(key);
    else backoffs.set(key, failBackoff(rule, backoffs.get(key), now));
  }

  async close(): Promise<void> {}
}

/** A penalty blocks while TAT − τ is ahead of now: `burst` failures at once, then one per T. */
function peekPenalty(rule: Rule, tat: number | undefined, now: number): Verdict {
  if (tat === undefined) return verdict(ADMIT, -1, 0, 0);
  const wait = tat - rule.toleranceMs - now;
  return wait > 0 ? verdict(REFUSE, 0, tat - now, wait) : verdict(ADMIT, -1, 0, 0);
}

/** Every failure adds T; capped at τ + T ahead, so a burst of failures blocks for about T, not longer. */
export function penalise(rule: Rule, tat: number | undefined, now: number): number {
  const base = tat === undefined || tat < now ? now : tat;
  return Math.min(base + rule.intervalMs, now + rule.toleranceMs + rule.intervalMs);
}

function peekBackoff(rule: Rule, state: BackoffState | undefined, now: number): Verdict {
  if (state === undefined || state.untilMs <= now) return verdict(ADMIT, -1, 0, 0);
  if (now - state.lastFailureMs > rule.backoff!.forgetMs) return verdict(ADMIT, -1, 0, 0);
  const wait = state.untilMs - now;
  return verdict(REFUSE, 0, wait, wait);
}

function failBackoff(rule: Rule, state: BackoffState | undefined, now: number): BackoffState {
  const settings = rule.backoff!;
  const fresh = state === undefined || now - state.lastFailureMs > settings.forgetMs;
  const failures = fresh ? 1 : state.failures + 1;
  return { failures, untilMs: now + backoffDelay(settings, failures), lastFailureMs: now };
}

/** 0 for the free failures, then initial, 2×, 4× … up to the maximum. */
export function backoffDelay(settings: NonNullable<Rule['backoff']>, failures: number): number {
  const over = failures - settings.freeFailures;
  if (over <= 0) return 0;
  return Math.min(settings.maxMs, settings.initialMs * 2 ** (over - 1));
}
