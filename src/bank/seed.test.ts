import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_USERS, seedDemo } from './seed.js';
import { isLedgerSound } from './store/store.js';
import { startTestBank, type TestBank } from './testing.js';

describe('demo seeding', () => {
  let t: TestBank;
  beforeAll(async () => {
    t = await startTestBank('sqlite');
  });
  afterAll(async () => t?.close());

  it('creates alice and bob with funded accounts and a read-only auditor, all able to log in', async () => {
    const users = await seedDemo(t.bank.store);
    expect(users.map((u) => [u.username, u.role, u.accounts.length])).toEqual([
      ['alice', 'customer', 2],
      ['bob', 'customer', 1],
      ['auditor', 'auditor', 0],
    ]);
    for (const user of users) {
      expect(user.password.length).toBeGreaterThanOrEqual(20);
      const login = await t.call('/auth/login', {
        body: { username: user.username, password: user.password },
      });
      expect(login.status).toBe(200);
    }
    const bob = (await t.call(`/accounts/${users[1]!.accounts[0]}`, { as: { id: users[1]!.id } })).json();
    expect(bob).toMatchObject({ currency: 'EUR', balance: DEMO_USERS[1]!.accounts[0]!.openingBalance });
    expect(isLedgerSound(await t.bank.store.checkLedger())).toBe(true);
  });

  it('seeding again keeps the users and accounts but gives new passwords (the old ones stop working)', async () => {
    const before = await t.bank.store.listAccounts(null);
    const first = (await t.bank.store.findUserByUsername('alice'))!;
    const again = await seedDemo(t.bank.store);
    expect((await t.bank.store.listAccounts(null)).map((a) => a.id)).toEqual(before.map((a) => a.id));
    expect(again[0]!.id).toBe(first.id);
    expect((await t.bank.store.findUserByUsername('alice'))!.passwordHash).not.toBe(first.passwordHash);
    expect(
      (await t.call('/auth/login', { body: { username: 'alice', password: again[0]!.password } })).status,
    ).toBe(200);
  });
});
