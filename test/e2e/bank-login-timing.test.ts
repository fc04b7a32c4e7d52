import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedUsers } from '../../src/bank/seed.js';
import { startTestBank, type TestBank } from '../../src/bank/testing.js';

const median = (values: number[]): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

describe('bank login timing', () => {
  let t: TestBank;
  beforeAll(async () => {
    // No backoff in the way: this measures the response itself.
    t = await startTestBank('sqlite', {
      loginBackoff: { freeFailures: 1_000, initialDelayMs: 1, maxDelayMs: 1, forgetAfterMs: 1 },
    });
    await seedUsers(t.bank.store, [{ username: 'dora', role: 'customer', accounts: [] }]);
  });
  afterAll(async () => t?.close());

  it('takes as long for an unknown username as for a wrong password (one argon2id verification each)', async () => {
    const timed = async (username: string): Promise<number> => {
      const start = performance.now();
      const response = await t.call('/auth/login', { body: { username, password: 'wrong-password' } });
      expect(response.status).toBe(401);
      return performance.now() - start;
    };
    await timed('dora');
    await timed('warm-up');
    const unknown: number[] = [];
    const wrong: number[] = [];
    for (let i = 0; i < 12; i++) {
      unknown.push(await timed(`nobody-${randomUUID().slice(0, 8)}`));
      wrong.push(await timed('dora'));
    }
    const ratio = median(unknown) / median(wrong);
    // Without the decoy hash an unknown username answers >10x faster; the band allows a busy machine.
    expect(
      ratio,
      `unknown ${median(unknown).toFixed(1)} ms, wrong ${median(wrong).toFixed(1)} ms`,
    ).toBeGreaterThan(0.6);
    expect(ratio).toBeLessThan(1.6);
  });
});
