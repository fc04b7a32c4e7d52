import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../principal.js';
import { loadSigningKeyRing, type SigningKeyRing } from '../signing/signing-keys.js';
import { ClientSecrets } from './client-secrets.js';
import { TokenIssuer } from './token-issuer.js';

const endpoint = {
  enabled: true,
  basePath: '/',
  audience: 'gatehouse',
  lifetimeSec: 300,
  apiKeyHeader: 'X-API-Key',
  clients: [],
};
const client = (scopes: string[], expiresAt: number | null = null): Principal => ({
  subject: 'partner',
  consumer: 'partner',
  scopes: new Set(scopes),
  roles: [],
  credential: { kind: 'api-key', id: 'k1', issuer: null },
  claims: {},
  expiresAt,
});
const form = (body: string) => Buffer.from(body);
const FORM = 'application/x-www-form-urlencoded';

describe('TokenIssuer (RFC 6749 §4.4)', () => {
  let dir: string;
  let ring: SigningKeyRing;
  let issuer: TokenIssuer;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-issuer-'));
    ring = await loadSigningKeyRing([], dir, {
      longestLifetimeSec: 300,
      publishAheadSec: 90,
      retireMarginSec: 60,
    });
    issuer = new TokenIssuer(endpoint, 'urn:gatehouse', ring);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const verify = (token: string) =>
    jwtVerify(token, createLocalJWKSet({ keys: [...ring.jwks.keys] }), {
      issuer: 'urn:gatehouse',
      audience: 'gatehouse',
      typ: 'at+jwt',
      algorithms: ['ES256'],
    });

  it('grants every held scope when none is asked for, as a verifiable at+jwt', async () => {
    const response = issuer.issue(
      client(['a', 'b']),
      FORM,
      form('grant_type=client_credentials'),
      Date.now(),
    );
    expect(response.status).toBe(200);
    const body = JSON.parse(response.body) as {
      access_token: string;
      scope: string;
      expires_in: number;
      token_type: string;
    };
    expect(body).toMatchObject({ token_type: 'Bearer', scope: 'a b', expires_in: 300 });
    const { payload } = await verify(body.access_token);
    expect(payload).toMatchObject({ sub: 'partner', client_id: 'partner', scope: 'a b' });
    expect(typeof payload.jti).toBe('string');
  });

  it('names the API key that obtained the token (key_id), and no key for a client secret', async () => {
    const tokenOf = (principal: Principal): string => {
      const response = issuer.issue(principal, FORM, form('grant_type=client_credentials'), Date.now());
      return (JSON.parse(response.body) as { access_token: string }).access_token;
    };
    expect((await verify(tokenOf(client(['a'])))).payload).toMatchObject({ key_id: 'k1' });
    const secretClient: Principal = {
      ...client(['a']),
      credential: { kind: 'client-secret', id: 'reporting', issuer: null },
    };
    expect((await verify(tokenOf(secretClient))).payload).not.toHaveProperty('key_id');
  });

  it('narrows to the scopes asked for, and never grants one not held', () => {
    const narrowed = issuer.issue(
      client(['a', 'b']),
      `${FORM}; charset=utf-8`,
      form('grant_type=client_credentials&scope=b'),
      Date.now(),
    );
    expect(JSON.parse(narrowed.body)).toMatchObject({ scope: 'b' });
    const more = issuer.issue(
      client(['a']),
      FORM,
      form('grant_type=client_credentials&scope=a+admin'),
      Date.now(),
    );
    expect(more).toEqual({
      status: 400,
      body: '{"error":"invalid_scope"}',
      reason: 'oauth.scope: the client does not hold admin',
    });
  });

  it('never outlives the credential that obtained it', () => {
    const now = Date.now();
    const ends = Math.floor(now / 1000) + 20;
    const response = issuer.issue(client(['a'], ends), FORM, form('grant_type=client_credentials'), now);
    expect(JSON.parse(response.body)).toMatchObject({ expires_in: 20 });
  });

  it.each([
    ['application/json', 'grant_type=client_credentials', 'invalid_request'],
    [FORM, 'grant_type=password', 'unsupported_grant_type'],
    [FORM, '', 'invalid_request'], // RFC 6749 §5.2: a missing parameter
    [FORM, 'grant_type=client_credentials&scope=a&scope=b', 'invalid_request'],
  ])('answers %s %j with %s', (type, body, error) => {
    const response = issuer.issue(client(['a']), type, form(body), Date.now());
    expect(response.status).toBe(400);
    expect(JSON.parse(response.body)).toEqual({ error });
    expect(response.reason).toMatch(/^oauth\./);
  });
});

describe('ClientSecrets (RFC 6749 §2.3.1)', () => {
  const secret = 's3cret-with-enough-entropy-0123456789';
  const secrets = new ClientSecrets([
    {
      id: 'reporting',
      consumer: 'finance',
      scopes: ['r'],
      secretSha256: createHash('sha256').update(secret).digest('hex'),
    },
  ]);
  const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

  it('authenticates a client by id and secret, form-urlencoded inside Basic', () => {
    const principal = secrets.verify(basic('reporting', encodeURIComponent(secret)));
    expect(principal).toMatchObject({
      subject: 'reporting',
      consumer: 'finance',
      credential: { kind: 'client-secret', id: 'reporting' },
    });
    expect(secrets.verify(`bAsIc ${Buffer.from(`reporting:${secret}`).toString('base64')}`)).toMatchObject({
      subject: 'reporting',
    });
  });

  it.each([
    [basic('reporting', 'wrong'), /^client-secret\.unknown/],
    [basic('nobody', secret), /^client-secret\.unknown/],
    [basic('reporting', secret + 'x'), /^client-secret\.unknown/],
    ['Basic bm9jb2xvbg==', /no ":"/],
    ['Basic %%%', /not an HTTP Basic header/],
    [basic('rep%orting', secret), /form-urlencoding/],
  ])('refuses %s', (header, reason) => {
    expect(secrets.verify(header)).toMatch(reason);
  });
});
