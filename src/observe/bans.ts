import { randomBytes } from 'node:crypto';
import { GatehouseError } from '../errors/gatehouse-error.js';

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
  /** "admin at ADDRESS", or the detector that set it ("detector:credential-stuffing"). */
  readonly source: string;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  readonly expiresAt: number;
}

/** Told of every ban set or lifted here, so other processes (src/observe/ban-sync.ts) learn of it. */
export interface BanListener {
  set(ban: Ban): void;
  lifted(ban: Ban): void;
}

/** Most bans held at once: past it the detector ban ending soonest gives way (an admin's ban, last). */
export const MAX_BANS = 100_000;
/** A ban learnt from elsewhere for a target lifted here this recently, and set before the lift, is stale. */
const LIFT_MEMORY_MS = 60_000;

/**
 * The bans in force, looked up on every request: one Map lookup by the raw value, and nothing at
 * all while the list is empty (the usual case). One ban per target (kind and value): a second
 * keeps the later end. Expired bans are dropped when met. Bans set or lifted elsewhere arrive
 * through `apply` / `removeTarget` without being announced again; a target lifted here ignores,
 * for a minute, bans for it that were set before the lift (a copy still travelling).
 */
export class BanList {
  readonly #byKind: Readonly<Record<BanKind, Map<string, Ban>>> = {
    address: new Map(),
    consumer: new Map(),
    key: new Map(),
  };
  readonly #liftedAt = new Map<string, number>();
  readonly #clock: () => number;
  #listener: BanListener | null = null;

  constructor(clock: () => number = Date.now) {
    this.#clock = clock;
  }

  get size(): number {
    return this.#byKind.address.size + this.#byKind.consumer.size + this.#byKind.key.size;
  }

  listen(listener: BanListener | null): void {
    this.#listener = listener;
  }

  /** The ban that refuses `value` now, or null. */
  check(kind: BanKind, value: string): Ban | null {
    const bans = this.#byKind[kind];
    if (bans.size === 0) return null;
    const target = kind === 'address' ? normaliseAddress(value) : value;
    const ban = bans.get(target);
    if (ban === undefined) return null;
    if (ban.expiresAt > this.#clock()) return ban;
    bans.delete(target);
    return null;
  }

  /**
   * Bans `value` for `durationMs` and announces it; a longer ban already in force on the target
   * stays as it is (`changed: false`, nothing announced).
   */
  ban(
    kind: BanKind,
    rawValue: string,
    durationMs: number,
    reason: string,
    source: string,
  ): { ban: Ban; changed: boolean } {
    const value = kind === 'address' ? normaliseAddress(rawValue) : rawValue;
    const now = this.#clock();
    const current = this.check(kind, value);
    if (current !== null && current.expiresAt >= now + durationMs) return { ban: current, changed: false };
    const ban: Ban = Object.freeze({
      id: current?.id ?? randomBytes(8).toString('hex'),
      kind,
      value,
      reason,
      source,
      createdAt: now,
      expiresAt: now + durationMs,
    });
    this.#liftedAt.delete(targetOf(kind, value));
    this.#hold(ban);
    this.#listener?.set(ban);
    return { ban, changed: true };
  }

  /** Lifts the ban with this id (its target: every copy of it); null when there is none in force. */
  lift(id: string): Ban | null {
    const ban = this.list().find((candidate) => candidate.id === id) ?? null;
    if (ban === null) return null;
    this.removeTarget(ban.kind, ban.value);
    this.#listener?.lifted(ban);
    return ban;
  }

  /** A ban learnt from elsewhere: held (the later end wins), not announced. */
  apply(ban: Ban): void {
    if (ban.expiresAt <= this.#clock()) return;
    const liftedAt = this.#liftedAt.get(targetOf(ban.kind, ban.value));
    if (liftedAt !== undefined && ban.createdAt <= liftedAt) return;
    const current = this.#byKind[ban.kind].get(ban.value);
    if (current !== undefined && current.expiresAt >= ban.expiresAt) return;
    this.#hold(ban);
  }

  /** A lift learnt from elsewhere (or made here): the target is free, and stale copies are ignored. */
  removeTarget(kind: BanKind, value: string): void {
    this.#byKind[kind].delete(value);
    const now = this.#clock();
    if (this.#liftedAt.size >= 10_000) {
      for (const [target, at] of this.#liftedAt) if (now - at > LIFT_MEMORY_MS) this.#liftedAt.delete(target);
    }
    this.#liftedAt.set(targetOf(kind, value), now);
  }

  /** Bans in force, the newest first. */
  list(): Ban[] {
    const now = this.#clock();
    const live: Ban[] = [];
    for (const bans of Object.values(this.#byKind)) {
      for (const [value, ban] of bans) {
        if (ban.expiresAt > now) live.push(ban);
        else bans.delete(value);
      }
    }
    return live.sort((a, b) => b.createdAt - a.createdAt);
  }

  #hold(ban: Ban): void {
    const bans = this.#byKind[ban.kind];
    if (!bans.has(ban.value) && this.size >= MAX_BANS) this.#dropOne();
    bans.set(ban.value, ban);
  }

  /** Makes room: the detector ban ending soonest, or, when every ban is an admin's, the one ending soonest. */
  #dropOne(): void {
    let soonest: Ban | null = null;
    for (const bans of Object.values(this.#byKind)) {
      for (const ban of bans.values()) {
        const byDetector = ban.source.startsWith('detector:');
        const soonestByDetector = soonest?.source.startsWith('detector:') ?? false;
        if (
          soonest === null ||
          (byDetector && !soonestByDetector) ||
          (byDetector === soonestByDetector && ban.expiresAt < soonest.expiresAt)
        ) {
          soonest = ban;
        }
      }
    }
    if (soonest !== null) this.#byKind[soonest.kind].delete(soonest.value);
  }
}

/** One name per target, for the lift memory and the shared store. */
export function targetOf(kind: BanKind, value: string): string {
  return `${kind}\u0000${value}`;
}

/** An IPv4 address as a dual-stack socket reports it (`::ffff:192.0.2.1`) is the address itself. */
export function normaliseAddress(value: string): string {
  return value.startsWith('::ffff:') && value.includes('.') ? value.slice(7) : value;
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

/**
 * The refusal of a banned request: the generic 403. The client learns only that it is forbidden;
 * the journey and the `access.banned` event say which ban, set by whom, until when.
 */
export function banRefusal(ban: Ban): GatehouseError {
  return new GatehouseError(
    'GH_ACCESS_BANNED',
    `${ban.kind} banned until ${new Date(ban.expiresAt).toISOString()} (ban ${ban.id}, ${ban.reason})`,
  );
}
