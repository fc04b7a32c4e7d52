import type { Rule } from './rule.js';

/** What one rule says about one request. Being limited is a return value; only a store failure throws. */
export const ADMIT = 0;
export const DELAY = 1;
export const REFUSE = 2;
export type Outcome = typeof ADMIT | typeof DELAY | typeof REFUSE;

export interface Verdict {
  readonly outcome: Outcome;
  /** Requests this key may still make now (draft-ietf-httpapi-ratelimit-headers `r`); -1 = unknown. */
  readonly remaining: number;
  /** Until the key is back to its full allowance (`t`), in ms. */
  readonly resetMs: number;
  /** DELAY: how long the request waits for its turn; REFUSE: until it would be admitted (`Retry-After`). */
  readonly waitMs: number;
}

/**
 * One interface, two stores (memory, Redis). `decide` takes every rule of one request with its
 * key and answers them together, atomically: when every enforced rule admits (or delays), each
 * rule that admits is charged; when any enforced rule refuses, nothing is charged, so a request
 * refused by one policy does not use up another's allowance.
 */
export interface LimitStore {
  decide(rules: readonly Rule[], keys: readonly string[]): readonly Verdict[] | Promise<readonly Verdict[]>;
  /** A failure to count: `penalty` and `backoff` rules; `success` clears a backoff. */
  record(rule: Rule, key: string, event: 'failure' | 'success'): void | Promise<void>;
  close(): Promise<void>;
}

/**
 * The store answered, but could not decide this request: a key it holds a value of another type
 * or shape (written by something else). The store itself is up; only this request is affected.
 */
export class UnreadableKeyError extends Error {
  override readonly name = 'UnreadableKeyError';
}

export function verdict(outcome: Outcome, remaining: number, resetMs: number, waitMs: number): Verdict {
  return { outcome, remaining, resetMs, waitMs };
}

export const ADMIT_UNKNOWN: Verdict = Object.freeze(verdict(ADMIT, -1, 0, 0));
