import {
  errors,
  SignJWT,
  decodeProtectedHeader,
  type FlattenedJWSInput,
  type CompactJWSHeaderParameters,
} from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { KeySetUnavailable, RemoteJwks } from '../../src/auth/jwt/remote-jwks.js';
import { issuerKey, sleep, startJwksServer, type JwksServer } from './auth-support.js';

/** What jwtVerify hands a key resolver, for a token signed by `key`. */
async function resolverInput(kid: string): Promise<[CompactJWSHeaderParameters, FlattenedJWSInput]> {
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid })
    .sign(issuerKey(kid).privateKey);
  const [, payload, signature] = token.split('.') as [string, string, string];
  return [decodeProtectedHeader(token) as CompactJWSHeaderParameters, { payload, signature }];
}

describe('RemoteJwks against a real HTTPS JWKS server', () => {
  let server: JwksServer;
  let ca: string;
  const k1 = issuerKey('k1');
  const k2 = issuerKey('k2');
  beforeAll(async () => {
    server = await startJwksServer([k1.jwk]);
    ca = await readFile(server.caPath, 'utf8');
  });
  afterAll(() => server.close());

  const jwks = (overrides: Partial<ConstructorParameters<typeof RemoteJwks>[0]> = {}) =>
    new RemoteJwks({ url: server.url, ca, timeoutMs: 400, cooldownMs: 200, maxAgeMs: 60_000, ...overrides });

  it('fetches once for concurrent first requests and serves known keys from memory', async () => {
    server.serve([k1.jwk]);
    const set = jwks();
    const before = server.hits();
    const input = await resolverInput('k1');
    await Promise.all([set.resolveKey(...input), set.resolveKey(...input), set.resolveKey(...input)]);
    await set.resolveKey(...input);
    expect(server.hits() - before).toBe(1);
    await set.close();
  });

  it('refreshes a stale set in the background without making a known key wait', async () => {
    server.serve([k1.jwk]);
    const set = jwks({ maxAgeMs: 50, cooldownMs: 0 });
    const input = await resolverInput('k1');
    await set.resolveKey(...input);
    await sleep(80);
    server.hang();
    const started = Date.now();
    await set.resolveKey(...input); // stale: a refresh starts (and hangs), the known key answers now
    expect(Date.now() - started).toBeLessThan(100);
    server.serve([k1.jwk, k2.jwk]);
    await sleep(500); // the hung refresh times out
    await set.resolveKey(...input);
    await set.close();
  });

  it('keeps the keys it has when a refetch fails, and says why when it never had any', async () => {
    server.serve([k1.jwk]);
    const set = jwks();
    await set.resolveKey(...(await resolverInput('k1')));
    server.hang();
    await sleep(250);
    await expect(set.resolveKey(...(await resolverInput('k2')))).rejects.toBeInstanceOf(
      errors.JWKSNoMatchingKey,
    );
    await set.resolveKey(...(await resolverInput('k1')));
    await set.close();
    const never = jwks();
    await expect(never.resolveKey(...(await resolverInput('k1')))).rejects.toThrow(KeySetUnavailable);
    await expect(never.resolveKey(...(await resolverInput('k1')))).rejects.toThrow(/no answer within 400 ms/);
    await never.close();
  });

  it('refuses a key set holding only symmetric or private keys', async () => {
    const privateJwk = { ...(k1.privateKey.export({ format: 'jwk' }) as object), kid: 'k1' };
    server.serve([{ kty: 'oct', k: 'c2VjcmV0', kid: 'k1' }, privateJwk]);
    const set = jwks();
    await expect(set.resolveKey(...(await resolverInput('k1')))).rejects.toThrow(/no public signature key/);
    await set.close();
  });

  it('refuses to fetch from a server it cannot verify', async () => {
    server.serve([k1.jwk]);
    const set = jwks({ ca: null }); // the system roots do not know the test CA
    await expect(set.resolveKey(...(await resolverInput('k1')))).rejects.toThrow(
      /certificate|self[- ]signed|UNABLE_TO/i,
    );
    await set.close();
  });
});
