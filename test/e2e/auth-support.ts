/**
 * Shared pieces of the auth end-to-end tests: a real HTTPS JWKS server (its own development CA)
 * that can rotate its keys or hang, issuer keys, token signing with jose, and the problem check.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import https from 'node:https';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { ServerResponse } from 'node:http';
import { SignJWT, type JWK, type JWTPayload } from 'jose';
import { expect } from 'vitest';
import { ensureDevCertificates } from '../../src/tls/dev-certs.js';
import type { HttpResponse, Harness } from '../support/gateway-harness.js';
import { expectProblem as expectGenericProblem, PROBLEM_BASE } from '../support/problems.js';

export { PROBLEM_BASE };

/** The generic problem, with the fixed titles of 401 and 403 whatever the cause. */
export function expectProblem(response: HttpResponse, status: number, type: string): void {
  expectGenericProblem(response, status, type);
  const title = (response.json() as Record<string, unknown>)['title'];
  if (status === 401) expect(title).toBe('Unauthorized');
  if (status === 403) expect(title).toBe('Forbidden');
}

export interface IssuerKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly jwk: JWK;
}

export function issuerKey(kid: string): IssuerKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...(publicKey.export({ format: 'jwk' }) as JWK), kid, alg: 'ES256', use: 'sig' };
  return { kid, privateKey, publicKey, jwk };
}

/** A token signed by `key` (ES256); `header` adds or overrides protected header parameters. */
export async function signToken(
  key: IssuerKey,
  claims: JWTPayload,
  header: Record<string, unknown> = {},
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid: key.kid, ...header })
    .sign(key.privateKey);
}

export const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
export const now = (): number => Math.floor(Date.now() / 1000);

export interface JwksServer {
  readonly url: string;
  readonly caPath: string;
  /** Requests received so far. */
  hits(): number;
  serve(keys: readonly JWK[]): void;
  /** Accept requests and never answer them. */
  hang(): void;
  close(): Promise<void>;
}

/** An issuer's JWKS endpoint over real HTTPS, with a CA of its own (configured as jwksCa). */
export async function startJwksServer(keys: readonly JWK[]): Promise<JwksServer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-jwks-'));
  const certs = await ensureDevCertificates(dir);
  let document = JSON.stringify({ keys });
  let hanging = false;
  let hits = 0;
  const held: ServerResponse[] = [];
  const server = https.createServer({ key: certs.serverKey, cert: certs.serverCert }, (_req, res) => {
    hits += 1;
    if (hanging) {
      held.push(res);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(document);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}/.well-known/jwks.json`,
    caPath: certs.caCertPath,
    hits: () => hits,
    serve(next) {
      hanging = false;
      document = JSON.stringify({ keys: next });
    },
    hang() {
      hanging = true;
    },
    async close() {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The operator-facing cause of a response, from its journey record (written as the response closes). */
export async function journeyReason(h: Harness, response: HttpResponse): Promise<string> {
  for (let i = 0; i < 50; i += 1) {
    const journey = h.gateway.journeys.find(String(response.headers['x-request-id']));
    if (journey !== undefined) return journey.reason ?? '';
    await sleep(10);
  }
  return '(no journey record)';
}
