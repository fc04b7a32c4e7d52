import type { Principal } from '../principal.js';

/** What a cache hit hands back: the principal, and what must still be checked on each use. */
export interface VerifiedToken {
  readonly principal: Principal;
  /** The id of the API key the token was minted from (the gateway's own tokens); else null. */
  readonly mintedFrom: string | null;
}

interface Entry extends VerifiedToken {
  /** exp in milliseconds: an entry is never served at or after it (no clock skew added). */
  readonly expiresAtMs: number;
  /** Set by a hit, cleared when the entry is passed over for eviction (CLOCK, "second chance"). */
  referenced: boolean;
}

/**
 * Verified bearer tokens, so that a token is verified once and then costs a map lookup, about
 * what an API key costs (DESIGN.md). Keyed by the token string itself: a hit needs the exact
 * bytes that were verified, and a Map hashes a string once. Bounded, with the CLOCK
 * approximation of least-recently-used eviction: a hit only sets a flag (re-inserting the entry,
 * as exact LRU would, was half the cost of a hit under load); eviction gives a flagged entry a
 * second chance.
 */
export class VerifiedTokenCache {
  readonly #entries = new Map<string, Entry>();
  readonly #capacity: number;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The entry itself, not a copy: a hit allocates nothing. */
  get(token: string, nowMs: number): VerifiedToken | null {
    const entry = this.#entries.get(token);
    if (entry === undefined) return null;
    if (nowMs >= entry.expiresAtMs) {
      this.#entries.delete(token);
      return null;
    }
    entry.referenced = true;
    return entry;
  }

  set(token: string, principal: Principal, expiresAtMs: number, mintedFrom: string | null = null): void {
    if (this.#capacity === 0) return;
    this.#entries.delete(token);
    this.#entries.set(token, { principal, mintedFrom, expiresAtMs, referenced: false });
    while (this.#entries.size > this.#capacity) this.#evictOne();
  }

  /** Evicts the oldest entry not used since it was last passed over. */
  #evictOne(): void {
    for (;;) {
      const [token, entry] = this.#entries.entries().next().value!;
      this.#entries.delete(token);
      if (!entry.referenced) return;
      entry.referenced = false;
      this.#entries.set(token, entry);
    }
  }
}
