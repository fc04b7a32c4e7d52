import { generateApiKey, hashApiKey, keyIdOf, type KeyEnv } from './key-format.js';
import { keyRequestProblem, publicView, type ApiKeyRecord, type KeyRequest } from './record.js';
import { KeyIdTaken, type KeyStore, type ListQuery, type NewKey, type RotateRefusal } from './store.js';
import type { KeyChange } from './sync.js';

/** A key just made: `key` is the only copy of the secret there will ever be. */
export interface CreatedKey {
  readonly key: string;
  readonly record: ApiKeyRecord;
}

export interface RotatedKey extends CreatedKey {
  /** The key it replaces, now working until `overlapUntil`. */
  readonly replaced: ApiKeyRecord;
}

export type RotateResult =
  | { readonly ok: true; readonly rotated: RotatedKey }
  | { readonly ok: false; readonly reason: RotateRefusal };

/** Caller misuse (a bad consumer name or scope), with words for the operator. */
export class KeyRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyRequestError';
  }
}

/** Ids are 64 bits of a digest: a clash is a 2^-64 event, so a few draws is plenty. */
const MAX_DRAWS = 3;

/**
 * The operations of a key's life, shared by the CLI and the admin API: create, list, revoke,
 * rotate. After each change `onChange` runs (publish the change notice, refresh the local
 * index), so every gateway process hears of it.
 */
export class KeyLifecycle {
  readonly #store: KeyStore;
  readonly #onChange: (change: KeyChange) => Promise<void>;
  readonly #clock: () => number;

  constructor(
    store: KeyStore,
    onChange: (change: KeyChange) => Promise<void>,
    clock: () => number = Date.now,
  ) {
    this.#store = store;
    this.#onChange = onChange;
    this.#clock = clock;
  }

  async create(request: KeyRequest): Promise<CreatedKey> {
    const problem = keyRequestProblem(request.consumer, request.scopes);
    if (problem !== null) throw new KeyRequestError(problem);
    const now = this.#clock();
    for (let draw = 1; ; draw += 1) {
      const { key, row } = this.#draw(request, now);
      try {
        const record = await this.#store.insert(row);
        await this.#onChange({ version: record.version });
        return { key, record: publicView(record) };
      } catch (err) {
        if (!(err instanceof KeyIdTaken) || draw === MAX_DRAWS) throw err;
      }
    }
  }

  async get(id: string): Promise<ApiKeyRecord | null> {
    const record = await this.#store.get(id);
    return record === null ? null : publicView(record);
  }

  list(query: ListQuery): Promise<ApiKeyRecord[]> {
    return this.#store.list(query);
  }

  async revoke(id: string): Promise<ApiKeyRecord | null> {
    const record = await this.#store.revoke(id, this.#clock());
    if (record !== null) await this.#onChange({ version: record.version, revoked: record.id });
    return record === null ? null : publicView(record);
  }

  /**
   * A new key for the same consumer, scopes and environment; the old one keeps working for
   * `overlapMs`. Without `lifetimeMs` the new key gets the old one's lifetime, counted from now.
   */
  async rotate(
    id: string,
    options: { overlapMs: number; lifetimeMs?: number | null },
  ): Promise<RotateResult> {
    const old = await this.#store.get(id);
    if (old === null) return { ok: false, reason: 'not-found' };
    const lifetimeMs =
      options.lifetimeMs !== undefined
        ? options.lifetimeMs
        : old.expiresAt === null
          ? null
          : old.expiresAt - old.createdAt;
    const now = this.#clock();
    const request: KeyRequest = { consumer: old.consumer, scopes: old.scopes, env: old.env, lifetimeMs };
    for (let draw = 1; ; draw += 1) {
      const { key, row } = this.#draw(request, now);
      try {
        const outcome = await this.#store.rotate(id, row, now + options.overlapMs, now);
        if (!outcome.ok) return outcome;
        await this.#onChange({ version: outcome.old.version });
        return {
          ok: true,
          rotated: { key, record: publicView(outcome.fresh), replaced: publicView(outcome.old) },
        };
      } catch (err) {
        if (!(err instanceof KeyIdTaken) || draw === MAX_DRAWS) throw err;
      }
    }
  }

  #draw(request: KeyRequest, now: number): { key: string; row: NewKey } {
    const key = generateApiKey(request.env);
    const hash = hashApiKey(key);
    const row: NewKey = {
      id: keyIdOf(hash),
      hash,
      consumer: request.consumer,
      scopes: [...new Set(request.scopes)],
      env: request.env,
      createdAt: now,
      expiresAt: request.lifetimeMs === null ? null : now + request.lifetimeMs,
    };
    return { key, row };
  }
}

export type { KeyEnv };
