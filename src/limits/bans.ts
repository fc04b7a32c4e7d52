import { randomBytes } from 'node:crypto';

/** What a ban refuses: a client address, a consumer (every credential of it), or one API key / token id. */
export const BAN_KINDS = ['address', 'consumer', 'key'] as const;
export type BanKind = (typeof BAN_KINDS)[number];

export interface Ban {
  /** 16 hex digits; names the ban in the admin API. */
  readonly id: string;
  readonly kind: BanKind;
  readonly value: string;
  /** Why, for operators: "detector failed-logins-per-address", or what the admin wrote. */
  readonly reason: string;
  /** "admin", or the detector that set it ("detector:credential-stuffing"). */
  readonly source: string;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  readonly expiresAt: number;
}

/** Told of every ban set or lifted here, so other processes (src/limits/ban-sync.ts) learn of it. */
export interface BanListener {
  set(ban: Ban): void;
  lifted(ban: Ban): void;
}

/** Most bans held at once: past it the one ending soonest gives way, so a flood of bans is bounded. */
export const MAX_BANS = 100_000;

/**
 * The bans in force, looked up on every request: one Map lookup per kind, and nothing at all
 * while the list is empty (the usual case). Expired bans are dropped when met. Bans set or
 * lifted elsewhere arrive through `apply` / `remove` without being announced again.
 */
export class BanList {
  readonly #byTarget = new Map<string, Ban>();
  readonly #clock: () => number;
  #listener: BanListener | null = null;

  constructor(clock: () => number = Date.now) {
    this.#clock = clock;
  }

  get size(): number {
    return this.#byTarget.size;
  }

  listen(listener: BanListener | null): void {
    this.#listener = listener;
  }

  /** The ban that refuses `value` now, or null. */
  check(kind: BanKind, value: string): Ban | null {
    if (this.#byTarget.size === 0) return null;
    const key = targetKey(kind, value);
    const ban = this.#byTarget.get(key);
    if (ban === undefined) return null;
    if (ban.expiresAt > this.#clock()) return ban;
    this.#byTarget.delete(key);
    return null;
  }

  /** Bans `value` for `durationMs` (a longer ban already in force stays); announced to listeners. */
  ban(kind: BanKind, value: string, durationMs: number, reason: string, source: string): Ban {
    const now = this.#clock();
    const current = this.check(kind, value);
    if (current !== null && current.expiresAt >= now + durationMs) return current;
    const ban: Ban = Object.freeze({
      id: current?.id ?? randomBytes(8).toString('hex'),
      kind,
      value,
      reason,
      source,
      createdAt: now,
      expiresAt: now + durationMs,
    });
    this.apply(ban);
    this.#listener?.set(ban);
    return ban;
  }

  /** Lifts the ban with this id; null when there is none (or it has ended). */
  lift(id: string): Ban | null {
    const ban = this.remove(id);
    if (ban !== null) this.#listener?.lifted(ban);
    return ban;
  }

  /** A ban learnt from elsewhere: held, not announced. */
  apply(ban: Ban): void {
    if (ban.expiresAt <= this.#clock()) return;
    const key = targetKey(ban.kind, ban.value);
    if (!this.#byTarget.has(key) && this.#byTarget.size >= MAX_BANS) this.#dropSoonestEnding();
    this.#byTarget.set(key, ban);
  }

  /** A lift learnt from elsewhere: dropped, not announced. */
  remove(id: string): Ban | null {
    for (const [key, ban] of this.#byTarget) {
      if (ban.id !== id) continue;
      this.#byTarget.delete(key);
      return ban.expiresAt > this.#clock() ? ban : null;
    }
    return null;
  }

  /** Bans in force, the newest first. */
  list(): Ban[] {
    const now = this.#clock();
    const live: Ban[] = [];
    for (const [key, ban] of this.#byTarget) {
      if (ban.expiresAt > now) live.push(ban);
      else this.#byTarget.delete(key);
    }
    return live.sort((a, b) => b.createdAt - a.createdAt);
  }

  #dropSoonestEnding(): void {
    let soonest: [string, Ban] | null = null;
    for (const entry of this.#byTarget)
      if (soonest === null || entry[1].expiresAt < soonest[1].expiresAt) soonest = entry;
    if (soonest !== null) this.#byTarget.delete(soonest[0]);
  }
}

function targetKey(kind: BanKind, value: string): string {
  return `${kind}\u0000${value}`;
}

/** A ban as stored and sent between processes; null when `value` is not one. */
export function parseBan(value: unknown): Ban | null {
  if (typeof value !== 'object' || value === null) return null;
  const b = value as Record<string, unknown>;
  if (
    typeof b.id !== 'string' ||
    !/^[0-9a-f]{16}$/.test(b.id) ||
    !BAN_KINDS.includes(b.kind as BanKind) ||
    typeof b.value !== 'string' ||
    typeof b.reason !== 'string' ||
    typeof b.source !== 'string' ||
    typeof b.createdAt !== 'number' ||
    typeof b.expiresAt !== 'number'
  ) {
    return null;
  }
  return Object.freeze({
    id: b.id,
    kind: b.kind as BanKind,
    value: b.value,
    reason: b.reason,
    source: b.source,
    createdAt: b.createdAt,
    expiresAt: b.expiresAt,
  });
}
