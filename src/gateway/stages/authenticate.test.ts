import type { FrontRequest } from '../front/request.js';
import type { FrontResponse } from '../front/response.js';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VerifiedKey, VerifyResult } from '../../auth/keys/index.js';
import { buildAuth, type ApiKeyCheck, type AuthRuntime } from '../../auth/setup.js';
import type { GatehouseConfig } from '../../config/types.js';
import { compileApi, type OpenApiDocument, type RouteMatch } from '../../contract/index.js';
import { GatehouseError } from '../../errors/gatehouse-error.js';
import { RequestContext } from '../request-context.js';
import { createAuthenticateStage } from './authenticate.js';
import { createAuthorizeStage } from './authorize.js';
import { testApiConfig } from '../../config/testing.js';

const KEY = 'gk_test_' + 'K'.repeat(32) + '_000000';
const key: VerifiedKey = Object.freeze({
  id: '00112233aabbccdd',
  consumer: 'partner',
  scopes: ['things:read'],
  scopeSet: new Set(['things:read']),
  env: 'test',
  status: 'active',
  createdAt: 0,
  expiresAt: Date.now() + 10_000,
  lastUsedAt: null,
  replacedBy: null,
  overlapUntil: null,
  updatedAt: 0,
  version: 1,
});
/** A stand-in for the key index (src/auth/keys): one known key. */
const fakeKeys: ApiKeyCheck = {
  verify: (presented: string): VerifyResult =>
    presented === KEY
      ? { ok: true, key }
      : { ok: false, reason: presented.startsWith('gk_') ? 'unknown' : 'malformed' },
  stateOf: (id: string) => (id === key.id ? 'active' : 'unknown'),
};

const api = testApiConfig('shop');
const doc = {
  openapi: '3.1.0',
  info: { title: 't', version: '1' },
  components: {
    securitySchemes: {
      key: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
      bearer: { type: 'http', scheme: 'bearer' },
    },
  },
  paths: {
    '/things': {
      get: { security: [{ key: [] }, { bearer: [] }], 'x-gatehouse-scopes': ['things:read'], responses: {} },
    },
    '/admin': { get: { security: [{ key: [] }], 'x-gatehouse-scopes': ['admin'], responses: {} } },
    '/open': { get: { 'x-gatehouse-public': true, responses: {} } },
  },
} as unknown as OpenApiDocument;

describe('authenticate and authorize stages (unit, with a stand-in key index)', () => {
  let state: string;
  let auth: AuthRuntime;
  const compiled = compileApi(api, doc);
  const operation = (template: string) => compiled.operations.find((o) => o.template === template)!;

  beforeAll(async () => {
    state = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-stage-'));
    const config = {
      stateDir: state,
      auth: {
        realm: 'gatehouse',
        maxTokenBytes: 8192,
        verifiedTokenCacheSize: 10,
        issuer: 'urn:gatehouse',
        signingKeys: [],
        issuers: [],
        tokenEndpoint: {
          enabled: false,
          basePath: '/',
          audience: 'gatehouse',
          lifetimeSec: 300,
          apiKeyHeader: 'X-API-Key',
          clients: [],
        },
        identity: { enabled: true, header: 'Gatehouse-Identity', lifetimeSec: 60, reuseSec: 30 },
      },
    } as unknown as GatehouseConfig;
    auth = await buildAuth(config, [compiled], fakeKeys);
  });
  afterAll(async () => {
    await auth.close();
    await rm(state, { recursive: true, force: true });
  });

  function run(
    template: string,
    headers: Record<string, string>,
    query = '',
  ): RequestContext | GatehouseError {
    const req = { headers, rawHeaders: [], method: 'GET' } as unknown as FrontRequest;
    const ctx = new RequestContext('req-1', req, {} as FrontResponse, '127.0.0.1', 0, () => undefined);
    ctx.route = { operation: operation(template), params: {}, path: template, query } as RouteMatch;
    try {
      expect(createAuthenticateStage(auth).onRequest(ctx)).toBeUndefined(); // the key path never waits
      createAuthorizeStage(auth).onRequest(ctx);
      return ctx;
    } catch (err) {
      return err as GatehouseError;
    }
  }

  it('turns a valid API key into a principal, with the identity assertion for the upstream', () => {
    const ctx = run('/things', { 'x-api-key': KEY }) as RequestContext;
    expect(ctx.principal).toMatchObject({ subject: 'partner', credential: { kind: 'api-key', id: key.id } });
    expect(ctx.principal!.expiresAt).toBe(Math.floor(key.expiresAt! / 1000));
    expect([...ctx.upstreamHeaderDrops!]).toEqual(
      expect.arrayContaining(['x-api-key', 'authorization', 'gatehouse-identity']),
    );
    expect(ctx.upstreamHeaderExtras![0]).toBe('gatehouse-identity');
    // Same key record, same principal object: nothing built per request.
    expect((run('/things', { 'x-api-key': KEY }) as RequestContext).principal).toBe(ctx.principal);
  });

  it.each([
    [{}, 'credential.missing'],
    [{ 'x-api-key': 'nope' }, 'api-key.malformed'],
    [{ 'x-api-key': KEY.replace('K', 'L') }, 'api-key.unknown'],
    [{ 'x-api-key': KEY, authorization: 'Bearer a.b.c' }, 'credential.ambiguous'],
    [{ authorization: 'Basic dXNlcjpwYXNz' }, 'credential.scheme'],
  ])('refuses %j with 401 (%s)', (headers, reason) => {
    const err = run('/things', headers) as GatehouseError;
    expect(err).toBeInstanceOf(GatehouseError);
    expect(err.code).toBe('GH_AUTH_UNAUTHENTICATED');
    expect(err.detail).toMatch(new RegExp(`^${reason.replace('.', '\\.')}`));
    expect(err.headers?.['www-authenticate']).toMatch(/realm="gatehouse"/);
  });

  it('refuses a key in the query string even with a valid key in the header', () => {
    const err = run('/things', { 'x-api-key': KEY }, `key=${KEY}`) as GatehouseError;
    expect(err.code).toBe('GH_AUTH_UNAUTHENTICATED');
    expect(err.detail).toMatch(/^credential\.query/);
  });

  it('answers 403 for a key without the scope, and lets a public operation through without a principal', () => {
    const err = run('/admin', { 'x-api-key': KEY }) as GatehouseError;
    expect(err.code).toBe('GH_AUTH_FORBIDDEN');
    expect(err.detail).toBe('authorize.scope: missing scope admin');
    expect(err.headers).toBeUndefined(); // insufficient_scope is a bearer-token challenge
    const open = run('/open', { 'x-api-key': KEY }) as RequestContext;
    expect(open.principal).toBeNull();
    expect(open.upstreamHeaderExtras).toBeNull();
    expect(open.upstreamHeaderDrops!.has('x-api-key')).toBe(true);
  });
});
