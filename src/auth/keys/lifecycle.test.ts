import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey, keyIdOf } from './key-format.js';
import { KeyLifecycle } from './lifecycle.js';
import { KeyIdTaken, type KeyStore, type NewKey } from './store.js';
import type { KeyChange } from './sync.js';
import { sqliteFixture, type StoreFixture } from './testing.js';

describe('KeyLifecycle', () => {
  let fixture: StoreFixture;
  let store: KeyStore;
  beforeAll(async () => {
    fixture = await sqliteFixture();
    store = await fixture.open();
  });
  afterAll(async () => {
    await store.close();
    await fixture.remove();
  });

  it('stores only the hash of the key it returns, under the id derived from it', async () => {
    const lifecycle = new KeyLifecycle(store, async () => undefined);
    const { key, record } = await lifecycle.create({
      consumer: 'a',
      scopes: ['s', 's'],
      env: 'live',
      lifetimeMs: null,
    });
    expect(record.id).toBe(keyIdOf(hashApiKey(key)));
    expect(record.scopes).toEqual(['s']);
    const [stored] = await store.changesSince(record.version - 1, 1);
    expect(stored!.hash.equals(hashApiKey(key))).toBe(true);
    expect(JSON.stringify(stored)).not.toContain(key.slice(8, 40));
  });

  it('draws a new key when the id is taken, and reports each change once', async () => {
    let clashes = 1;
    const clashing: KeyStore = Object.create(store, {
      insert: {
        value: async (row: NewKey) => {
          if (clashes-- > 0) throw new KeyIdTaken(row.id);
          return store.insert(row);
        },
      },
    }) as KeyStore;
    const changes: KeyChange[] = [];
    const lifecycle = new KeyLifecycle(clashing, async (change) => void changes.push(change));
    const { record } = await lifecycle.create({ consumer: 'b', scopes: [], env: 'test', lifetimeMs: 1000 });
    expect(changes).toEqual([{ version: record.version }]);
    // A revocation's notice names the key, so it can be applied where the store cannot be read.
    const direct: KeyChange[] = [];
    const revoked = await new KeyLifecycle(store, async (change) => void direct.push(change)).revoke(
      record.id,
    );
    expect(direct).toEqual([{ version: revoked!.version, revoked: record.id }]);
  });

  it('gives a rotated key the old lifetime from now, unless told otherwise', async () => {
    let now = 1_000_000;
    const lifecycle = new KeyLifecycle(
      store,
      async () => undefined,
      () => now,
    );
    const old = await lifecycle.create({ consumer: 'c', scopes: ['x'], env: 'live', lifetimeMs: 50_000 });
    now += 10_000;
    const same = await lifecycle.rotate(old.record.id, { overlapMs: 5_000 });
    expect(same.ok && same.rotated.record.expiresAt).toBe(now + 50_000);
    expect(same.ok && same.rotated.replaced.overlapUntil).toBe(now + 5_000);
    if (!same.ok) return;
    const custom = await lifecycle.rotate(same.rotated.record.id, { overlapMs: 0, lifetimeMs: null });
    expect(custom.ok && custom.rotated.record.expiresAt).toBeNull();
  });
});
