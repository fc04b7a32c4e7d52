import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey, hashApiKey, keyIdOf } from './key-format.js';
import { KeyIdTaken, type KeyStore, type NewKey } from './store.js';
import { storeKinds, type StoreFixture } from './testing.js';

function newKey(overrides: Partial<NewKey> = {}): NewKey {
  const hash = hashApiKey(generateApiKey('live'));
  return {
    id: keyIdOf(hash),
    hash,
    consumer: 'alice',
    scopes: ['accounts:read', 'transfers:write'],
    env: 'live',
    createdAt: 1_000,
    expiresAt: null,
    ...overrides,
  };
}

for (const kind of storeKinds()) {
  const title =
    kind.skip === null ? `${kind.name} key store` : `${kind.name} key store (skipped: ${kind.skip})`;
  describe.skipIf(kind.skip !== null)(title, () => {
    let fixture: StoreFixture;
    let store: KeyStore;
    beforeAll(async () => {
      fixture = await kind.make();
      store = await fixture.open();
    });
    afterAll(async () => {
      await store?.close();
      await fixture?.remove();
    });

    it('stores the hash and metadata, never more, and gives each change the next version', async () => {
      const row = newKey();
      const first = await store.insert(row);
      expect(first).toMatchObject({
        id: row.id,
        consumer: 'alice',
        scopes: ['accounts:read', 'transfers:write'],
        env: 'live',
        status: 'active',
        createdAt: 1_000,
        expiresAt: null,
        lastUsedAt: null,
        replacedBy: null,
        overlapUntil: null,
      });
      const second = await store.insert(newKey({ consumer: 'bob', scopes: [], expiresAt: 5_000 }));
      expect(second.version).toBe(first.version + 1);
      expect(second.scopes).toEqual([]);
      const changes = await store.changesSince(first.version - 1, 10);
      expect(changes.map((c) => c.id)).toEqual([first.id, second.id]);
      expect(changes[0]!.hash.equals(row.hash)).toBe(true);
    });

    it('refuses a second key with the same id', async () => {
      const row = newKey();
      await store.insert(row);
      await expect(store.insert({ ...row, consumer: 'mallory' })).rejects.toBeInstanceOf(KeyIdTaken);
    });

    it('revokes once (a change), and a second revoke changes nothing', async () => {
      const { id, version } = await store.insert(newKey());
      const revoked = await store.revoke(id, 2_000);
      expect(revoked).toMatchObject({ id, status: 'revoked', updatedAt: 2_000 });
      expect(revoked!.version).toBeGreaterThan(version);
      const again = await store.revoke(id, 3_000);
      expect(again!.version).toBe(revoked!.version);
      expect(await store.revoke('0000000000000000', 2_000)).toBeNull();
    });

    it('rotates in one transaction, and refuses to rotate a revoked, expired or rotated key', async () => {
      const old = await store.insert(newKey({ expiresAt: 100_000 }));
      const fresh = newKey({ createdAt: 2_000 });
      const outcome = await store.rotate(old.id, fresh, 50_000, 2_000);
      expect(outcome.ok).toBe(true);
      if (!outcome.ok) return;
      expect(outcome.old).toMatchObject({
        id: old.id,
        replacedBy: fresh.id,
        overlapUntil: 50_000,
        status: 'active',
      });
      expect(outcome.fresh).toMatchObject({ id: fresh.id, consumer: 'alice', status: 'active' });
      expect(outcome.old.version).toBe(outcome.fresh.version + 1);
      expect(await store.rotate(old.id, newKey(), 1, 2_000)).toEqual({ ok: false, reason: 'rotated' });
      const revoked = await store.insert(newKey());
      await store.revoke(revoked.id, 1_500);
      expect(await store.rotate(revoked.id, newKey(), 1, 2_000)).toEqual({ ok: false, reason: 'revoked' });
      const expired = await store.insert(newKey({ expiresAt: 1_500 }));
      expect(await store.rotate(expired.id, newKey(), 1, 2_000)).toEqual({ ok: false, reason: 'expired' });
      expect(await store.rotate('ffffffffffffffff', newKey(), 1, 2_000)).toEqual({
        ok: false,
        reason: 'not-found',
      });
    });

    it('pages changes in version order', async () => {
      const start = (await store.changesSince(0, 100_000)).at(-1)!.version;
      for (let i = 0; i < 5; i += 1) await store.insert(newKey({ consumer: `page-${i}` }));
      const page1 = await store.changesSince(start, 2);
      const page2 = await store.changesSince(page1.at(-1)!.version, 2);
      const page3 = await store.changesSince(page2.at(-1)!.version, 2);
      expect([...page1, ...page2, ...page3].map((c) => c.consumer)).toEqual([
        'page-0',
        'page-1',
        'page-2',
        'page-3',
        'page-4',
      ]);
    });

    it('writes last-use times back in a batch without making a change, never moving them backwards', async () => {
      const a = await store.insert(newKey({ consumer: 'used-a' }));
      const b = await store.insert(newKey({ consumer: 'used-b' }));
      await store.recordLastUsed(
        new Map([
          [a.id, 7_000],
          [b.id, 8_000],
        ]),
      );
      await store.recordLastUsed(new Map([[a.id, 6_000]]));
      expect((await store.get(a.id))!.lastUsedAt).toBe(7_000);
      expect((await store.get(b.id))!.lastUsedAt).toBe(8_000);
      expect(await store.changesSince(b.version, 10)).toEqual([]);
    });

    it('lists by id with keyset paging and a consumer filter, without hashes', async () => {
      const all = await store.list({ after: null, limit: 1000, consumer: null });
      expect(all.length).toBeGreaterThan(5);
      expect(all.every((r) => !('hash' in r))).toBe(true);
      expect([...all].map((r) => r.id)).toEqual([...all].map((r) => r.id).sort());
      const firstTwo = await store.list({ after: null, limit: 2, consumer: null });
      const next = await store.list({ after: firstTwo[1]!.id, limit: 1, consumer: null });
      expect(next[0]!.id).toBe(all[2]!.id);
      const bobs = await store.list({ after: null, limit: 100, consumer: 'bob' });
      expect(bobs.map((r) => r.consumer)).toEqual(['bob']);
    });

    it('keeps one installation id across handles (names the Redis channel)', async () => {
      const other = await fixture.open();
      try {
        const id = await store.installationId();
        expect(id).toMatch(/^[0-9a-f-]{36}$/);
        expect(await other.installationId()).toBe(id);
      } finally {
        await other.close();
      }
    });
  });
}
