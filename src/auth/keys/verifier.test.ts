import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey, hashApiKey, keyIdOf } from './key-format.js';
import type { StoredKey } from './record.js';
import { KeyLifecycle, KeyRequestError } from './lifecycle.js';
import type { KeyStore } from './store.js';
import { sqliteFixture, type StoreFixture } from './testing.js';
import { ApiKeyVerifier } from './verifier.js';

const DAY = 86_400_000;

describe('ApiKeyVerifier', () => {
  let fixture: StoreFixture;
  let store: KeyStore;
  let now = Date.UTC(2026, 0, 1);
  const clock = (): number => now;
  const verifier = new ApiKeyVerifier({ clock });
  let lifecycle: KeyLifecycle;

  beforeAll(async () => {
    fixture = await sqliteFixture();
    store = await fixture.open();
    lifecycle = new KeyLifecycle(
      store,
      async () => verifier.apply(await store.changesSince(verifier.version, 1000)),
      clock,
    );
  });
  afterAll(async () => {
    await store.close();
    await fixture.remove();
  });

  it('accepts a key it was told about, with its record and scopes', async () => {
    const { key, record } = await lifecycle.create({
      consumer: 'alice',
      scopes: ['accounts:read', 'transfers:write'],
      env: 'live',
      lifetimeMs: 90 * DAY,
    });
    const result = verifier.verify(key);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.key).toMatchObject({
      id: record.id,
      consumer: 'alice',
      env: 'live',
      expiresAt: now + 90 * DAY,
    });
    expect([...result.key.scopeSet]).toEqual(['accounts:read', 'transfers:write']);
    expect(result.key.scopeSet.has('transfers:write')).toBe(true);
    expect(() => (result.key.scopeSet as Set<string>).add('admin')).toThrow(TypeError);
    expect(Object.isFrozen(result.key)).toBe(true);
    expect('hash' in result.key).toBe(false);
    // The same frozen answer each time: nothing allocated per accepted request.
    expect(verifier.verify(key)).toBe(result);
  });

  it('refuses malformed input and bad checksums without needing the index', () => {
    const key = generateApiKey('live');
    const empty = new ApiKeyVerifier();
    expect(empty.verify('')).toEqual({ ok: false, reason: 'malformed' });
    expect(empty.verify(key.slice(0, -1))).toEqual({ ok: false, reason: 'malformed' });
    expect(empty.verify(`Bearer ${key}`)).toEqual({ ok: false, reason: 'malformed' });
    expect(empty.verify(123 as unknown as string)).toEqual({ ok: false, reason: 'malformed' });
    const typo = key.slice(0, 10) + (key[10] === 'a' ? 'b' : 'a') + key.slice(11);
    expect(empty.verify(typo)).toEqual({ ok: false, reason: 'checksum' });
  });

  it('refuses a well-formed key it does not hold as unknown', () => {
    expect(verifier.verify(generateApiKey('live'))).toEqual({ ok: false, reason: 'unknown' });
    expect(verifier.verify(generateApiKey('test'))).toEqual({ ok: false, reason: 'unknown' });
  });

  it('refuses an expired key once its time has come, not before', async () => {
    const { key } = await lifecycle.create({
      consumer: 'carol',
      scopes: [],
      env: 'test',
      lifetimeMs: 60_000,
    });
    expect(verifier.verify(key).ok).toBe(true);
    now += 59_999;
    expect(verifier.verify(key).ok).toBe(true);
    now += 1;
    expect(verifier.verify(key)).toEqual({ ok: false, reason: 'expired' });
  });

  it('refuses a revoked key', async () => {
    const { key, record } = await lifecycle.create({
      consumer: 'dave',
      scopes: ['a'],
      env: 'live',
      lifetimeMs: null,
    });
    expect(verifier.verify(key).ok).toBe(true);
    await lifecycle.revoke(record.id);
    expect(verifier.verify(key)).toEqual({ ok: false, reason: 'revoked' });
  });

  it('keeps a rotated key working until the overlap ends, the new one after it', async () => {
    const old = await lifecycle.create({
      consumer: 'erin',
      scopes: ['x', 'y'],
      env: 'live',
      lifetimeMs: 30 * DAY,
    });
    const rotation = await lifecycle.rotate(old.record.id, { overlapMs: DAY });
    expect(rotation.ok).toBe(true);
    if (!rotation.ok) return;
    const fresh = rotation.rotated;
    expect(fresh.record).toMatchObject({
      consumer: 'erin',
      scopes: ['x', 'y'],
      env: 'live',
      expiresAt: now + 30 * DAY,
    });
    expect(fresh.key).not.toBe(old.key);
    expect(verifier.verify(old.key).ok).toBe(true);
    expect(verifier.verify(fresh.key).ok).toBe(true);
    now += DAY - 1;
    expect(verifier.verify(old.key).ok).toBe(true);
    now += 1;
    expect(verifier.verify(old.key)).toEqual({ ok: false, reason: 'expired' });
    expect(verifier.verify(fresh.key).ok).toBe(true);
    expect(await lifecycle.rotate(old.record.id, { overlapMs: DAY })).toEqual({
      ok: false,
      reason: 'rotated',
    });
  });

  it('collects last-use times in memory and hands them over once', async () => {
    const { key, record } = await lifecycle.create({
      consumer: 'frank',
      scopes: [],
      env: 'live',
      lifetimeMs: null,
    });
    verifier.takeLastUsed();
    verifier.verify(key);
    now += 5;
    verifier.verify(key);
    verifier.verify(generateApiKey('live'));
    expect(verifier.takeLastUsed()).toEqual(new Map([[record.id, now]]));
    expect(verifier.takeLastUsed().size).toBe(0);
  });

  it('refuses a bad consumer or scope at creation', async () => {
    await expect(
      lifecycle.create({ consumer: '', scopes: [], env: 'live', lifetimeMs: null }),
    ).rejects.toBeInstanceOf(KeyRequestError);
    await expect(
      lifecycle.create({ consumer: 'ok', scopes: ['has space'], env: 'live', lifetimeMs: null }),
    ).rejects.toBeInstanceOf(KeyRequestError);
    await expect(
      lifecycle.create({ consumer: 'ok', scopes: ['a,b'], env: 'live', lifetimeMs: null }),
    ).rejects.toBeInstanceOf(KeyRequestError);
  });

  it('finds a key whose digest shares its index slot with others, and updates it in place', () => {
    const index = new ApiKeyVerifier({ clock });
    const key = generateApiKey('live');
    const digest = hashApiKey(key);
    const stored = (hash: Buffer, version: number, status: 'active' | 'revoked' = 'active'): StoredKey => ({
      id: keyIdOf(hash),
      hash,
      consumer: 'slot',
      scopes: [],
      env: 'live',
      status,
      createdAt: 0,
      expiresAt: null,
      lastUsedAt: null,
      replacedBy: null,
      overlapUntil: null,
      updatedAt: 0,
      version,
    });
    // Same first 4 bytes (the slot), different rest: neighbours in one chain.
    const neighbour = (n: number): Buffer => Buffer.concat([digest.subarray(0, 4), Buffer.alloc(28, n)]);
    index.apply([stored(neighbour(1), 1), stored(digest, 2), stored(neighbour(2), 3)]);
    expect(index.size).toBe(3);
    expect(index.verify(key).ok).toBe(true);
    index.apply([stored(digest, 4, 'revoked')]);
    expect(index.size).toBe(3);
    expect(index.verify(key)).toEqual({ ok: false, reason: 'revoked' });
    expect(index.version).toBe(4);
  });
});
