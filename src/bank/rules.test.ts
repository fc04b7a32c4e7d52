import { writeFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exportSPKI, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { blockedUntil, DEFAULT_LOGIN_BACKOFF, normalizeUsername } from './auth/login-backoff.js';
import { readGatewayKeys } from './env.js';
import { newId } from './ids.js';
import { brokenTransferRule, DEFAULT_MONEY_RULES, transferFingerprint } from './money/rules.js';
import { decodeCursor, encodeCursor } from './representations.js';

const request = {
  fromAccountId: '6f1d7e0c-56a4-4d3b-9a53-0c4c8f0e5a11',
  toAccountId: '0b4b2f9e-2f4e-4d1c-8d8e-3e0c9a1d2b33',
  amount: 100,
  currency: 'EUR',
  memo: null,
};

describe('money rules', () => {
  it('accepts a positive integer amount up to the per-transfer maximum, between two accounts', () => {
    expect(brokenTransferRule(DEFAULT_MONEY_RULES, request)).toBeNull();
    expect(
      brokenTransferRule(DEFAULT_MONEY_RULES, { ...request, amount: DEFAULT_MONEY_RULES.maxTransferAmount }),
    ).toBeNull();
  });

  it.each([0, -1, 1.5, Number.NaN, Infinity, 1_000_001, 2 ** 53])('refuses the amount %s', (amount) => {
    expect(brokenTransferRule(DEFAULT_MONEY_RULES, { ...request, amount })).toBe('amount-over-limit');
  });

  it('refuses a transfer to the same account', () => {
    expect(brokenTransferRule(DEFAULT_MONEY_RULES, { ...request, toAccountId: request.fromAccountId })).toBe(
      'same-account',
    );
  });

  it('binds an Idempotency-Key to every field of the request', () => {
    const base = transferFingerprint(request);
    expect(transferFingerprint({ ...request })).toBe(base);
    for (const changed of [
      { amount: 101 },
      { currency: 'USD' },
      { memo: 'x' },
      { toAccountId: request.fromAccountId },
      { fromAccountId: request.toAccountId },
    ]) {
      expect(transferFingerprint({ ...request, ...changed })).not.toBe(base);
    }
  });
});

describe('login backoff', () => {
  it('lets the free failures through, then doubles the wait up to the ceiling', () => {
    const b = { ...DEFAULT_LOGIN_BACKOFF, freeFailures: 3, initialDelayMs: 1000, maxDelayMs: 8000 };
    expect([1, 2, 3].map((n) => blockedUntil(b, n, 0))).toEqual([0, 0, 0]);
    expect([4, 5, 6, 7, 8, 100].map((n) => blockedUntil(b, n, 10))).toEqual([
      1010, 2010, 4010, 8010, 8010, 8010,
    ]);
  });

  it('counts usernames case-insensitively', () => {
    expect(normalizeUsername('Alice')).toBe(normalizeUsername('aLICE'));
  });
});

describe('transaction cursors', () => {
  it('round-trip a sequence number and refuse anything else', () => {
    expect(decodeCursor(encodeCursor(42))).toBe(42);
    for (const bad of [
      '',
      'AAAA',
      Buffer.from('0').toString('base64url'),
      Buffer.from('-1').toString('base64url'),
      Buffer.from('1 OR 1=1').toString('base64url'),
    ]) {
      expect(decodeCursor(bad)).toBeNull();
    }
  });
});

describe('gateway keys file', () => {
  it('reads a JWK Set or one or more PEM public keys', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bank-keys-'));
    try {
      const pems = await Promise.all(
        [0, 1].map(async () => exportSPKI((await generateKeyPair('ES256', { extractable: true })).publicKey)),
      );
      writeFileSync(path.join(dir, 'keys.pem'), pems.join('\n'));
      expect(readGatewayKeys(path.join(dir, 'keys.pem'))).toEqual(pems.map((p) => p.trim()));
      writeFileSync(path.join(dir, 'keys.json'), JSON.stringify({ keys: [{ kty: 'EC', kid: 'a' }] }));
      expect(readGatewayKeys(path.join(dir, 'keys.json'))).toEqual({ keys: [{ kty: 'EC', kid: 'a' }] });
      writeFileSync(path.join(dir, 'junk'), 'hello');
      expect(() => readGatewayKeys(path.join(dir, 'junk'))).toThrow(/neither a JWK Set nor PEM/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ids', () => {
  it('are UUIDs version 7 that sort by creation time and do not repeat', () => {
    const ids = Array.from({ length: 2000 }, (_, i) => newId(1_700_000_000_000 + Math.floor(i / 10)));
    for (const id of ids)
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(ids.length);
    expect(newId(1_700_000_000_000).slice(0, 13)).toBe('018bcfe5-6800');
    expect(newId(2_000_000_000_000) > newId(1_999_999_999_999)).toBe(true);
  });
});
