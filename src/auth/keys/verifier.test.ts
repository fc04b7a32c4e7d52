import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey, hashApiKey, keyIdOf } from './key-format.js';
import type { StoredKey } from './record.js';
import { KeyLifecycle, KeyRequestError } from './lifecycle.js';
import type { KeyStore } from './store.js';
import { sqliteFixture, type StoreFixture } from './testing.js';
import { ApiKeyVerifier } from './verifier.js';

const DAY = 86_400_000;

/** A record as the store hands it to the index, for tests that feed the index directly. */
const storedKey = (hash: Buffer, version: number, status: 'active' | 'revoked' = 'active'): StoredKey => ({
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

  it('tells where a key stands by its id alone, as verify would judge the key', async () => {
    const kept = await lifecycle.create({ consumer: 'gina', scopes: [], env: 'live', lifetimeMs: 60_000 });
    const gone = await lifecycle.create({ consumer: 'gina', scopes: [], env: 'live', lifetimeMs: null });
    const old = await lifecycle.create({ consumer: 'gina', scopes: [], env: 'test', lifetimeMs: null });
    expect(verifier.stateOf(kept.record.id, now)).toBe('active');
    await lifecycle.revoke(gone.record.id);
    expect(verifier.stateOf(gone.record.id, now)).toBe('revoked');
    const rotation = await lifecycle.rotate(old.record.id, { overlapMs: 1_000 });
    if (!rotation.ok) throw new Error('not rotated');
    expect(verifier.stateOf(old.record.id, now)).toBe('active');
    now += 1_000;
    expect(verifier.stateOf(old.record.id, now)).toBe('expired'); // its rotation overlap has ended
    expect(verifier.stateOf(rotation.rotated.record.id, now)).toBe('active');
    now += 58_999;
    expect(verifier.stateOf(kept.record.id, now)).toBe('active');
    now += 1;
    expect(verifier.stateOf(kept.record.id, now)).toBe('expired');
    expect(verifier.verify(kept.key)).toEqual({ ok: false, reason: 'expired' });
    expect(verifier.stateOf(gone.record.id, now)).toBe('revoked'); // revoked is said first, as verify does
  });

  it('says unknown for an id it does not hold, and for anything that is not an id', async () => {
    const { record } = await lifecycle.create({ consumer: 'hal', scopes: [], env: 'live', lifetimeMs: null });
    expect(verifier.stateOf(record.id, now)).toBe('active');
    const never = keyIdOf(hashApiKey(generateApiKey('live')));
    for (const text of [never, '', 'not-an-id', 'zzzzzzzz00000000', record.id.toUpperCase()]) {
      expect(verifier.stateOf(text, now)).toBe('unknown');
    }
    expect(verifier.stateOf(record.id + '0', now)).toBe('unknown');
    expect(verifier.stateOf(record.id.slice(0, 15), now)).toBe('unknown');
  });

  it('finds every key by its id, whatever the digits of its slot', () => {
    const index = new ApiKeyVerifier({ clock });
    const hashes = Array.from({ length: 2_000 }, () => hashApiKey(generateApiKey('live')));
    index.apply(hashes.map((hash, i) => storedKey(hash, i + 1)));
    expect(hashes.filter((hash) => index.stateOf(keyIdOf(hash), now) !== 'active')).toEqual([]);
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
    // Same first 4 bytes (the slot), different rest: neighbours in one chain.
    const neighbour = (n: number): Buffer => Buffer.concat([digest.subarray(0, 4), Buffer.alloc(28, n)]);
    index.apply([storedKey(neighbour(1), 1), storedKey(digest, 2), storedKey(neighbour(2), 3)]);
    expect(index.size).toBe(3);
    expect(index.verify(key).ok).toBe(true);
    index.apply([storedKey(digest, 4, 'revoked')]);
    expect(index.size).toBe(3);
    expect(index.verify(key)).toEqual({ ok: false, reason: 'revoked' });
    // By id too: the slot read from the id, then the chain searched by id.
    expect(index.stateOf(keyIdOf(digest), now)).toBe('revoked');
    expect(index.stateOf(keyIdOf(neighbour(1)), now)).toBe('active');
    expect(index.stateOf(keyIdOf(neighbour(2)), now)).toBe('active');
    expect(index.stateOf(keyIdOf(neighbour(3)), now)).toBe('unknown');
    expect(index.version).toBe(4);
  });
});

describe('ApiKeyVerifier.revoke', () => {
  it('refuses a key from now on, ahead of the store, until the store says otherwise', () => {
    const key = generateApiKey('live');
    const index = new ApiKeyVerifier();
    index.apply([storedKey(hashApiKey(key), 1)]);
    const id = keyIdOf(hashApiKey(key));
    expect(index.verify(key).ok).toBe(true);
    expect(index.revoke(id)).toBe(true);
    expect(index.verify(key)).toEqual({ ok: false, reason: 'revoked' });
    expect(index.stateOf(id, Date.now())).toBe('revoked'); // tokens minted from it too
    expect(index.version).toBe(1); // the store's changes are still read from where they were
    expect(index.revoke(keyIdOf(hashApiKey(generateApiKey('live'))))).toBe(false);
    // The store, read again, has the last word: a key it holds active is accepted again...
    index.settle(id);
    expect(index.verify(key).ok).toBe(true);
    // ...and one it holds revoked stays refused.
    index.revoke(id);
    index.apply([storedKey(hashApiKey(key), 2, 'revoked')]);
    index.settle(id);
    expect(index.verify(key)).toEqual({ ok: false, reason: 'revoked' });
  });
});
