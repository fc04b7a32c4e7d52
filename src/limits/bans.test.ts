import { describe, expect, it } from 'vitest';
import { BanList, MAX_BANS, parseBan, type Ban, type BanListener } from './bans.js';

function clock(start = 1_000_000): { now: () => number; advance(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('BanList', () => {
  it('refuses a banned value until the ban ends, and nothing else', () => {
    const time = clock();
    const bans = new BanList(time.now);
    expect(bans.check('address', '10.0.0.1')).toBeNull();
    const ban = bans.ban('address', '10.0.0.1', 60_000, 'flood', 'admin');
    expect(ban).toMatchObject({ kind: 'address', value: '10.0.0.1', expiresAt: 1_060_000 });
    expect(ban.id).toMatch(/^[0-9a-f]{16}$/);
    expect(bans.check('address', '10.0.0.1')).toBe(ban);
    expect(bans.check('consumer', '10.0.0.1')).toBeNull();
    expect(bans.check('address', '10.0.0.2')).toBeNull();
    time.advance(60_000);
    expect(bans.check('address', '10.0.0.1')).toBeNull();
    expect(bans.size).toBe(0);
  });

  it('keeps the longer of two bans on one value, under one id', () => {
    const bans = new BanList(clock().now);
    const long = bans.ban('key', 'abc', 3_600_000, 'exposed', 'detector:plaintext-credential');
    expect(bans.ban('key', 'abc', 60_000, 'again', 'admin')).toBe(long);
    const longer = bans.ban('key', 'abc', 7_200_000, 'again', 'admin');
    expect(longer.id).toBe(long.id);
    expect(longer.expiresAt).toBeGreaterThan(long.expiresAt);
    expect(bans.list()).toEqual([longer]);
  });

  it('announces bans set and lifted here, not those learnt from elsewhere', () => {
    const bans = new BanList(clock().now);
    const told: string[] = [];
    const listener: BanListener = {
      set: (b) => told.push(`set ${b.value}`),
      lifted: (b) => told.push(`lift ${b.value}`),
    };
    bans.listen(listener);
    const ban = bans.ban('consumer', 'shop', 1000, 'r', 'admin');
    const remote: Ban = { ...ban, id: '00000000000000ff', value: 'other' };
    bans.apply(remote);
    expect(bans.check('consumer', 'other')).toEqual(remote);
    expect(bans.remove(remote.id)).toEqual(remote);
    expect(bans.lift(ban.id)).toEqual(ban);
    expect(bans.lift(ban.id)).toBeNull();
    expect(told).toEqual(['set shop', 'lift shop']);
  });

  it('holds at most MAX_BANS, dropping the one that ends soonest', () => {
    const bans = new BanList(clock().now);
    for (let i = 0; i < MAX_BANS; i += 1)
      bans.apply({
        id: i.toString(16).padStart(16, '0'),
        kind: 'address',
        value: `a${i}`,
        reason: '',
        source: 'admin',
        createdAt: 0,
        expiresAt: 2_000_000 + i,
      });
    bans.ban('address', 'newest', 10_000_000, 'r', 'admin');
    expect(bans.size).toBe(MAX_BANS);
    expect(bans.check('address', 'a0')).toBeNull();
    expect(bans.check('address', 'a1')).not.toBeNull();
    expect(bans.check('address', 'newest')).not.toBeNull();
  });

  it('reads back only well-formed bans from the shared store', () => {
    const ban = new BanList(clock().now).ban('address', '::1', 1000, 'r', 'admin');
    expect(parseBan(JSON.parse(JSON.stringify(ban)))).toEqual(ban);
    expect(parseBan({ ...ban, kind: 'planet' })).toBeNull();
    expect(parseBan({ ...ban, id: 'x' })).toBeNull();
    expect(parseBan({ ...ban, expiresAt: '1' })).toBeNull();
    expect(parseBan(null)).toBeNull();
  });
});
