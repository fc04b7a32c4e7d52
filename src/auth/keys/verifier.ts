import { hash, timingSafeEqual } from 'node:crypto';
import { checkKeyShape } from './key-format.js';
import type { ApiKeyRecord, StoredKey } from './record.js';

export type VerifyFailure = 'malformed' | 'checksum' | 'unknown' | 'expired' | 'revoked';

/**
 * Where a key stands now, looked up by its id: what an access token minted from the key
 * (src/auth/oauth) is checked against on every use. 'expired' includes a rotated key whose
 * overlap has ended; 'unknown', an id the index does not hold.
 */
export type KeyState = 'active' | 'revoked' | 'expired' | 'unknown';

/** A key the verifier accepted: its record, plus its scopes as a set for the authorize stage. */
export interface VerifiedKey extends ApiKeyRecord {
  readonly scopeSet: ReadonlySet<string>;
}

export type VerifyResult =
  { readonly ok: true; readonly key: VerifiedKey } | { readonly ok: false; readonly reason: VerifyFailure };

interface IndexEntry {
  /** Where the key's SHA-256 sits in the digest slab, compared in constant time after the slot lookup. */
  readonly offset: number;
  /** The response for this key, built once at load so an accepted request allocates nothing. */
  readonly accepted: VerifyResult & { readonly ok: true };
  /**
   * The record's verdict, copied here so a lookup reads one object, not three (cache misses
   * dominate with a million keys): revoked, and the time from which the key is refused as
   * expired (its expiry, or the end of its rotation overlap; Infinity when neither). `revoked`
   * is also set by `revoke`, ahead of the store.
   */
  revoked: boolean;
  readonly endsAt: number;
  /** Another key in the same slot (30 bits of the digest: a few hundred pairs per million keys). */
  next: IndexEntry | null;
  /** Last accepted use not yet handed to KeySync; 0 when none. */
  usedAt: number;
}

const refusals: Readonly<Record<VerifyFailure, VerifyResult>> = Object.freeze({
  malformed: Object.freeze({ ok: false, reason: 'malformed' }),
  checksum: Object.freeze({ ok: false, reason: 'checksum' }),
  unknown: Object.freeze({ ok: false, reason: 'unknown' }),
  expired: Object.freeze({ ok: false, reason: 'expired' }),
  revoked: Object.freeze({ ok: false, reason: 'revoked' }),
});

/**
 * The in-memory index of every key in the store, consulted on each request. `verify` is
 * synchronous and O(1): shape and checksum (no lookup for a typo), one SHA-256, one Map lookup
 * by 30 bits of the digest, one constant-time comparison of the full digests (crypto's
 * timingSafeEqual). Last-use times are collected here and written back in batches by KeySync,
 * never per request.
 *
 * The index changes through `apply`, fed by KeySync from the store's change sequence, and
 * `revoke`, a revocation announced ahead of the store until the store has been read again.
 */
export class ApiKeyVerifier {
  /** Slot (30 bits of the digest: a small integer, the fastest Map key) → chain of entries. */
  readonly #slots = new Map<number, IndexEntry>();
  readonly #digests = new DigestSlab();
  readonly #used: IndexEntry[] = [];
  readonly #clock: () => number;
  /** Many keys share a consumer or a scope list: one copy of each keeps 1M keys affordable. */
  readonly #consumers = new Map<string, string>();
  readonly #scopeLists = new Map<string, { list: readonly string[]; set: ReadonlySet<string> }>();
  #version = 0;
  #size = 0;

  constructor(options: { clock?: () => number } = {}) {
    this.#clock = options.clock ?? Date.now;
  }

  /** The last change of the store this index includes. */
  get version(): number {
    return this.#version;
  }

  get size(): number {
    return this.#size;
  }

