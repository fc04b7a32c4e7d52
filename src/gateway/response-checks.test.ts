import { describe, expect, it } from 'vitest';
import { compileAuthPolicies } from '../auth/policy/auth-policy.js';
import { compileApi, type OpenApiDocument, type Operation } from '../contract/index.js';
import { compileContracts } from '../contract/validation/index.js';
import { compileResponseChecks, type ResponseChecks } from './response-checks.js';
import { testApiConfig } from '../config/testing.js';

const api = testApiConfig('notes');

const note = {
  type: 'object',
  properties: { id: { type: 'string' }, owner: { type: 'string' } },
};
const json = (schema: unknown) => ({ 'application/json': { schema } });

/** Four operations: owner read from the response, a filtered response, a login, an opaque download. */
const doc = {
  openapi: '3.1.0',
  info: { title: 'notes', version: '1' },
  security: [{ bearer: [] }],
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  paths: {
    '/notes/{id}': {
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
      get: {
        operationId: 'getNote',
        'x-gatehouse-require': { 'response.owner': 'principal.sub' },
        responses: { '200': { description: 'a note', content: json(note) } },
      },
    },
    '/notes': {
      get: {
        operationId: 'listNotes',
        responses: { '200': { description: 'notes', content: json({ type: 'array', items: note }) } },
      },
    },
    '/login': {
      post: {
        operationId: 'login',
        'x-gatehouse-public': true,
        'x-gatehouse-login': { failedWhen: [{ pointer: '/token', absent: true }] },
        responses: { '200': { description: 'a session', content: { 'application/octet-stream': {} } } },
      },
    },
    '/export': {
      get: {
        operationId: 'export',
        responses: { '200': { description: 'a file', content: { 'application/octet-stream': {} } } },
      },
    },
  },
} as unknown as OpenApiDocument;

function checksOf(): ReadonlyMap<string, ResponseChecks> {
  const compiled = compileApi(api, doc);
  const contracts = compileContracts([compiled], {
    maxJsonDepth: 32,
    maxJsonKeys: 1000,
    responseModes: new Map(),
  });
  const { policies } = compileAuthPolicies(compiled, {
    realm: 'gatehouse',
    identityHeader: 'gatehouse-identity',
    clientSecrets: false,
  });
  const logins = (operation: Operation) => operation.operationId === 'login';
  const checks = compileResponseChecks(contracts, policies, logins);
  return new Map([...checks].map(([operation, check]) => [operation.operationId!, check]));
}

describe('compileResponseChecks', () => {
  const checks = checksOf();

  it('compiles one set of checks for every operation', () => {
    expect([...checks.keys()].sort()).toEqual(['export', 'getNote', 'listNotes', 'login']);
  });

  it('keeps conditional and range headers from an operation whose owner is read from the response', () => {
    const check = checks.get('getNote')!;
    expect(check.ownerConditions).toHaveLength(1);
    expect([...check.requestDrops!].sort()).toEqual(
      [
        'accept-encoding',
        'if-match',
        'if-modified-since',
        'if-none-match',
        'if-range',
        'range',
        'if-unmodified-since',
      ].sort(),
    );
  });

  it('asks for an uncompressed response where the contract filters it or a login test reads it', () => {
    expect(checks.get('listNotes')!.contract.filters).toBe(true);
    expect([...checks.get('listNotes')!.requestDrops!]).toEqual(['accept-encoding']);
    expect(checks.get('login')!.contract.filters).toBe(false);
    expect([...checks.get('login')!.requestDrops!]).toEqual(['accept-encoding']);
    expect(checks.get('listNotes')!.ownerConditions).toBeNull();
  });

  it('passes every request header on where nothing reads the response', () => {
    const check = checks.get('export')!;
    expect(check.contract.filters).toBe(false);
    expect(check.requestDrops).toBeNull();
    expect(check.ownerConditions).toBeNull();
  });
});
