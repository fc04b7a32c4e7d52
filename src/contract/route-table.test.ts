import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ApiConfig } from '../config/types.js';
import type { ErrorCode } from '../errors/catalogue.js';
import { GatehouseError } from '../errors/gatehouse-error.js';
import { compileApi } from './compile.js';
import type { CompiledApi } from './operation.js';
import { ContractError } from './contract-error.js';
import { loadOpenApiDocument } from './load-document.js';
import type { JsonObject, OpenApiDocument } from './openapi-types.js';
import { buildRouteTable, type RouteTable } from './route-table.js';
import { testApiConfig } from '../config/testing.js';

function apiConfig(name: string, basePath: string): ApiConfig {
  return testApiConfig(name, { basePath, url: 'https://127.0.0.1:8444/internal/' });
}

const ok = { responses: { '200': { description: 'ok' } } };

/** An operation whose path parameters are declared, named after the operation for the assertions. */
function op(operationId: string, ...pathParams: string[]): JsonObject {
  return { operationId, parameters: pathParams.map((name) => ({ name, in: 'path', required: true })), ...ok };
}

function api(name: string, basePath: string, paths: Record<string, JsonObject>): CompiledApi {
  const doc: OpenApiDocument = { openapi: '3.0.3', info: { title: name, version: '1' }, paths };
  return compileApi(apiConfig(name, basePath), doc);
}

