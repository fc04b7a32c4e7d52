import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtures, startHarness, type Harness } from '../support/gateway-harness.js';

/**
 * Requests generated from the schemas of test/fixtures/validation-api.yaml: every valid one
 * reaches the upstream unchanged, every invalid one is refused before it, and nothing is a 500.
 */
const openapi = readFileSync(path.join(fixtures, 'validation-api.yaml'), 'utf8');
const HEADERS = {
  'content-type': 'application/json',
  'idempotency-key': '0b8f3c1e-6a2d-4f7b-9e1c-5d4a3b2c1f0e',
};
const DECLARED = ['toAccountId', 'amount', 'currency', 'memo'];
const UUID = /^[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}$/i;

const validTransfer = fc.record(
  {
    toAccountId: fc.uuid(),
    amount: fc.integer({ min: 1, max: 1_000_000 }),
    currency: fc.constantFrom('EUR', 'USD', 'GBP'),
    // Any code point, injection text included: a memo is data, never code.
    memo: fc.oneof(
      fc.string({ unit: 'binary', maxLength: 140 }),
      fc.constantFrom(
        "'; DROP TABLE accounts; --",
        '{"$gt": ""}',
        '$(rm -rf /)',
        '../../etc/passwd',
        '<script>x</script>',
      ),
    ),
  },
  { requiredKeys: ['toAccountId', 'amount', 'currency'] },
);

type Transfer = Record<string, unknown>;
const notAnInteger = fc.oneof(
  fc.integer({ max: 0 }),
  fc.integer({ min: 1_000_001 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Number.isInteger(n)),
  fc.string(),
  fc.constant(null),
  fc.boolean(),
  fc.dictionary(fc.constantFrom('$gt', '$ne', '$where'), fc.string(), { minKeys: 1 }),
);
const mutation: fc.Arbitrary<(t: Transfer) => Transfer> = fc.oneof(
  notAnInteger.map((amount) => (t: Transfer) => ({ ...t, amount })),
  fc
    .string()
    .filter((c) => !['EUR', 'USD', 'GBP'].includes(c))
    .map((currency) => (t: Transfer) => ({ ...t, currency })),
  fc
    .string()
    .filter((id) => !UUID.test(id))
    .map((toAccountId) => (t: Transfer) => ({ ...t, toAccountId })),
  fc.string({ minLength: 141, maxLength: 400 }).map((memo) => (t: Transfer) => ({ ...t, memo })),
  fc.constantFrom('toAccountId', 'amount', 'currency').map((key) => (t: Transfer) => {
    const copy = { ...t };
    delete copy[key];
    return copy;
  }),
  fc
    .tuple(
      fc.oneof(
        fc.constantFrom('role', 'balance', 'isAdmin', '__proto__', 'constructor', 'prototype'),
        fc.string({ minLength: 1 }),
      ),
      fc.jsonValue(),
    )
    .filter(([key]) => !DECLARED.includes(key))
    .map(
      ([key, value]) =>
        (t: Transfer) =>
          Object.fromEntries([...Object.entries(t), [key, value]]),
    ),
);
const invalidTransfer = fc.tuple(validTransfer, mutation).map(([t, mutate]) => mutate(t));

describe('property: requests generated from the schema', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ openapi, limits: { maxBodyBytes: 65_536 } });
  });
  afterAll(async () => h.close());

  it('every valid transfer reaches the upstream unchanged', async () => {
    await fc.assert(
      fc.asyncProperty(validTransfer, async (t) => {
        const text = JSON.stringify(t);
        const response = await h.get('/v/transfers', { method: 'POST', headers: HEADERS, body: text });
        expect(response.status).toBe(201);
        expect(h.upstream.received.at(-1)!.body).toBe(text);
      }),
      { numRuns: 100 },
    );
  });

  it('every invalid transfer is refused with a 400 naming a field, before the upstream', async () => {
    await fc.assert(
      fc.asyncProperty(invalidTransfer, async (t) => {
        const before = h.upstream.hits();
        const response = await h.get('/v/transfers', {
          method: 'POST',
          headers: HEADERS,
          body: JSON.stringify(t),
        });
        expect(response.status).toBe(400);
        const problem = response.json() as { type: string; errors: { field: string; rule: string }[] };
        expect(problem.type).toBe('https://gatehouse.dev/problems/validate-body');
        expect(problem.errors).toHaveLength(1);
        expect(h.upstream.hits()).toBe(before);
      }),
      { numRuns: 150 },
    );
  });

  it('valid queries pass unchanged; invalid ones are refused before the upstream', async () => {
    const validQuery = fc.record(
      {
        limit: fc.integer({ min: 1, max: 100 }).map(String),
        status: fc.constantFrom('open', 'closed'),
        // Control characters are refused in any request target by the route stage, schema or not.
        q: fc
          .string({ unit: 'binary', maxLength: 50 })
          .filter((q) => ![...q].some((c) => c.charCodeAt(0) < 0x20 || c === '\u007f')),
        sort: fc.subarray(['owner', 'balance', 'created'], { minLength: 1 }).map((s) => s.join(',')),
      },
      { requiredKeys: [] },
    );
    const invalidQuery = fc.oneof(
      fc
        .integer()
        .filter((n) => n < 1 || n > 100)
        .map((n) => ({ limit: String(n) })),
      fc
        .string()
        .filter((s) => !/^(0|[1-9][0-9]*)$/.test(s) || Number(s) < 1 || Number(s) > 100)
        .map((limit) => ({ limit })),
      fc
        .string({ minLength: 1, maxLength: 20 })
        .filter((name) => !['limit', 'status', 'q', 'sort', 'tag', 'file', 'filter', 'active'].includes(name))
        .map((name) => ({ [name]: 'x' })),
      fc.string({ unit: 'binary', minLength: 51, maxLength: 80 }).map((q) => ({ q })),
    );
    const encode = (query: Record<string, string>): string =>
      Object.entries(query)
        .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
        .join('&');
    await fc.assert(
      fc.asyncProperty(validQuery, async (query) => {
        // An empty query is sent without its '?': the gateway forwards `/v/accounts?` as `/v/accounts`.
        const search = encode(query);
        const target = search === '' ? '/v/accounts' : '/v/accounts?' + search;
        expect((await h.get(target)).status).toBe(200);
        expect(h.upstream.received.at(-1)!.url).toBe(target);
      }),
      { numRuns: 80 },
    );
    await fc.assert(
      fc.asyncProperty(invalidQuery, async (query) => {
        const before = h.upstream.hits();
        const response = await h.get('/v/accounts?' + encode(query));
        expect(response.status).toBe(400);
        expect(h.upstream.hits()).toBe(before);
      }),
      { numRuns: 80 },
    );
  });

  it('arbitrary bytes and JSON values as a body never make the gateway fail (no 500)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ unit: 'binary' }),
          fc.jsonValue().map((v) => JSON.stringify(v) ?? 'null'),
        ),
        async (text) => {
          const before = h.upstream.hits();
          const response = await h.get('/v/transfers', { method: 'POST', headers: HEADERS, body: text });
          expect([201, 400]).toContain(response.status);
          if (response.status === 400) expect(h.upstream.hits()).toBe(before);
        },
      ),
      { numRuns: 150 },
    );
  });
});
