import { describe, expect, it } from 'vitest';
import type { Principal } from '../principal.js';
import { VerifiedTokenCache } from './verified-token-cache.js';

const principal = (subject: string): Principal => ({
  subject,
  consumer: subject,
  scopes: new Set(),
  roles: [],
  credential: { kind: 'jwt', id: subject, issuer: 'i' },
  claims: {},
  expiresAt: null,
});

describe('VerifiedTokenCache', () => {
  it('serves an entry until its exp, never at or after it', () => {
    const cache = new VerifiedTokenCache(10);
    const alice = principal('alice');
    cache.set('t', alice, 2_000);
    expect(cache.get('t', 1_999)).toMatchObject({ principal: alice, mintedFrom: null });
    expect(cache.get('t', 1_999)?.principal).toBe(alice);
    expect(cache.get('t', 2_000)).toBeNull();
    expect(cache.size).toBe(0); // an expired entry is dropped when met
  });

  it('keeps at most its capacity, evicting the least recently used', () => {
    const cache = new VerifiedTokenCache(2);
    cache.set('a', principal('a'), 10_000);
    cache.set('b', principal('b'), 10_000);
    expect(cache.get('a', 0)?.principal.subject).toBe('a'); // a is now the most recent
    cache.set('c', principal('c'), 10_000);
    expect(cache.size).toBe(2);
    expect(cache.get('b', 0)).toBeNull();
    expect(cache.get('a', 0)?.principal.subject).toBe('a');
    expect(cache.get('c', 0)?.principal.subject).toBe('c');
  });

  it('keeps the API key a token was minted from beside its principal, for the check on each use', () => {
    const cache = new VerifiedTokenCache(10);
    cache.set('t', principal('p'), 10_000, '0123456789abcdef');
    const hit = cache.get('t', 0);
    expect(hit?.mintedFrom).toBe('0123456789abcdef');
    expect(cache.get('t', 1)).toBe(hit); // the entry itself: nothing allocated per hit
  });

  it('keeps nothing with capacity 0', () => {
    const cache = new VerifiedTokenCache(0);
    cache.set('a', principal('a'), 10_000);
    expect(cache.get('a', 0)).toBeNull();
  });
});

describe('VerifiedTokenCache eviction (CLOCK)', () => {
  it('evicts in insertion order what was not used, whatever the capacity', () => {
    const cache = new VerifiedTokenCache(3);
    for (const t of ['a', 'b', 'c']) cache.set(t, principal(t), 10_000);
    cache.get('b', 0);
    cache.set('d', principal('d'), 10_000); // a goes (never used)
    cache.set('e', principal('e'), 10_000); // b was used: passed over; c goes
    expect(['a', 'b', 'c', 'd', 'e'].filter((t) => cache.get(t, 0) !== null)).toEqual(['b', 'd', 'e']);
    for (let i = 0; i < 100; i += 1) cache.set(`x${i}`, principal('x'), 10_000);
    expect(cache.size).toBe(3);
  });
});