function refusal(
  routes: RouteTable,
  method: string,
  target: string,
  code: ErrorCode,
  status: number,
): GatehouseError {
  let thrown: unknown = null;
  try {
    routes.match(method, target);
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(GatehouseError);
  const err = thrown as GatehouseError;
  expect(err.code).toBe(code);
  expect(err.status).toBe(status);
  return err;
}

function matchedId(routes: RouteTable, method: string, target: string): string | null {
  return routes.match(method, target).operation.operationId;
}

describe('route table: precedence', () => {
  const routes = buildRouteTable([
    api('bank', '/', {
      '/accounts/{id}': { get: op('getAccount', 'id') },
      '/accounts/me': { get: op('getMe') },
      '/accounts/{id}/audit': { get: op('auditAccount', 'id') },
      '/accounts/me/settings': { get: op('mySettings') },
      '/files/{name}.{ext}': { get: op('fileWithExt', 'name', 'ext') },
      '/files/{name}.json': { get: op('jsonFile', 'name') },
      '/files/{file}': { get: op('anyFile', 'file') },
      '/reports/v{version}': { get: op('report', 'version') },
      '/releases/{major}.{minor}-{patch}': { get: op('release', 'major', 'minor', 'patch') },
    }),
  ]);

  it('matches a literal segment before a templated one, whatever the declaration order', () => {
    expect(matchedId(routes, 'GET', '/accounts/me')).toBe('getMe');
    expect(matchedId(routes, 'GET', '/accounts/you')).toBe('getAccount');
  });

  it('falls back to the templated branch when the literal one cannot match the rest', () => {
    const match = routes.match('GET', '/accounts/me/audit');
    expect(match.operation.operationId).toBe('auditAccount');
    expect(match.params).toEqual({ id: 'me' });
    expect(matchedId(routes, 'GET', '/accounts/me/settings')).toBe('mySettings');
  });

  it('matches partial templates inside a segment, the most literal first, then the whole segment', () => {
    expect(routes.match('GET', '/files/report.json').params).toEqual({ name: 'report' });
    expect(routes.match('GET', '/files/report.csv').params).toEqual({ name: 'report', ext: 'csv' });
    expect(routes.match('GET', '/files/archive.tar.gz').params).toEqual({ name: 'archive.tar', ext: 'gz' });
    expect(routes.match('GET', '/files/README').params).toEqual({ file: 'README' });
    expect(routes.match('GET', '/files/.profile').operation.operationId).toBe('anyFile');
    expect(routes.match('GET', '/reports/v2').params).toEqual({ version: '2' });
  });

  it('gives each expression of a multi-part segment its own value, earlier ones the longest', () => {
    expect(routes.match('GET', '/releases/1.2-3').params).toEqual({ major: '1', minor: '2', patch: '3' });
    expect(routes.match('GET', '/releases/1.2.3-rc-1').params).toEqual({
      major: '1.2',
      minor: '3-rc',
      patch: '1',
    });
    refusal(routes, 'GET', '/releases/1.-3', 'GH_ROUTE_NOT_FOUND', 404);
  });

  it('never matches an expression to an empty value', () => {
    refusal(routes, 'GET', '/reports/v', 'GH_ROUTE_NOT_FOUND', 404);
    refusal(routes, 'GET', '/accounts/', 'GH_ROUTE_NOT_FOUND', 404);
  });

  it('matches case-sensitively', () => {
    refusal(routes, 'GET', '/Accounts/me', 'GH_ROUTE_NOT_FOUND', 404);
    expect(matchedId(routes, 'GET', '/accounts/ME')).toBe('getAccount');
  });
});

describe('route table: refusals', () => {
  const routes = buildRouteTable(
    [
      api('bank', '/', {
        '/accounts': { get: op('list'), post: op('open'), delete: op('closeAll') },
        '/accounts/{id}': { get: op('getAccount', 'id') },
        '/slash/': { get: op('slash') },
      }),
    ],
    { maxTargetBytes: 40 },
  );

  it('answers 404 for an undeclared path, and for what is below a declared one', () => {
    refusal(routes, 'GET', '/debug', 'GH_ROUTE_NOT_FOUND', 404);
    refusal(routes, 'GET', '/accounts/1/extra', 'GH_ROUTE_NOT_FOUND', 404);
    refusal(routes, 'GET', '/', 'GH_ROUTE_NOT_FOUND', 404);
  });

  it('answers 405 with Allow listing the declared methods, sorted', () => {
    const err = refusal(routes, 'PUT', '/accounts', 'GH_ROUTE_METHOD_NOT_ALLOWED', 405);
    expect(err.headers).toEqual({ Allow: 'DELETE, GET, POST' });
    expect(refusal(routes, 'POST', '/accounts/7', 'GH_ROUTE_METHOD_NOT_ALLOWED', 405).headers).toEqual({
      Allow: 'GET',
    });
  });

  it('adds no implicit HEAD or OPTIONS, and methods are case-sensitive', () => {
    refusal(routes, 'HEAD', '/accounts', 'GH_ROUTE_METHOD_NOT_ALLOWED', 405);
    refusal(routes, 'OPTIONS', '/accounts', 'GH_ROUTE_METHOD_NOT_ALLOWED', 405);
    refusal(routes, 'get', '/accounts', 'GH_ROUTE_METHOD_NOT_ALLOWED', 405);
  });

  it('routes a trailing slash only where the document declares one', () => {
    refusal(routes, 'GET', '/accounts/', 'GH_ROUTE_NOT_FOUND', 404);
    refusal(routes, 'GET', '/slash', 'GH_ROUTE_NOT_FOUND', 404);
    expect(matchedId(routes, 'GET', '/slash/')).toBe('slash');
  });

  it('checks the raw target before matching: 400 for a bad path, 414 beyond the configured limit', () => {
    refusal(routes, 'GET', '/accounts/%2e%2e', 'GH_ROUTE_BAD_PATH', 400);
    refusal(routes, 'GET', '/accounts/a%2fb', 'GH_ROUTE_BAD_PATH', 400);
    refusal(routes, 'GET', 'http://evil/accounts', 'GH_ROUTE_BAD_PATH', 400);
    refusal(routes, 'GET', '/accounts?' + 'x'.repeat(40), 'GH_TRANSPORT_URI_TOO_LONG', 414);
  });

  it('refuses a parameter whose percent-encoding is not UTF-8', () => {
    refusal(routes, 'GET', '/accounts/%C3%28', 'GH_ROUTE_BAD_PATH', 400);
    refusal(routes, 'GET', '/accounts/%FF', 'GH_ROUTE_BAD_PATH', 400);
  });
});

describe('route table: match result', () => {
  const routes = buildRouteTable([
    api('bank', '/bank', {
      '/accounts/{id}/transfer': { post: op('transfer', 'id') },
      '/users/{userId}/files/{name}.{ext}': { get: op('userFile', 'userId', 'name', 'ext') },
      '/': { get: op('index') },
    }),
    api('proto', '/p', { '/{__proto__}': { get: op('proto', '__proto__') } }),
  ]);

  it('serves an API under its basePath only', () => {
    const match = routes.match('POST', '/bank/accounts/abc/transfer');
    expect(match.operation).toMatchObject({
      apiName: 'bank',
      template: '/bank/accounts/{id}/transfer',
      upstreamPathPrefix: '/internal',
    });
    refusal(routes, 'POST', '/accounts/abc/transfer', 'GH_ROUTE_NOT_FOUND', 404);
    expect(matchedId(routes, 'GET', '/bank/')).toBe('index');
    refusal(routes, 'GET', '/bank', 'GH_ROUTE_NOT_FOUND', 404);
  });

  it('returns the raw path and query, and percent-decoded parameters', () => {
    const match = routes.match('GET', '/bank/users/al%20ice/files/r%C3%A9sum%C3%A9.pdf?v=1&x=%2F');
    expect(match.params).toEqual({ userId: 'al ice', name: 'résumé', ext: 'pdf' });
    expect(match.path).toBe('/bank/users/al%20ice/files/r%C3%A9sum%C3%A9.pdf');
    expect(match.query).toBe('v=1&x=%2F');
  });

  it('decodes only once: an encoded "%" stays a literal "%"', () => {
    expect(routes.match('POST', '/bank/accounts/%252e%252e/transfer').params).toEqual({ id: '%2e%2e' });
  });

  it('gives "" as the query when there is none or it is empty', () => {
    expect(routes.match('POST', '/bank/accounts/1/transfer').query).toBe('');
    expect(routes.match('POST', '/bank/accounts/1/transfer?').query).toBe('');
  });

  it('keeps a parameter named __proto__ as a plain key', () => {
    const params = routes.match('GET', '/p/polluted').params;
    expect(Object.getPrototypeOf(params)).toBeNull();
    expect(params['__proto__']).toBe('polluted');
    expect(Object.keys(params)).toEqual(['__proto__']);
  });
});

describe('route table: conflicts across APIs', () => {
  function buildError(apis: CompiledApi[]): ContractError {
    try {
      buildRouteTable(apis);
    } catch (err) {
      expect(err).toBeInstanceOf(ContractError);
      return err as ContractError;
    }
    throw new Error('built without error');
  }

  it('refuses the same method and path in two APIs', () => {
    const err = buildError([
      api('a', '/', { '/x': { get: op('ax') } }),
      api('b', '/', { '/x': { get: op('bx') } }),
    ]);
    expect(err.file).toBe('/contracts/b.yaml');
    expect(err.message).toContain('GET /x (api "b") conflicts with GET /x (api "a", /contracts/a.yaml)');
  });

  it('refuses one shape with different parameter names, whatever the methods', () => {
    const err = buildError([
      api('a', '/', { '/a/{x}': { get: op('ax', 'x') } }),
      api('b', '/', { '/a/{y}': { post: op('by', 'y') } }),
    ]);
    expect(err.message).toContain('the same path with different parameter names is ambiguous');
  });

  it('refuses a conflict created by a basePath', () => {
    const err = buildError([
      api('a', '/', { '/v1/items': { get: op('a') } }),
      api('b', '/v1', { '/items': { get: op('b') } }),
    ]);
    expect(err.message).toContain('GET /v1/items (api "b") conflicts with GET /v1/items (api "a"');
  });

  it('lets two APIs declare different methods on one path, and answers 405 with both', () => {
    const routes = buildRouteTable([
      api('a', '/', { '/x': { get: op('ax') } }),
      api('b', '/', { '/x': { put: op('bx') } }),
    ]);
    expect(routes.match('PUT', '/x').operation.apiName).toBe('b');
    expect(refusal(routes, 'POST', '/x', 'GH_ROUTE_METHOD_NOT_ALLOWED', 405).headers).toEqual({
      Allow: 'GET, PUT',
    });
  });
});

describe('route table: from a document on disk', () => {
  it('loads, compiles and routes a YAML contract with a $ref path parameter', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-routes-'));
    try {
      const file = join(dir, 'bank.yaml');
      await writeFile(
        file,
        [
          'openapi: 3.1.0',
          'info: { title: bank, version: "1" }',
          'paths:',
          '  /accounts/{id}/transfer:',
          '    post:',
          '      operationId: transfer',
          "      parameters: [{ $ref: '#/components/parameters/Id' }]",
          '      responses: { "201": { description: created } }',
          'components:',
          '  parameters:',
          '    Id: { name: id, in: path, required: true, schema: { type: string } }',
        ].join('\n'),
      );
      const compiled = compileApi(
        { ...apiConfig('bank', '/'), openapi: file },
        await loadOpenApiDocument(file),
      );
      const match = buildRouteTable([compiled]).match('POST', '/accounts/0b7e/transfer?dry=1');
      expect(match.operation.operationId).toBe('transfer');
      expect(match.params).toEqual({ id: '0b7e' });
      expect(match.operation.parameters[0]).toMatchObject({ name: 'id', in: 'path' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
