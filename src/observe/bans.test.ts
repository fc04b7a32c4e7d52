import { describe, expect, it } from 'vitest';
import { BanList, MAX_BANS, parseBan, type Ban, type BanListener } from './bans.js';

function clock(start = 1_000_000): { now: () => number; advance(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

const remote = (fields: Partial<Ban>): Ban => ({
  id: '00000000000000ff',
  kind: 'consumer',
  value: 'other',
  reason: 'r',
  source: 'admin',
  createdAt: 1_000_000,
  expiresAt: 2_000_000,
  ...fields,
});

describe('BanList', () => {
  it('refuses a banned value until the ban ends, and nothing else', () => {
    const time = clock();
    const bans = new BanList(time.now);
    expect(bans.check('address', '10.0.0.1')).toBeNull();
    const { ban } = bans.ban('address', '10.0.0.1', 60_000, 'flood', 'admin');
    expect(ban).toMatchObject({ kind: 'address', value: '10.0.0.1', expiresAt: 1_060_000 });
    expect(ban.id).toMatch(/^[0-9a-f]{16}$/);
    expect(bans.check('address', '10.0.0.1')).toBe(ban);
    expect(bans.check('address', '::ffff:10.0.0.1')).toBe(ban); // as a dual-stack socket reports it
    expect(bans.check('consumer', '10.0.0.1')).toBeNull();
    expect(bans.check('address', '10.0.0.2')).toBeNull();
    time.advance(60_000);
    expect(bans.check('address', '10.0.0.1')).toBeNull();
    expect(bans.size).toBe(0);
  });

  it('keeps one ban per target, the longer one, under one id', () => {
    const bans = new BanList(clock().now);
    const long = bans.ban('key', 'abc', 3_600_000, 'exposed', 'detector:plaintext-credential');
    expect(bans.ban('key', 'abc', 60_000, 'again', 'admin')).toEqual({ ban: long.ban, changed: false });
    const longer = bans.ban('key', 'abc', 7_200_000, 'again', 'admin');
    expect(longer.changed).toBe(true);
    expect(longer.ban.id).toBe(long.ban.id);
    expect(bans.list()).toEqual([longer.ban]);
    bans.apply(remote({ kind: 'key', value: 'abc', expiresAt: longer.ban.expiresAt - 1 }));
    expect(bans.check('key', 'abc')).toBe(longer.ban);
  });

  it('announces bans set and lifted here, not those learnt from elsewhere', () => {
    const bans = new BanList(clock().now);
    const told: string[] = [];
    const listener: BanListener = {
      set: (b) => told.push(`set ${b.value}`),
      lifted: (b) => told.push(`lift ${b.value}`),
    };
    bans.listen(listener);
    const { ban } = bans.ban('consumer', 'shop', 1000, 'r', 'admin');
    bans.apply(remote({}));
    expect(bans.check('consumer', 'other')).toEqual(remote({}));
    bans.removeTarget('consumer', 'other');
    expect(bans.check('consumer', 'other')).toBeNull();
    expect(bans.lift(ban.id)).toEqual(ban);
    expect(bans.lift(ban.id)).toBeNull();
    expect(told).toEqual(['set shop', 'lift shop']);
  });

  it('ignores a copy of a lifted ban that is still travelling, but not a ban set after the lift', () => {
    const time = clock();
    const bans = new BanList(time.now);
    bans.apply(remote({}));
    bans.removeTarget('consumer', 'other');
    bans.apply(remote({})); // read from the store before the lift reached it
    expect(bans.check('consumer', 'other')).toBeNull();
    time.advance(10);
    bans.apply(remote({ id: '00000000000000fe', createdAt: time.now() }));
    expect(bans.check('consumer', 'other')).not.toBeNull();
  });

  it('holds at most MAX_BANS, giving up a detector ban before an admin ban', () => {
    const bans = new BanList(clock().now);
    bans.apply(remote({ id: '0000000000000001', kind: 'address', value: 'admin-set', expiresAt: 1_500_000 }));
    for (let i = 1; i < MAX_BANS; i += 1) {
      bans.apply(
        remote({
          id: i.toString(16).padStart(16, '0'),
          kind: 'address',
          value: `a${i}`,
          source: 'detector:enumeration',
          expiresAt: 2_000_000 + i,
        }),
      );
    }
    bans.ban('address', 'newest', 10_000_000, 'r', 'admin');
    expect(bans.size).toBe(MAX_BANS);
    expect(bans.check('address', 'admin-set')).not.toBeNull();
    expect(bans.check('address', 'a1')).toBeNull();
    expect(bans.check('address', 'a2')).not.toBeNull();
    expect(bans.check('address', 'newest')).not.toBeNull();
  });

  it('reads back only well-formed bans from the shared store', () => {
    const { ban } = new BanList(clock().now).ban('address', '::1', 1000, 'r', 'admin');
    expect(parseBan(JSON.parse(JSON.stringify(ban)))).toEqual(ban);
    expect(parseBan({ ...ban, kind: 'planet' })).toBeNull();
    expect(parseBan({ ...ban, id: 'x' })).toBeNull();
    expect(parseBan({ ...ban, expiresAt: '1' })).toBeNull();
    expect(parseBan(null)).toBeNull();
  });
});
