/**
 * Test support for the bank (excluded from the build): a stand-in gateway key that signs identity
 * assertions the way the gateway does, a bank on a fresh SQLite file or a fresh PostgreSQL schema,
 * and an mTLS client. Used by src/bank/*.test.ts and test/e2e/bank*.test.ts.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { Agent, request } from 'undici';
import { ensureDevCertificates, type DevCertificates } from '../tls/dev-certs.js';
import { startBank, type Bank, type BankOptions } from './server.js';
import type { BankDatabase } from './store/open-store.js';
import { dropBankSchema } from './store/postgres-store.js';

export const TEST_GATEWAY_ISSUER = 'urn:gatehouse:test-gateway';
export const TEST_AUDIENCE = 'bank';
export const IDENTITY_HEADER = 'gatehouse-identity';

export interface AssertionClaims {
  readonly subject: string;
  readonly scopes: readonly string[];
  readonly audience?: string;
  readonly issuer?: string;
  readonly lifetimeSec?: number;
  readonly issuedAt?: number;
  readonly typ?: string;
}

/** Signs identity assertions like src/auth/assertion/identity-assertions.ts does. */
export interface TestGateway {
  readonly publicJwk: JWK;
  assertion(claims: AssertionClaims): Promise<string>;
}

export async function createTestGateway(): Promise<TestGateway> {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = randomUUID();
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  return { publicJwk, assertion: (claims) => signAssertion(privateKey, kid, claims) };
}

export async function signAssertion(key: CryptoKey, kid: string, claims: AssertionClaims): Promise<string> {
  const iat = claims.issuedAt ?? Math.floor(Date.now() / 1000);
  return new SignJWT({
    consumer: claims.subject,
    scope: claims.scopes.join(' '),
    roles: [],
    cred: { kind: 'api-key', id: 'test-key', iss: null },
  })
    .setProtectedHeader({ alg: 'ES256', kid, typ: claims.typ ?? 'gatehouse-identity+jwt' })
    .setIssuer(claims.issuer ?? TEST_GATEWAY_ISSUER)
    .setAudience(claims.audience ?? TEST_AUDIENCE)
    .setSubject(claims.subject)
    .setJti(randomUUID())
    .setIssuedAt(iat)
    .setExpirationTime(iat + (claims.lifetimeSec ?? 30))
    .sign(key);
}

export interface DatabaseChoice {
  readonly name: 'sqlite' | 'postgres';
  /** Why it is skipped, or null when it runs. */
  readonly skip: string | null;
}

/** SQLite always; PostgreSQL when DATABASE_URL is set (CI sets it). */
export const DATABASES: readonly DatabaseChoice[] = [
  { name: 'sqlite', skip: null },
  { name: 'postgres', skip: process.env['DATABASE_URL'] ? null : 'DATABASE_URL is not set' },
];

/** A fresh database of the chosen kind; `drop` removes it (PostgreSQL: its own schema). */
export function freshDatabase(
  kind: DatabaseChoice['name'],
  dir: string,
): { database: BankDatabase; drop(): Promise<void> } {
  if (kind === 'sqlite')
    return { database: { kind, path: path.join(dir, 'bank.db') }, drop: async () => undefined };
  const url = process.env['DATABASE_URL']!;
  // The database `test` is shared by every test run: each bank gets a schema of its own.
  const schema = `bank_test_${randomBytes(6).toString('hex')}`;
  return { database: { kind, url, schema, poolSize: 8 }, drop: () => dropBankSchema(url, schema) };
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  json(): Record<string, unknown>;
}

export interface CallInit {
  readonly method?: string;
  readonly body?: unknown;
  /** Raw body text (sent as is), for malformed JSON. */
  readonly rawBody?: string;
  readonly headers?: Record<string, string>;
  /** The caller the identity assertion names: its bank user id and scopes. */
  readonly as?: { readonly id: string; readonly scopes?: readonly string[] };
  readonly assertion?: string;
  readonly agent?: Agent;
}

export interface TestBank {
  readonly bank: Bank;
  readonly dir: string;
  readonly certs: DevCertificates;
  readonly gateway: TestGateway;
  /** An mTLS client with the gateway's certificate. */
  readonly agent: Agent;
  /** A TLS client trusting the dev CA but presenting no certificate. */
  readonly anonymousAgent: Agent;
  call(pathAndQuery: string, init?: CallInit): Promise<HttpResponse>;
  close(): Promise<void>;
}

export const ALL_SCOPES = ['accounts:read', 'transfers:write'] as const;

export async function startTestBank(
  kind: DatabaseChoice['name'],
  options: Partial<Omit<BankOptions, 'tls' | 'gateway' | 'database'>> = {},
): Promise<TestBank> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-bank-'));
  const certs = await ensureDevCertificates(path.join(dir, 'state'));
  const gateway = await createTestGateway();
  const { database, drop } = freshDatabase(kind, dir);
  const bank = await startBank({
    port: 0,
    ...options,
    tls: { key: certs.serverKey, cert: certs.serverCert, ca: certs.caCert },
    gateway: { issuer: TEST_GATEWAY_ISSUER, audience: TEST_AUDIENCE, keys: { keys: [gateway.publicJwk] } },
    database,
    tokens: { issuer: 'https://bank.test', audience: 'bank-api', ...options.tokens },
  });
  // Many connections open at once in the concurrency tests: on a busy two-core machine their
  // handshakes queue for seconds, which is not what those tests measure.
  const agent = new Agent({
    connect: { ca: certs.caCert, cert: certs.clientCert, key: certs.clientKey, timeout: 60_000 },
    connections: 128,
  });
  const anonymousAgent = new Agent({ connect: { ca: certs.caCert } });
  return {
    bank,
    dir,
    certs,
    gateway,
    agent,
    anonymousAgent,
    call: (pathAndQuery, init = {}) => call(bank.url, agent, gateway, pathAndQuery, init),
    async close() {
      try {
        await agent.close();
        await anonymousAgent.close();
        await bank.close();
      } finally {
        // Whatever failed above (a test may have closed the store itself), the shared database
        // must not keep this run's schema.
        await drop();
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

async function call(
  base: string,
  agent: Agent,
  gateway: TestGateway,
  pathAndQuery: string,
  init: CallInit,
): Promise<HttpResponse> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.as !== undefined) {
    headers[IDENTITY_HEADER] = await gateway.assertion({
      subject: init.as.id,
      scopes: init.as.scopes ?? ALL_SCOPES,
    });
  }
  if (init.assertion !== undefined) headers[IDENTITY_HEADER] = init.assertion;
  let body: string | null = init.rawBody ?? null;
  if (init.body !== undefined) body = JSON.stringify(init.body);
  if (body !== null && headers['content-type'] === undefined) headers['content-type'] = 'application/json';
  const res = await request(base + pathAndQuery, {
    dispatcher: init.agent ?? agent,
    method: (init.method ?? (body === null ? 'GET' : 'POST')) as 'GET',
    headers,
    body,
  });
  const text = await res.body.text();
  return {
    status: res.statusCode,
    headers: res.headers,
    text,
    json: () => JSON.parse(text) as Record<string, unknown>,
  };
}
