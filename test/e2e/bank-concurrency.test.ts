import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLedgerSound } from '../../src/bank/store/store.js';
import { seedUsers, type SeededUser } from '../../src/bank/seed.js';
import { DATABASES, startTestBank, type HttpResponse, type TestBank } from '../../src/bank/testing.js';

for (const db of DATABASES) {
  describe.skipIf(db.skip !== null)(
    `bank concurrency on ${db.name}${db.skip === null ? '' : ` (skipped: ${db.skip})`}`,
    () => {
      let t: TestBank;
      let payer: SeededUser;
      let payees: SeededUser[];
      let openingTotal: number;

      const balance = async (id: string): Promise<number> =>
        (await t.bank.store.findAccount(id, null))!.balance;
      const send = (
        from: SeededUser,
        account: string,
        to: string,
        amount: number,
        key = randomUUID(),
      ): Promise<HttpResponse> =>
        t.call(`/accounts/${account}/transfer`, {
          as: { id: from.id },
          headers: { 'idempotency-key': key },
          body: { toAccountId: to, amount, currency: 'EUR' },
        });
      const expectLedgerSound = async (): Promise<void> => {
        const report = await t.bank.store.checkLedger();
        expect(isLedgerSound(report), JSON.stringify(report)).toBe(true);
        expect(report.totalBalance).toBe(openingTotal);
      };

      beforeAll(async () => {
        t = await startTestBank(db.name);
        const limit = 100_000_000;
        const seeded = await seedUsers(t.bank.store, [
          {
            username: 'payer',
            role: 'customer',
            accounts: [{ name: 'Main', currency: 'EUR', openingBalance: 130_000, dailyOutgoingLimit: limit }],
          },
          ...['p1', 'p2', 'p3', 'p4'].map((username) => ({
            username,
            role: 'customer' as const,
            accounts: [{ name: 'Main', currency: 'EUR', openingBalance: 50_000, dailyOutgoingLimit: limit }],
          })),
        ]);
        [payer, ...payees] = seeded as [SeededUser, ...SeededUser[]];
        openingTotal = (await t.bank.store.checkLedger()).openingTotal;
      });
      afterAll(async () => t?.close());

      it('200 concurrent transfers from one account never overdraw it', async () => {
        const from = payer.accounts[0]!;
        const responses = await Promise.all(
          Array.from({ length: 200 }, (_, i) =>
            send(payer, from, payees[i % payees.length]!.accounts[0]!, 1_000),
          ),
        );
        const made = responses.filter((a) => a.status === 201);
        const refused = responses.filter((a) => a.status === 422);
        expect(made.length).toBe(130);
        expect(refused.length).toBe(70);
        for (const response of refused) expect(response.json()['type']).toMatch(/insufficient-funds$/);
        expect(await balance(from)).toBe(0);
        await expectLedgerSound();
      }, 90_000);

      it('concurrent replays of one Idempotency-Key move money once and all get the same transfer', async () => {
        const [from, to] = [payees[0]!.accounts[0]!, payees[1]!.accounts[0]!];
        const [fromBefore, toBefore] = [await balance(from), await balance(to)];
        const key = randomUUID();
        const responses = await Promise.all(
          Array.from({ length: 40 }, () => send(payees[0]!, from, to, 777, key)),
        );
        expect(responses.map((a) => a.status)).toEqual(Array(40).fill(201));
        expect(new Set(responses.map((a) => a.text)).size).toBe(1);
        expect(responses.filter((a) => a.headers['idempotent-replayed'] === undefined).length).toBe(1);
        expect(await balance(from)).toBe(fromBefore - 777);
        expect(await balance(to)).toBe(toBefore + 777);
        await expectLedgerSound();
      }, 90_000);

      it('transfers crossing in both directions at once all complete (no deadlock) and cancel out', async () => {
        const [a, b] = [payees[2]!, payees[3]!];
        const [aAccount, bAccount] = [a.accounts[0]!, b.accounts[0]!];
        const [aBefore, bBefore] = [await balance(aAccount), await balance(bAccount)];
        const responses = await Promise.all(
          Array.from({ length: 200 }, (_, i) =>
            i % 2 === 0 ? send(a, aAccount, bAccount, 10) : send(b, bAccount, aAccount, 10),
          ),
        );
        expect(responses.filter((x) => x.status !== 201).map((x) => x.text)).toEqual([]);
        expect([await balance(aAccount), await balance(bAccount)]).toEqual([aBefore, bBefore]);
        await expectLedgerSound();
      }, 90_000);
    },
  );
}
