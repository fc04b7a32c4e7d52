import { describe, expect, it } from 'vitest';
import { seedUsers } from '../../src/bank/seed.js';
import { DATABASES, startTestBank } from '../../src/bank/testing.js';

for (const db of DATABASES) {
  describe.skipIf(db.skip !== null)(
    `bank with its ${db.name} database gone${db.skip === null ? '' : ` (skipped: ${db.skip})`}`,
    () => {
      it('answers a generic problem: no SQL, driver message or stack reaches the client', async () => {
        const t = await startTestBank(db.name);
        try {
          const [user] = await seedUsers(t.bank.store, [
            {
              username: 'erin',
              role: 'customer',
              accounts: [{ name: 'Main', currency: 'EUR', openingBalance: 10 }],
            },
          ]);
          await t.bank.store.close();
          for (const response of [
            await t.call('/accounts', { as: { id: user!.id } }),
            await t.call('/auth/login', { body: { username: 'erin', password: user!.password } }),
          ]) {
            expect([500, 503]).toContain(response.status);
            expect(response.headers['content-type']).toBe('application/problem+json');
            // Exactly the catalogued body: nothing of the driver's error is in it.
            expect([
              '{"type":"https://gatehouse.dev/bank/problems/internal","title":"Internal error","status":500}',
              '{"type":"https://gatehouse.dev/bank/problems/unavailable","title":"Service unavailable","status":503}',
            ]).toContain(response.text);
          }
        } finally {
          await t.close().catch(() => undefined);
        }
      });
    },
  );
}
