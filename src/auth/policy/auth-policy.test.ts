import { describe, expect, it } from 'vitest';
import type { ApiConfig } from '../../config/types.js';
import { compileApi, ContractError, type OpenApiDocument } from '../../contract/index.js';
import { compileAuthPolicies, type AuthPolicy } from './auth-policy.js';
import { testApiConfig } from '../../config/testing.js';

const api = testApiConfig('shop');

const schemes = {
  bearer: { type: 'http', scheme: 'bearer' },
  oauth: { type: 'oauth2', flows: {} },
  key: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
  queryKey: { type: 'apiKey', in: 'query', name: 'key' },
  basic: { type: 'http', scheme: 'basic' },
};

/** The policy of GET /things/{id} declared as `operation`, with `security` at the document level. */
function policyOf(
  operation: Record<string, unknown>,
  security?: unknown[],
  apiConfig: ApiConfig = api,
): { policy: AuthPolicy; warnings: readonly string[] } {
  const doc = {
    openapi: '3.1.0',
    info: { title: 't', version: '1' },
    ...(security === undefined ? {} : { security }),
    components: { securitySchemes: schemes },
    paths: {
      '/things/{id}': {
        parameters: [{ name: 'id', in: 'path', required: true }],
        get: { responses: {}, ...operation },
      },
    },
  } as unknown as OpenApiDocument;
  const compiled = compileApi(apiConfig, doc);
  const result = compileAuthPolicies(compiled, {
    realm: 'gatehouse',
    identityHeader: 'gatehouse-identity',
    clientSecrets: false,
  });
  return { policy: result.policies.get(compiled.operations[0]!)!, warnings: result.warnings };
}

