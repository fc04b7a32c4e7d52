import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDevCertificates } from '../../src/tls/dev-certs.js';
import { isLedgerSound } from '../../src/bank/store/store.js';
import { openAccount, seedUsers, type SeededUser } from '../../src/bank/seed.js';
import {
  DATABASES,
  IDENTITY_HEADER,
  createTestGateway,
  startTestBank,
  type HttpResponse,
  type TestBank,
} from '../../src/bank/testing.js';

const PROBLEMS = 'https://gatehouse.dev/bank/problems/';

function expectProblem(response: HttpResponse, status: number, code: string): void {
  expect(response.status, response.text).toBe(status);
  expect(response.headers['content-type']).toBe('application/problem+json');
  const body = response.json();
  expect(Object.keys(body).sort()).toEqual(['status', 'title', 'type']);
  expect(body['type']).toBe(PROBLEMS + code);
  expect(body['status']).toBe(status);
}

for (const db of DATABASES) {
  describe.skipIf(db.skip !== null)(
    `the bank on ${db.name}${db.skip === null ? '' : ` (skipped: ${db.skip})`}`,
    () => {
      let t: TestBank;
      let alice: SeededUser;
      let bob: SeededUser;
      let carol: SeededUser;
      let auditor: SeededUser;
      /** Alice's account with a small daily limit, and Carol's in another currency. */
      let aliceCapped: string;
      let carolUsd: string;

      const balance = async (id: string): Promise<number> =>
        (await t.bank.store.findAccount(id, null))!.balance;
      const transfer = (
        who: SeededUser,
        from: string,
        body: Record<string, unknown>,
        key: string = randomUUID(),
        scopes?: string[],
      ): Promise<HttpResponse> =>
        t.call(`/accounts/${from}/transfer`, {
          as: { id: who.id, ...(scopes === undefined ? {} : { scopes }) },
          headers: { 'idempotency-key': key },
          body,
        });
      const expectLedgerSound = async (): Promise<void> => {
        const report = await t.bank.store.checkLedger();
        expect(isLedgerSound(report), JSON.stringify(report)).toBe(true);
      };

      beforeAll(async () => {
        t = await startTestBank(db.name, {
          money: { maxTransferAmount: 500_000, defaultDailyOutgoingLimit: 2_000_000 },
          loginBackoff: {
            freeFailures: 3,
            initialDelayMs: 60_000,
            maxDelayMs: 600_000,
            forgetAfterMs: 3_600_000,
          },
        });
        [alice, bob, carol, auditor] = (await seedUsers(t.bank.store, [
          {
            username: 'alice',
            role: 'customer',
            accounts: [
              { name: 'Everyday', currency: 'EUR', openingBalance: 250_000 },
              { name: 'Savings', currency: 'EUR', openingBalance: 1_000_000 },
            ],
          },
          {
            username: 'bob',
            role: 'customer',
            accounts: [{ name: 'Everyday', currency: 'EUR', openingBalance: 120_000 }],
          },
          {
            username: 'carol',
            role: 'customer',
            accounts: [{ name: 'Dollars', currency: 'USD', openingBalance: 50_000 }],
          },
          { username: 'auditor', role: 'auditor', accounts: [] },
        ])) as [SeededUser, SeededUser, SeededUser, SeededUser];
        aliceCapped = await openAccount(t.bank.store, alice.id, {
          name: 'Capped',
          currency: 'EUR',
          openingBalance: 100_000,
          dailyOutgoingLimit: 30_000,
        });
        carolUsd = carol.accounts[0]!;
      });
      afterAll(async () => t?.close());

      describe('trust: only the gateway, with a valid identity assertion, gets in', () => {
        it('refuses a connection without the gateway client certificate (401), but serves the JWKS', async () => {
          const before = await balance(alice.accounts[0]!);
          for (const [path, method] of [
            ['/accounts', 'GET'],
            [`/accounts/${alice.accounts[0]}`, 'GET'],
            ['/auth/login', 'POST'],
          ] as const) {
            const response = await t.call(path, {
              method,
              as: { id: alice.id },
              agent: t.anonymousAgent,
              ...(method === 'POST' ? { body: { username: 'alice', password: alice.password } } : {}),
            });
            expectProblem(response, 401, 'unauthenticated');
          }
          const direct = await t.call(`/accounts/${alice.accounts[0]}/transfer`, {
            agent: t.anonymousAgent,
            as: { id: alice.id },
            headers: { 'idempotency-key': randomUUID() },
            body: { toAccountId: bob.accounts[0], amount: 1, currency: 'EUR' },
          });
          expectProblem(direct, 401, 'unauthenticated');
          // The same transfer through the gateway's certificate moves money: the refusal was the certificate.
          expect(
            (
              await transfer(alice, alice.accounts[0]!, {
                toAccountId: bob.accounts[0],
                amount: 1,
                currency: 'EUR',
              })
            ).status,
          ).toBe(201);
          expect(await balance(alice.accounts[0]!)).toBe(before - 1);
          const jwks = await t.call('/.well-known/jwks.json', { agent: t.anonymousAgent });
          expect(jwks.status).toBe(200);
        });

        it('refuses a client certificate from another CA', async () => {
          const other = await ensureDevCertificates(`${t.dir}/other-ca`);
          const agent = new Agent({
            connect: { ca: t.certs.caCert, cert: other.clientCert, key: other.clientKey },
          });
          try {
            expectProblem(await t.call('/accounts', { as: { id: alice.id }, agent }), 401, 'unauthenticated');
          } finally {
            await agent.close();
          }
        });

        it('refuses a missing, forged, expired, misaddressed or mistyped assertion', async () => {
          const forger = await createTestGateway();
          const now = Math.floor(Date.now() / 1000);
          const bad = [
            undefined,
            'not-a-jwt',
            await forger.assertion({ subject: alice.id, scopes: ['accounts:read'] }),
            await t.gateway.assertion({
              subject: alice.id,
              scopes: ['accounts:read'],
              audience: 'another-api',
            }),
            await t.gateway.assertion({
              subject: alice.id,
              scopes: ['accounts:read'],
              issuer: 'urn:someone-else',
            }),
            await t.gateway.assertion({
              subject: alice.id,
              scopes: ['accounts:read'],
              issuedAt: now - 120,
              lifetimeSec: 60,
            }),
            await t.gateway.assertion({ subject: alice.id, scopes: ['accounts:read'], lifetimeSec: 3600 }),
            await t.gateway.assertion({ subject: alice.id, scopes: ['accounts:read'], typ: 'JWT' }),
          ];
          for (const assertion of bad) {
            const response = await t.call('/accounts', assertion === undefined ? {} : { assertion });
            expectProblem(response, 401, 'unauthenticated');
          }
        });

        it('refuses an assertion whose subject is not a bank user', async () => {
          expectProblem(await t.call('/me', { as: { id: randomUUID() } }), 401, 'unauthenticated');
          expectProblem(await t.call('/me', { as: { id: "alice' OR '1'='1" } }), 401, 'unauthenticated');
          expectProblem(await t.call('/me', { as: { id: 'alice' } }), 401, 'unauthenticated');
        });

        it('checks the scopes the document lists, from the assertion (a read-only key cannot transfer)', async () => {
          const before = await balance(alice.accounts[0]!);
          const readOnly = await transfer(
            alice,
            alice.accounts[0]!,
            { toAccountId: bob.accounts[0], amount: 100, currency: 'EUR' },
            randomUUID(),
            ['accounts:read'],
          );
          expectProblem(readOnly, 403, 'insufficient-scope');
          expectProblem(
            await t.call('/accounts', { as: { id: alice.id, scopes: ['transfers:write'] } }),
            403,
            'insufficient-scope',
          );
          expect(await balance(alice.accounts[0]!)).toBe(before);
        });

        it('narrows granted scopes to the role: an auditor whose key carries transfers:write still cannot transfer', async () => {
          const as = { id: auditor.id, scopes: ['accounts:read', 'transfers:write'] };
          expect((await t.call('/me', { as })).json()['scopes']).toEqual(['accounts:read']);
          const before = await balance(alice.accounts[0]!);
          expectProblem(
            await transfer(auditor, alice.accounts[0]!, {
              toAccountId: bob.accounts[0],
              amount: 1,
              currency: 'EUR',
            }),
            403,
            'insufficient-scope',
          );
          expect(await balance(alice.accounts[0]!)).toBe(before);
        });
      });

      describe('login', () => {
        it('answers a token in the OAuth shape, verifiable with the JWKS', async () => {
          const response = await t.call('/auth/login', {
            body: { username: 'alice', password: alice.password },
          });
          expect(response.status, response.text).toBe(200);
          expect(response.headers['cache-control']).toBe('no-store');
          const body = response.json();
          expect(Object.keys(body).sort()).toEqual(['access_token', 'expires_in', 'scope', 'token_type']);
          expect(body['token_type']).toBe('Bearer');
          expect(body['expires_in']).toBe(900);
          const jwks = (await t.call('/.well-known/jwks.json')).json() as { keys: [] };
          const { payload, protectedHeader } = await jwtVerify(
            String(body['access_token']),
            createLocalJWKSet(jwks),
            {
              issuer: 'https://bank.test',
              audience: 'bank-api',
              algorithms: ['ES256'],
            },
          );
          expect(protectedHeader.alg).toBe('ES256');
          expect(payload.sub).toBe(alice.id);
          expect(payload['scope']).toBe('accounts:read transfers:write');
          expect(payload.exp! - payload.iat!).toBe(900);
          expect(JSON.stringify(jwks)).not.toMatch(/"d"/);
        });

        it('gives the auditor a token that reads and cannot transfer', async () => {
          const response = await t.call('/auth/login', {
            body: { username: 'auditor', password: auditor.password },
          });
          expect(response.json()['scope']).toBe('accounts:read');
        });

        it('answers an unknown username and a wrong password with the same 401, body and all', async () => {
          const unknown = await t.call('/auth/login', { body: { username: 'mallory', password: 'x' } });
          const wrong = await t.call('/auth/login', { body: { username: 'bob', password: 'not-his' } });
          expectProblem(unknown, 401, 'invalid-credentials');
          expect(wrong.status).toBe(unknown.status);
          expect(wrong.text).toBe(unknown.text);
          expect(wrong.headers['content-type']).toBe(unknown.headers['content-type']);
          // Bob's failure is forgotten on his next success.
          expect(
            (await t.call('/auth/login', { body: { username: 'bob', password: bob.password } })).status,
          ).toBe(200);
        });

        it('backs off per username after repeated failures, known or not, even for the right password', async () => {
          for (const username of ['carol', 'nobody-here']) {
            for (let i = 0; i < 3; i++) {
              expectProblem(
                await t.call('/auth/login', { body: { username, password: 'guess' } }),
                401,
                'invalid-credentials',
              );
            }
            const blocked = await t.call('/auth/login', { body: { username, password: 'guess' } });
            expectProblem(blocked, 401, 'invalid-credentials');
            const next = await t.call('/auth/login', { body: { username, password: carol.password } });
            expectProblem(next, 429, 'too-many-attempts');
            expect(Number(next.headers['retry-after'])).toBeGreaterThan(50);
          }
          // Other accounts are not affected.
          expect(
            (await t.call('/auth/login', { body: { username: 'alice', password: alice.password } })).status,
          ).toBe(200);
        });

        it('refuses malformed logins with 400', async () => {
          for (const body of [
            {},
            { username: 'alice' },
            { username: 'alice', password: alice.password, admin: true },
            { username: "alice' OR '1'='1", password: 'x' },
            { username: 'alice', password: 123 },
          ]) {
            expectProblem(await t.call('/auth/login', { body }), 400, 'invalid-request');
          }
        });

        it('rotates its signing key without a restart; tokens of the old key still verify', async () => {
          const before = (
            await t.call('/auth/login', { body: { username: 'alice', password: alice.password } })
          ).json();
          const oldKid = decodeProtectedHeader(String(before['access_token'])).kid;
          const newKid = await t.bank.tokens.rotate();
          const after = (
            await t.call('/auth/login', { body: { username: 'alice', password: alice.password } })
          ).json();
          expect(decodeProtectedHeader(String(after['access_token'])).kid).toBe(newKid);
          const jwks = (await t.call('/.well-known/jwks.json')).json() as { keys: { kid: string }[] };
          expect(jwks.keys.map((k) => k.kid)).toEqual(expect.arrayContaining([oldKid, newKid]));
          const keySet = createLocalJWKSet(jwks as never);
          await expect(jwtVerify(String(before['access_token']), keySet)).resolves.toBeDefined();
          await expect(jwtVerify(String(after['access_token']), keySet)).resolves.toBeDefined();
        });
      });

      describe('reads and object-level authorization', () => {
        it('GET /me names the caller', async () => {
          const response = await t.call('/me', { as: { id: alice.id } });
          expect(response.status).toBe(200);
          expect(response.json()).toEqual({
            id: alice.id,
            username: 'alice',
            role: 'customer',
            scopes: ['accounts:read', 'transfers:write'],
          });
        });

        it("GET /accounts lists only the caller's own accounts, every account for the auditor", async () => {
          const mine = (await t.call('/accounts', { as: { id: alice.id } })).json() as {
            items: { id: string }[];
          };
          expect(mine.items.map((a) => a.id).sort()).toEqual([...alice.accounts, aliceCapped].sort());
          const all = (
            await t.call('/accounts', { as: { id: auditor.id, scopes: ['accounts:read'] } })
          ).json() as {
            items: { id: string }[];
          };
          expect(all.items.map((a) => a.id)).toEqual(
            expect.arrayContaining([...alice.accounts, ...bob.accounts, carolUsd]),
          );
        });

        it('GET /accounts/{id} shows an own account with exactly the documented fields', async () => {
          const response = await t.call(`/accounts/${bob.accounts[0]}`, { as: { id: bob.id } });
          expect(response.status).toBe(200);
          expect(response.headers['cache-control']).toBe('no-store');
          const body = response.json();
          expect(Object.keys(body).sort()).toEqual([
            'balance',
            'createdAt',
            'currency',
            'dailyOutgoingLimit',
            'id',
            'name',
          ]);
          expect(body['currency']).toBe('EUR');
          expect(Number.isInteger(body['balance'])).toBe(true);
        });

        it('answers "not yours" and "does not exist" with the same 404, on every route that takes an id', async () => {
          for (const suffix of ['', '/transactions']) {
            const notYours = await t.call(`/accounts/${bob.accounts[0]}${suffix}`, { as: { id: alice.id } });
            const missing = await t.call(`/accounts/${randomUUID()}${suffix}`, { as: { id: alice.id } });
            const upperCase = await t.call(`/accounts/${bob.accounts[0]!.toUpperCase()}${suffix}`, {
              as: { id: alice.id },
            });
            expectProblem(notYours, 404, 'not-found');
            for (const other of [missing, upperCase]) {
              expect(other.status).toBe(404);
              expect(other.text).toBe(notYours.text);
              expect(other.headers['content-type']).toBe(notYours.headers['content-type']);
              expect(other.headers['content-length']).toBe(notYours.headers['content-length']);
            }
          }
          const bobBefore = await balance(bob.accounts[0]!);
          const steal = await transfer(alice, bob.accounts[0]!, {
            toAccountId: alice.accounts[0],
            amount: 500,
            currency: 'EUR',
          });
          const ghost = await transfer(alice, randomUUID(), {
            toAccountId: alice.accounts[0],
            amount: 500,
            currency: 'EUR',
          });
          expectProblem(steal, 404, 'not-found');
          expect(ghost.text).toBe(steal.text);
          expect(await balance(bob.accounts[0]!)).toBe(bobBefore);
        });

        it('lets the auditor read any account and its transactions', async () => {
          const as = { id: auditor.id, scopes: ['accounts:read'] };
          expect((await t.call(`/accounts/${bob.accounts[0]}`, { as })).status).toBe(200);
          expect((await t.call(`/accounts/${bob.accounts[0]}/transactions`, { as })).status).toBe(200);
        });

        it('refuses malformed ids and query parameters with 400', async () => {
          const as = { id: alice.id };
          for (const path of [
            '/accounts/not-a-uuid',
            "/accounts/1'%20OR%20'1'='1",
            `/accounts/${alice.accounts[0]}/transactions?limit=0`,
            `/accounts/${alice.accounts[0]}/transactions?limit=101`,
            `/accounts/${alice.accounts[0]}/transactions?limit=ten`,
            `/accounts/${alice.accounts[0]}/transactions?cursor=%27%20OR%201%3D1`,
            `/accounts/${alice.accounts[0]}/transactions?cursor=AAAA`,
            `/accounts/${alice.accounts[0]}/transactions?order=asc`,
          ]) {
            expectProblem(await t.call(path, { as }), 400, 'invalid-request');
          }
        });
      });

      describe('transfers', () => {
        it("moves money once, answers 201 without the destination's owner or balance", async () => {
          const [from, to] = [alice.accounts[0]!, bob.accounts[0]!];
          const [fromBefore, toBefore] = [await balance(from), await balance(to)];
          const response = await transfer(alice, from, {
            toAccountId: to,
            amount: 1234,
            currency: 'EUR',
            memo: 'Rent, March',
          });
          expect(response.status, response.text).toBe(201);
          const body = response.json();
          expect(Object.keys(body).sort()).toEqual([
            'amount',
            'createdAt',
            'currency',
            'fromAccountId',
            'id',
            'memo',
            'status',
            'toAccountId',
          ]);
          expect(body).toMatchObject({
            fromAccountId: from,
            toAccountId: to,
            amount: 1234,
            currency: 'EUR',
            memo: 'Rent, March',
          });
          expect(response.headers['idempotent-replayed']).toBeUndefined();
          expect(await balance(from)).toBe(fromBefore - 1234);
          expect(await balance(to)).toBe(toBefore + 1234);
          await expectLedgerSound();
        });

        it('replays an Idempotency-Key with the original answer and moves nothing again', async () => {
          const key = randomUUID();
          const body = { toAccountId: bob.accounts[0], amount: 700, currency: 'EUR' };
          const first = await transfer(alice, alice.accounts[0]!, body, key);
          const after = await balance(alice.accounts[0]!);
          const again = await transfer(alice, alice.accounts[0]!, body, key);
          expect(first.status).toBe(201);
          expect(again.status).toBe(201);
          expect(again.headers['idempotent-replayed']).toBe('true');
          expect(again.json()).toEqual(first.json());
          expect(await balance(alice.accounts[0]!)).toBe(after);
          // The same key with a different request is refused, and moves nothing.
          const changed = await transfer(alice, alice.accounts[0]!, { ...body, amount: 701 }, key);
          expectProblem(changed, 422, 'idempotency-key-reused');
          expect(await balance(alice.accounts[0]!)).toBe(after);
          // Keys belong to their user: Bob's use of the same key is his own transfer.
          const bobs = await transfer(
            bob,
            bob.accounts[0]!,
            { toAccountId: alice.accounts[0], amount: 1, currency: 'EUR' },
            key,
          );
          expect(bobs.status).toBe(201);
          expect(bobs.headers['idempotent-replayed']).toBeUndefined();
        });

        it('refuses transfers by the auditor (403) and without an Idempotency-Key (400)', async () => {
          const as = { toAccountId: bob.accounts[0], amount: 100, currency: 'EUR' };
          expectProblem(await transfer(auditor, alice.accounts[0]!, as), 403, 'insufficient-scope');
          const noKey = await t.call(`/accounts/${alice.accounts[0]}/transfer`, {
            as: { id: alice.id },
            body: as,
          });
          expectProblem(noKey, 400, 'invalid-request');
          for (const key of ['short', "k'; DROP TABLE bank_accounts; --", 'x'.repeat(129)]) {
            expectProblem(await transfer(alice, alice.accounts[0]!, as, key), 400, 'invalid-request');
          }
        });

        it('refuses bad amounts, ids, unknown fields and injection strings in every field with 400; nothing moves', async () => {
          const from = alice.accounts[0]!;
          const to = bob.accounts[0]!;
          const before = [await balance(from), await balance(to)];
          const injection = "1' OR '1'='1'; DROP TABLE bank_accounts; --";
          const bodies: Record<string, unknown>[] = [
            { toAccountId: to, amount: 0, currency: 'EUR' },
            { toAccountId: to, amount: -100, currency: 'EUR' },
            { toAccountId: to, amount: 10.5, currency: 'EUR' },
            { toAccountId: to, amount: 1e20, currency: 'EUR' },
            { toAccountId: to, amount: 1_000_001, currency: 'EUR' },
            { toAccountId: to, amount: '100', currency: 'EUR' },
            { toAccountId: to, amount: null, currency: 'EUR' },
            { toAccountId: to, currency: 'EUR' },
            { toAccountId: to, amount: 100, currency: 'eur' },
            { toAccountId: to, amount: 100 },
            { toAccountId: 'bob', amount: 100, currency: 'EUR' },
            { toAccountId: to, amount: 100, currency: 'EUR', fromAccountId: from },
            { toAccountId: to, amount: 100, currency: 'EUR', status: 'approved' },
            { toAccountId: injection, amount: 100, currency: 'EUR' },
            { toAccountId: to, amount: injection, currency: 'EUR' },
            { toAccountId: to, amount: 100, currency: injection },
            { toAccountId: to, amount: 100, currency: 'EUR', memo: injection },
            { toAccountId: to, amount: 100, currency: 'EUR', memo: 'x'.repeat(141) },
            { toAccountId: to, amount: 100, currency: 'EUR', memo: 'line\nbreak' },
          ];
          for (const body of bodies) {
            expectProblem(await transfer(alice, from, body), 400, 'invalid-request');
          }
          expectProblem(
            await t.call(`/accounts/${encodeURIComponent(injection)}/transfer`, {
              as: { id: alice.id },
              headers: { 'idempotency-key': randomUUID() },
              body: { toAccountId: to, amount: 100, currency: 'EUR' },
            }),
            400,
            'invalid-request',
          );
          expect([await balance(from), await balance(to)]).toEqual(before);
          await expectLedgerSound();
        });

        it('applies the money rules with 422 and moves nothing', async () => {
          const from = alice.accounts[0]!;
          const before = await balance(from);
          const cases: [Record<string, unknown>, string][] = [
            [{ toAccountId: from, amount: 100, currency: 'EUR' }, 'same-account'],
            [{ toAccountId: from.toUpperCase(), amount: 100, currency: 'EUR' }, 'same-account'],
            [{ toAccountId: randomUUID(), amount: 100, currency: 'EUR' }, 'invalid-destination'],
            [{ toAccountId: carolUsd, amount: 100, currency: 'EUR' }, 'currency-mismatch'],
            [{ toAccountId: bob.accounts[0], amount: 100, currency: 'USD' }, 'currency-mismatch'],
            [{ toAccountId: bob.accounts[0], amount: 500_001, currency: 'EUR' }, 'amount-over-limit'],
          ];
          for (const [body, code] of cases) expectProblem(await transfer(alice, from, body), 422, code);
          expect(await balance(from)).toBe(before);
        });

        it('refuses an overdraft, and a refused key may be used again once the request can succeed', async () => {
          const poor = carolUsd;
          const key = randomUUID();
          const other = await openAccount(t.bank.store, bob.id, {
            name: 'USD',
            currency: 'USD',
            openingBalance: 10,
          });
          const body = { toAccountId: other, amount: 50_001, currency: 'USD' };
          expectProblem(await transfer(carol, poor, body, key), 422, 'insufficient-funds');
          expect(await balance(poor)).toBe(50_000);
          const exact = await transfer(carol, poor, { ...body, amount: 50_000 }, key);
          expect(exact.status).toBe(201);
          expect(await balance(poor)).toBe(0);
        });

        it('enforces the daily outgoing limit per account', async () => {
          const to = bob.accounts[0]!;
          expect(
            (await transfer(alice, aliceCapped, { toAccountId: to, amount: 20_000, currency: 'EUR' })).status,
          ).toBe(201);
          expectProblem(
            await transfer(alice, aliceCapped, { toAccountId: to, amount: 10_001, currency: 'EUR' }),
            422,
            'daily-limit-exceeded',
          );
          expect(
            (await transfer(alice, aliceCapped, { toAccountId: to, amount: 10_000, currency: 'EUR' })).status,
          ).toBe(201);
          expectProblem(
            await transfer(alice, aliceCapped, { toAccountId: to, amount: 1, currency: 'EUR' }),
            422,
            'daily-limit-exceeded',
          );
          expect(await balance(aliceCapped)).toBe(70_000);
        });

        it('pages through transactions newest first with an opaque cursor', async () => {
          const account = await openAccount(t.bank.store, bob.id, {
            name: 'Pages',
            currency: 'EUR',
            openingBalance: 10_000,
          });
          for (let i = 1; i <= 4; i++) {
            expect(
              (await transfer(bob, account, { toAccountId: alice.accounts[0], amount: i, currency: 'EUR' }))
                .status,
            ).toBe(201);
          }
          const seen: Record<string, unknown>[] = [];
          let cursor: string | null = null;
          do {
            const query: string = `?limit=2${cursor === null ? '' : `&cursor=${cursor}`}`;
            const page = (
              await t.call(`/accounts/${account}/transactions${query}`, { as: { id: bob.id } })
            ).json() as {
              items: Record<string, unknown>[];
              nextCursor: string | null;
            };
            expect(page.items.length).toBeLessThanOrEqual(2);
            seen.push(...page.items);
            cursor = page.nextCursor;
          } while (cursor !== null);
          expect(seen.map((e) => [e['kind'], e['amount'], e['balanceAfter']])).toEqual([
            ['debit', 4, 9990],
            ['debit', 3, 9994],
            ['debit', 2, 9997],
            ['debit', 1, 9999],
            ['opening', 10_000, 10_000],
          ]);
          expect(seen[0]!['counterpartyAccountId']).toBe(alice.accounts[0]);
        });
      });

      describe('errors never leak internals', () => {
        it('answers malformed JSON, a wrong media type and a huge body with generic problems', async () => {
          const as = { id: alice.id };
          const headers = { 'idempotency-key': randomUUID() };
          const path = `/accounts/${alice.accounts[0]}/transfer`;
          const malformed = await t.call(path, { as, headers, rawBody: '{"amount": 1,' });
          expectProblem(malformed, 400, 'invalid-request');
          const proto = await t.call(path, { as, headers, rawBody: '{"__proto__": {"admin": true}}' });
          expectProblem(proto, 400, 'invalid-request');
          const text = await t.call(path, {
            as,
            headers: { ...headers, 'content-type': 'text/plain' },
            rawBody: 'amount=1',
          });
          expectProblem(text, 415, 'unsupported-media-type');
          const huge = await t.call(path, {
            as,
            headers,
            rawBody: JSON.stringify({ memo: 'x'.repeat(20_000) }),
          });
          expectProblem(huge, 413, 'payload-too-large');
          for (const response of [malformed, proto, text, huge])
            expect(response.text).not.toMatch(/Unexpected|JSON|fastify|at /);
        });

        it('never sends Server or X-Powered-By, always nosniff', async () => {
          const response = await t.call('/me', { as: { id: alice.id } });
          expect(response.headers['server']).toBeUndefined();
          expect(response.headers['x-powered-by']).toBeUndefined();
          expect(response.headers['x-content-type-options']).toBe('nosniff');
        });
      });

      it('keeps the ledger sound: balances = entries, transfers sum to zero, total unchanged', async () => {
        const report = await t.bank.store.checkLedger();
        expect(report.transfers).toBeGreaterThan(5);
        expect(isLedgerSound(report), JSON.stringify(report)).toBe(true);
      });
    },
  );
}

// Keeps the header name the tests sign with in step with what the bank reads by default.
it("uses the gateway's identity header name", () => {
  expect(IDENTITY_HEADER).toBe('gatehouse-identity');
});
