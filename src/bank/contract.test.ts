import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBankOperations } from './contract.js';
import { startTestBank, type TestBank } from './testing.js';

describe('the bank serves exactly the operations of its OpenAPI document', () => {
  let t: TestBank;
  beforeAll(async () => {
    t = await startTestBank('sqlite');
  });
  afterAll(async () => t.close());

  it('registers one route per documented operation, and nothing else', async () => {
    const documented = (await loadBankOperations()).map(
      (op) => `${op.method} ${op.template.replace(/\{([^}]+)\}/g, ':$1')}`,
    );
    expect([...documented].sort()).toEqual([
      'GET /.well-known/jwks.json',
      'GET /accounts',
      'GET /accounts/:id',
      'GET /accounts/:id/transactions',
      'GET /me',
      'POST /accounts/:id/transfer',
      'POST /auth/login',
    ]);
    expect([...t.bank.routes].sort()).toEqual([...documented].sort());
  });

  it('declares scopes for every operation that needs a caller, in security and x-gatehouse-scopes alike', async () => {
    for (const op of await loadBankOperations()) {
      if (op.access !== 'caller') continue;
      expect(op.scopes.length, op.operationId).toBeGreaterThan(0);
    }
    const transfer = (await loadBankOperations()).find((op) => op.operationId === 'createTransfer')!;
    expect(transfer.scopes).toEqual(['transfers:write']);
  });

  it('answers an undeclared method or path with the generic 404 problem', async () => {
    for (const [method, path] of [
      ['DELETE', '/accounts'],
      ['GET', '/debug'],
      ['HEAD', '/accounts'],
      ['POST', '/accounts/00000000-0000-4000-8000-000000000000/close'],
    ] as const) {
      const response = await t.call(path, { method });
      expect(response.status, `${method} ${path}`).toBe(404);
      if (method !== 'HEAD') {
        expect(response.json()).toEqual({
          type: 'https://gatehouse.dev/bank/problems/not-found',
          title: 'Not found',
          status: 404,
        });
      }
    }
  });
});