describe('compileAuthPolicies', () => {
  it('denies by default an operation without security, and warns', () => {
    const { policy, warnings } = policyOf({});
    expect(policy.mode).toBe('deny');
    expect(policy.denyReason).toMatch(/^default deny/);
    expect(warnings).toEqual([
      expect.stringMatching(/^shop: GET \/things\/\{id\}: every request is refused \(403\)/),
    ]);
    expect(policyOf({ security: [] }).policy.mode).toBe('deny');
  });

  it('makes an operation public only when marked, without inheriting the document security', () => {
    const { policy, warnings } = policyOf({ 'x-gatehouse-public': true }, [{ bearer: [] }]);
    expect(policy.mode).toBe('public');
    expect(policy.requirements).toEqual([]);
    expect(warnings).toEqual([]);
  });

  it('allows an optional credential on a public operation only through {}', () => {
    const optional = policyOf({ 'x-gatehouse-public': true, security: [{}, { bearer: [] }] }).policy;
    expect(optional.mode).toBe('public');
    expect(optional.bearer).toHaveLength(1);
    expect(() => policyOf({ 'x-gatehouse-public': true, security: [{ bearer: [] }] })).toThrow(/contradicts/);
    expect(() => policyOf({ security: [{}, { bearer: [] }] })).toThrow(
      /mark the operation x-gatehouse-public/,
    );
    expect(() => policyOf({ 'x-gatehouse-public': 'yes' })).toThrow(/must be true or false/);
  });

  it('takes OAuth2 scopes from the requirement and x-gatehouse-scopes for keys and plain bearer tokens', () => {
    const { policy } = policyOf({
      security: [{ oauth: ['a:read'] }, { key: [] }, { bearer: ['b'] }],
      'x-gatehouse-scopes': ['a:read', 'x'],
    });
    expect(policy.mode).toBe('credential');
    expect(policy.requirements.map((r) => [r.kind, r.header, r.scopes])).toEqual([
      ['bearer', null, ['a:read']],
      ['api-key', 'x-api-key', ['a:read', 'x']],
      ['bearer', null, ['b', 'a:read', 'x']],
    ]);
    expect(policy.apiKeyHeaders).toEqual(['x-api-key']);
    expect(policy.challenges.missing).toEqual({
      'www-authenticate': 'Bearer realm="gatehouse", ApiKey realm="gatehouse", header="X-API-Key"',
    });
  });

  it('never accepts keys in the query string or HTTP basic, and says so', () => {
    const { policy, warnings } = policyOf({ security: [{ queryKey: [] }, { basic: [] }] });
    expect(policy.mode).toBe('deny');
    expect(warnings.join('\n')).toMatch(/"queryKey" is never accepted: API keys in the query string/);
    expect(warnings.join('\n')).toMatch(/"basic" is never accepted: HTTP basic/);
    expect(policy.queryCredentialNames.has('key')).toBe(true);
    expect(policy.queryCredentialNames.has('access_token')).toBe(true);
  });

  it('drops credentials and any client-sent identity header on every operation', () => {
    for (const operation of [{ 'x-gatehouse-public': true }, { security: [{ bearer: [] }] }, {}]) {
      expect([...policyOf(operation).policy.dropHeaders].sort()).toEqual([
        'authorization',
        'gatehouse-identity',
        'x-api-key',
      ]);
    }
  });

  it('refuses what it cannot enforce, pointing into the document', () => {
    expect(() => policyOf({ security: [{ bearer: [], key: [] }] })).toThrow(
      /several schemes \(bearer AND key\)/,
    );
    expect(() => policyOf({ security: [{ nope: [] }] })).toThrow(ContractError);
    expect(() => policyOf({ security: [{ bearer: 'a' }] })).toThrow(/must be a list of scope names/);
    expect(() => policyOf({ security: [{ key: [] }], 'x-gatehouse-scopes': 'a' })).toThrow(
      /x-gatehouse-scopes/,
    );
    try {
      policyOf({ security: [{ nope: [] }] });
    } catch (err) {
      expect((err as ContractError).pointer).toBe('/paths/~1things~1{id}/get/security/0');
    }
  });

  it('compiles x-gatehouse-require, refusing unknown forms at load', () => {
    const { policy } = policyOf({
      security: [{ bearer: [] }],
      'x-gatehouse-require': {
        roles: ['auditor'],
        'path.id': 'principal.sub',
        'header.X-Tenant': 'principal.claims.tenant',
      },
    });
    expect(policy.access?.roles).toEqual(['auditor']);
    expect(policy.access?.conditions.map((c) => c.text)).toEqual([
      'path.id == principal.sub',
      'header.X-Tenant == principal.claims.tenant',
    ]);
    const bad = (require: unknown) => () =>
      policyOf({ security: [{ bearer: [] }], 'x-gatehouse-require': require });
    expect(bad({ 'path.userId': 'principal.sub' })).toThrow(/no path parameter userId/);
    expect(bad({ 'body.id': 'principal.sub' })).toThrow(/is not roles, path/);
    expect(bad({ 'path.id': 'principal.password' })).toThrow(/must equal principal\.sub/);
    expect(bad({ roles: [] })).toThrow(/non-empty list/);
    expect(bad(['path.id'])).toThrow(/must be a mapping/);
    expect(() => policyOf({ 'x-gatehouse-public': true, 'x-gatehouse-require': { roles: ['a'] } })).toThrow(
      /needs a caller/,
    );
  });

  it('forwards no credential by default; with passthrough, only the one verified', () => {
    const security = [{ bearer: [] }, { key: [] }];
    expect(policyOf({ security }).policy.forwardDrops).toBeNull();
    const forwarding = { ...api, forwardCredentials: true };
    const { forwardDrops, dropHeaders } = policyOf({ security }, undefined, forwarding).policy;
    expect(dropHeaders).toEqual(new Set(['authorization', 'gatehouse-identity', 'x-api-key']));
    expect(forwardDrops?.get('authorization')).toEqual(new Set(['gatehouse-identity', 'x-api-key']));
    expect(forwardDrops?.get('x-api-key')).toEqual(new Set(['authorization', 'gatehouse-identity']));
  });

  it('lets an operation say otherwise than its API, and refuses a flag that is not a boolean', () => {
    const security = [{ bearer: [] }];
    const off = policyOf({ security, 'x-gatehouse-forward-credentials': false }, undefined, {
      ...api,
      forwardCredentials: true,
    });
    expect(off.policy.forwardDrops).toBeNull();
    const on = policyOf({ security, 'x-gatehouse-forward-credentials': true });
    expect(on.policy.forwardDrops?.has('authorization')).toBe(true);
    expect(() => policyOf({ security, 'x-gatehouse-forward-credentials': 'yes' })).toThrow(
      /x-gatehouse-forward-credentials must be true or false/,
    );
  });

  it('refuses conditions on the answer for a method that acts before it answers', () => {
    const security = [{ bearer: [] }];
    const require = { 'response.owner': 'principal.sub' };
    expect(
      policyOf({ security, 'x-gatehouse-require': require }).policy.access?.responseConditions,
    ).toHaveLength(1);
    for (const method of ['put', 'post', 'patch', 'delete']) {
      const doc = {
        openapi: '3.1.0',
        info: { title: 't', version: '1' },
        components: { securitySchemes: schemes },
        paths: { '/things': { [method]: { responses: {}, security, 'x-gatehouse-require': require } } },
      } as unknown as OpenApiDocument;
      const options = { realm: 'gatehouse', identityHeader: 'gatehouse-identity', clientSecrets: false };
      expect(() => compileAuthPolicies(compileApi(api, doc), options), method).toThrow(
        /response conditions are checked on the answer, after the upstream has acted/,
      );
    }
  });
});