  verify(presented: string): VerifyResult {
    if (typeof presented !== 'string') return refusals.malformed;
    const shapeProblem = checkKeyShape(presented);
    if (shapeProblem !== null) return refusals[shapeProblem];
    // The digest as a 32-character latin1 ('binary') string, not a Buffer: a Buffer per call
    // costs an ArrayBuffer allocation (and its garbage), slower than the SHA-256 itself.
    const digest = hash('sha256', presented, 'binary');
    scratch.write(digest, 0, DIGEST_BYTES, 'latin1');
    let entry = this.#slots.get(slotOfText(digest)) ?? null;
    while (entry !== null && !timingSafeEqual(this.#digests.view(entry.offset), scratch)) entry = entry.next;
    if (entry === null) return refusals.unknown;
    if (entry.revoked) return refusals.revoked;
    const now = this.#clock();
    if (now >= entry.endsAt) return refusals.expired;
    if (entry.usedAt === 0) this.#used.push(entry);
    entry.usedAt = now;
    return entry.accepted;
  }

  /**
   * The state of the key with this id at `nowMs`, as `verify` would judge the key itself (revoked
   * first, then expired or past its rotation overlap). O(1) and allocation-free, like `verify`:
   * an id is the hex of the digest's first 8 bytes (key-format.ts), so it names the key's slot,
   * and the slot's short chain is searched by id. The caller passes the time it has already read.
   */
  stateOf(id: string, nowMs: number): KeyState {
    let entry = this.#slots.get(slotOfId(id)) ?? null;
    while (entry !== null && entry.accepted.key.id !== id) entry = entry.next;
    if (entry === null) return 'unknown';
    if (entry.revoked) return 'revoked';
    return nowMs >= entry.endsAt ? 'expired' : 'active';
  }

  /**
   * Refuses the key with this id from now on, ahead of the store (a revocation announced while
   * the store cannot be read); the store's record replaces it when it is read. Only ever takes
   * access away. Returns whether the index held the key.
   */
  revoke(id: string): boolean {
    let entry = this.#slots.get(slotOfId(id)) ?? null;
    while (entry !== null && entry.accepted.key.id !== id) entry = entry.next;
    if (entry === null) return false;
    entry.revoked = true;
    return true;
  }

  /** Takes back a `revoke` made ahead of the store: the key is judged by its stored record again. */
  settle(id: string): void {
    let entry = this.#slots.get(slotOfId(id)) ?? null;
    while (entry !== null && entry.accepted.key.id !== id) entry = entry.next;
    if (entry !== null) entry.revoked = entry.accepted.key.status === 'revoked';
  }

  /** Adds or replaces the records of changed keys, in change order. */
  apply(changes: readonly StoredKey[]): void {
    for (const stored of changes) {
      if (stored.hash.length !== DIGEST_BYTES)
        throw new TypeError(`key ${stored.id}: stored hash is not SHA-256`);
      this.#put(stored);
      if (stored.version > this.#version) this.#version = stored.version;
    }
  }

  /** Hands over the last-use times gathered since the previous call (id → ms). */
  takeLastUsed(): Map<string, number> {
    const taken = new Map<string, number>();
    for (const entry of this.#used) {
      taken.set(entry.accepted.key.id, entry.usedAt);
      entry.usedAt = 0;
    }
    this.#used.length = 0;
    return taken;
  }

  /** Puts a key in its slot's chain, in place of the entry with the same id if there is one. */
  #put(stored: StoredKey): void {
    const slot = stored.hash.readUInt32LE(0) & SLOT_MASK;
    let previous: IndexEntry | null = null;
    let current = this.#slots.get(slot) ?? null;
    while (current !== null && current.accepted.key.id !== stored.id) {
      previous = current;
      current = current.next;
    }
    const offset = current === null ? this.#digests.add(stored.hash) : current.offset;
    const entry: IndexEntry = {
      offset,
      accepted: Object.freeze({ ok: true, key: this.#verifiedKey(stored) }),
      revoked: stored.status === 'revoked',
      // A rotated key lives until its overlap ends, then is refused like an expired one.
      endsAt: Math.min(stored.expiresAt ?? Infinity, stored.overlapUntil ?? Infinity),
      next: current === null ? null : current.next,
      usedAt: 0,
    };
    if (current === null) this.#size += 1;
    if (previous === null) this.#slots.set(slot, entry);
    else previous.next = entry;
  }

  #verifiedKey(stored: StoredKey): VerifiedKey {
    const scopes = this.#internScopes(stored.scopes);
    return Object.freeze({
      id: stored.id,
      consumer: this.#internConsumer(stored.consumer),
      scopes: scopes.list,
      scopeSet: scopes.set,
      env: stored.env,
      status: stored.status,
      createdAt: stored.createdAt,
      expiresAt: stored.expiresAt,
      lastUsedAt: stored.lastUsedAt,
      replacedBy: stored.replacedBy,
      overlapUntil: stored.overlapUntil,
      updatedAt: stored.updatedAt,
      version: stored.version,
    });
  }

  #internConsumer(consumer: string): string {
    const known = this.#consumers.get(consumer);
    if (known !== undefined) return known;
    this.#consumers.set(consumer, consumer);
    return consumer;
  }

  #internScopes(scopes: readonly string[]): { list: readonly string[]; set: ReadonlySet<string> } {
    const name = scopes.join(' ');
    let interned = this.#scopeLists.get(name);
    if (interned === undefined) {
      interned = { list: Object.freeze([...scopes]), set: new ReadonlySetView(scopes) };
      this.#scopeLists.set(name, interned);
    }
    return interned;
  }
}

const DIGEST_BYTES = 32;
/** Where verify puts the presented key's digest for timingSafeEqual; verify is synchronous, so one will do. */
const scratch = Buffer.alloc(DIGEST_BYTES);
const SLOT_MASK = 0x3fffffff;

/** The low 30 bits of a digest's first 4 bytes (little-endian), from its latin1 text: a Smi, the fastest Map key. */
function slotOfText(digest: string): number {
  const value =
    digest.charCodeAt(0) |
    (digest.charCodeAt(1) << 8) |
    (digest.charCodeAt(2) << 16) |
    (digest.charCodeAt(3) << 24);
  return value & SLOT_MASK;
}

/**
 * The slot of a key id (hex of the digest's first 8 bytes), as slotOfText reads it from the
 * digest, without a substring or parseInt. Text that is not an id gives some slot, where no entry
 * has that id: the chain search by id refuses it.
 */
function slotOfId(id: string): number {
  let value = 0;
  // Digit i is the high (even i) or low (odd i) half of byte i >> 1, which sits at bit 8 * (i >> 1).
  for (let i = 0; i < 8; i += 1) value |= hexValue(id.charCodeAt(i)) << ((i ^ 1) * 4);
  return value & SLOT_MASK;
}

/** 0–15 for '0'–'9' and 'a'–'f' (keyIdOf writes lowercase); some small number for any other code. */
function hexValue(code: number): number {
  return (code & 15) + 9 * ((code >> 6) & 1);
}

/**
 * Every indexed digest back to back in one growing array: a million keys cost 32 MB and no
 * object each, and a comparison reads one cache line instead of chasing a Buffer per key.
 */
class DigestSlab {
  #bytes = new Uint8Array(DIGEST_BYTES * 1024);
  #used = 0;

  add(digest: Uint8Array): number {
    if (this.#used === this.#bytes.length) {
      const grown = new Uint8Array(this.#bytes.length * 2);
      grown.set(this.#bytes);
      this.#bytes = grown;
    }
    const offset = this.#used;
    this.#bytes.set(digest, offset);
    this.#used += DIGEST_BYTES;
    return offset;
  }

  /** A short-lived view for timingSafeEqual (cheaper than a copy; nothing else holds it). */
  view(offset: number): Uint8Array {
    return new Uint8Array(this.#bytes.buffer, offset, DIGEST_BYTES);
  }
}

/** A Set that cannot be changed through the reference handed to stages (they share one copy). */
class ReadonlySetView extends Set<string> {
  constructor(values: readonly string[]) {
    super();
    for (const value of values) super.add(value);
  }
  override add(): this {
    throw new TypeError('scope set is read-only');
  }
  override delete(): boolean {
    throw new TypeError('scope set is read-only');
  }
  override clear(): void {
    throw new TypeError('scope set is read-only');
  }
}
