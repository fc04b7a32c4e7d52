import { generateKeyPairSync } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkConfig, loadConfig } from './index.js';
import { makeConfigDir, minimalYaml, type ConfigDir } from './testing.js';

const ecPublic = () =>
  generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .publicKey.export({ type: 'spki', format: 'pem' })
    .toString();
const ecPrivate = (curve = 'P-256') =>
  generateKeyPairSync('ec', { namedCurve: curve })
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();

describe('the auth section of the configuration', () => {
  let dir: ConfigDir;
  beforeEach(async () => {
    dir = await makeConfigDir();
  });
  afterEach(() => dir.remove());

  const issuesOf = async (auth: string) =>
    (await checkConfig(await dir.config(minimalYaml + auth), {})).issues;

  it('has secure defaults when absent', async () => {
    const config = await loadConfig(await dir.config(minimalYaml), {});
    expect(config.auth).toMatchObject({
      realm: 'gatehouse',
      issuer: 'urn:gatehouse',
      maxTokenBytes: 8192,
      issuers: [],
      signingKeys: [],
      tokenEndpoint: { enabled: false, lifetimeSec: 300 },
      identity: { enabled: true, header: 'Gatehouse-Identity', lifetimeSec: 60, reuseSec: 30 },
    });
  });

  it('loads an issuer with static keys and a token endpoint client, keeping only the secret digest', async () => {
    await dir.file('issuer.pem', ecPublic());
    await dir.file('client.secret', 'x'.repeat(40));
    const config = await loadConfig(
      await dir.config(`${minimalYaml}auth:
  issuers:
    - { issuer: "https://login.example", audience: gatehouse, algorithms: [ES256], keys: ["file:./issuer.pem"] }
  tokenEndpoint:
    enabled: true
    clients: [ { id: reporting, secret: "file:./client.secret", scopes: [r] } ]
`),
      {},
    );
    expect(config.auth.issuers[0]).toMatchObject({
      issuer: 'https://login.example',
      audiences: ['gatehouse'],
      jwks: null,
      clockSkewSec: 30,
    });
    expect(config.auth.issuers[0]!.keys[0]).toContain('BEGIN PUBLIC KEY');
    expect(config.auth.tokenEndpoint.clients[0]).toEqual({
      id: 'reporting',
      consumer: 'reporting',
      scopes: ['r'],
      secretSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(JSON.stringify(config)).not.toContain('x'.repeat(40));
  });

  it('refuses the "none" algorithm with a hint about algorithm confusion', async () => {
    const issues = await issuesOf(`auth:
  issuers:
    - { issuer: a, audience: g, algorithms: [none], jwksUrl: "https://a.example/jwks" }
`);
    expect(issues.map((i) => [i.path, i.message])).toEqual([
      ['auth.issuers[0].algorithms[0]', expect.stringMatching(/^"none" is not one of: ES256/)],
    ]);
    expect(issues[0]!.hint).toMatch(/algorithm-confusion/);
  });

  it('loads an HMAC issuer whose secret comes from a file, without its final line break', async () => {
    const secret = 's'.repeat(40);
    await dir.file('notes.secret', `${secret}\n`);
    const config = await loadConfig(
      await dir.config(`${minimalYaml}auth:
  issuers:
    - { issuer: notes, algorithms: [HS256], secret: "file:./notes.secret", allowMissingClaims: [iss, aud] }
`),
      {},
    );
    const issuer = config.auth.issuers[0]!;
    expect(issuer).toMatchObject({ audiences: [], jwks: null, allowMissing: { iss: true, aud: true } });
    expect(issuer.hmacSecret?.export().toString()).toBe(secret);
    expect(JSON.stringify(config)).not.toContain(secret);
  });

  it('refuses HMAC issuers that mix algorithms, keep a secret inline or short, or lack a secret', async () => {
    await dir.file('short.secret', 'x'.repeat(31));
    await dir.file('hs512.secret', 'y'.repeat(48));
    const issues = await issuesOf(`auth:
  issuers:
    - { issuer: a, audience: g, algorithms: [HS256, ES256], secret: "file:./short.secret" }
    - { issuer: b, audience: g, algorithms: [HS256], secret: "file:./hs512.secret", jwksUrl: "https://b.example/jwks" }
    - { issuer: c, audience: g, algorithms: [HS256], secret: "an-inline-secret-of-more-than-32-bytes" }
    - { issuer: d, audience: g, algorithms: [HS256], secret: "file:./short.secret" }
    - { issuer: e, audience: g, algorithms: [HS512], secret: "file:./hs512.secret" }
    - { issuer: f, audience: g, algorithms: [HS256] }
    - { issuer: g, audience: g, algorithms: [ES256], secret: "file:./hs512.secret" }
`);
    const text = issues.map((i) => `${i.path}: ${i.message} — ${i.hint}`).join('\n');
    expect(text).toMatch(
      /auth\.issuers\[0\]: mixes HMAC and asymmetric algorithms \(HS256, ES256\) — an issuer is either HMAC/,
    );
    expect(text).toMatch(/auth\.issuers\[1\]: has an HMAC secret and public keys/);
    expect(text).toMatch(/auth\.issuers\[2\]\.secret: is not a secret reference/);
    expect(text).toMatch(
      /auth\.issuers\[3\]\.secret: file .* holds 31 bytes, fewer than the 32 HS256 needs — .*openssl rand/,
    );
    expect(text).toMatch(/auth\.issuers\[4\]\.secret: file .* holds 48 bytes, fewer than the 64 HS512 needs/);
    expect(text).toMatch(/auth\.issuers\[5\]\.secret: is missing/);
    expect(text).toMatch(
      /auth\.issuers\[6\]: has an HMAC secret, but its algorithms \(ES256\) verify with public keys/,
    );
    expect(text).not.toContain('an-inline-secret');
    expect(issues).toHaveLength(7);
  });

  it('takes tokens without iss from one issuer at most, and wants an audience unless aud may be missing', async () => {
    await dir.file('a.secret', 'a'.repeat(32));
    const issues = await issuesOf(`auth:
  issuers:
    - { issuer: a, algorithms: [HS256], secret: "file:./a.secret", allowMissingClaims: [iss, aud] }
    - { issuer: b, audience: g, algorithms: [HS256], secret: "file:./a.secret", allowMissingClaims: [iss] }
    - { issuer: c, algorithms: [ES256], jwksUrl: "https://c.example/jwks" }
`);
    expect(issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      'auth.issuers[1].allowMissingClaims: lets tokens without iss through, as auth.issuers[0] does',
      'auth.issuers[2].audience: is missing',
    ]);
  });

  it('reports every key-source problem at once', async () => {
    const privatePem = ecPrivate();
    await dir.file('private.pem', privatePem);
    const issues = await issuesOf(`auth:
  issuers:
    - { issuer: a, audience: g, algorithms: [ES256] }
    - { issuer: b, audience: g, algorithms: [ES256], jwksUrl: "http://b.example/jwks" }
    - { issuer: c, audience: g, algorithms: [ES256], jwksUrl: "https://c.example/jwks", keys: ["file:./x.pem"] }
    - { issuer: d, audience: g, algorithms: [ES256], keys: ["file:./private.pem"] }
    - { issuer: d, audience: g, algorithms: [RS256], keys: ["file:./missing.pem"] }
    - { issuer: "urn:gatehouse", audience: g, algorithms: [ES256], jwksUrl: "https://e.example/jwks" }
`);
    const text = issues.map((i) => `${i.path}: ${i.message}`).join('\n');
    expect(text).toMatch(/auth\.issuers\[0\]: has neither jwksUrl nor keys/);
    expect(text).toMatch(/auth\.issuers\[1\]\.jwksUrl: uses http:\/\/ instead of https:\/\//);
    expect(text).toMatch(/auth\.issuers\[2\]: has both jwksUrl and keys/);
    expect(text).toMatch(/auth\.issuers\[3\]\.keys\[0\]: .* holds a private key/);
    expect(text).toMatch(/auth\.issuers\[4\]\.issuer: is already the issuer of auth\.issuers\[3\]/);
    expect(text).toMatch(/auth\.issuers\[4\]\.keys\[0\]: .* does not exist/);
    expect(text).toMatch(/auth\.issuers\[5\]\.issuer: is the gateway's own issuer/);
    expect(text).not.toContain(privatePem.split('\n')[1]);
  });

  it('refuses short client secrets, inline secrets, non-P-256 signing keys and long-lived assertions', async () => {
    await dir.file('short.secret', 'abc');
    await dir.file('p384.pem', ecPrivate('P-384'));
    const issues = await issuesOf(`auth:
  signingKeys: ["file:./p384.pem"]
  identity: { lifetimeSec: 120, reuseSec: 30 }
  tokenEndpoint:
    clients:
      - { id: a, secret: "file:./short.secret", scopes: [] }
      - { id: a, secret: "hunter2hunter2hunter2hunter2hunter2", scopes: [] }
`);
    const text = issues.map((i) => `${i.path}: ${i.message} — ${i.hint}`).join('\n');
    expect(text).toMatch(/signingKeys\[0\]: .* is not a P-256 \(ES256\) key/);
    expect(text).toMatch(/identity\.lifetimeSec/);
    expect(text).toMatch(/clients\[0\]\.secret: .* shorter than 32 characters/);
    expect(text).toMatch(/clients\[1\]\.id: is already the id of clients\[0\]/);
    expect(text).toMatch(/clients\[1\]\.secret: is not a secret reference/);
    expect(text).not.toContain('hunter2');
  });

  it('refuses reuseSec not shorter than lifetimeSec', async () => {
    const issues = await issuesOf(`auth:\n  identity: { lifetimeSec: 20, reuseSec: 20 }\n`);
    expect(issues.map((i) => i.path)).toEqual(['auth.identity.reuseSec']);
  });
});
