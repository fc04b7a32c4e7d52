import { describe, expect, it } from 'vitest';
import type { ApiConfig } from '../config/types.js';
import { compileApi, OPERATION_MARKS } from './compile.js';
import type { Operation } from './operation.js';
import { ContractError } from './contract-error.js';
import type { JsonObject, OpenApiDocument } from './openapi-types.js';
import { testApiConfig } from '../config/testing.js';

function apiConfig(name: string, basePath: string, url = 'https://127.0.0.1:8444'): ApiConfig {
  return testApiConfig(name, { basePath, url });
}

const ok = { responses: { '200': { description: 'ok' } } };
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };

function openapi(paths: Record<string, JsonObject>, extra: JsonObject = {}): OpenApiDocument {
  return { openapi: '3.1.0', info: { title: 't', version: '1' }, paths, ...extra };
}

function compileError(api: ApiConfig, doc: OpenApiDocument): ContractError {
  try {
    compileApi(api, doc);
  } catch (err) {
    expect(err).toBeInstanceOf(ContractError);
    return err as ContractError;
  }
  throw new Error('compiled without error');
}

function only(operations: readonly Operation[], method: string, template: string): Operation {
  const found = operations.filter((op) => op.method === method && op.template === template);
  expect(found).toHaveLength(1);
  return found[0]!;
}

describe('compileApi: operations', () => {
  const transfer = {
    operationId: 'transfer',
    parameters: [{ name: 'Idempotency-Key', in: 'header', required: true, schema: { type: 'string' } }],
    requestBody: { content: { 'application/json': { schema: { type: 'object' } } } },
    security: [{ bearer: ['transfers:write'] }],
    'x-gatehouse-rate-limit': 'writes',
    ...ok,
  };
  const doc = openapi(
    {
      '/accounts/{id}/transfer': { parameters: [idParam], post: transfer },
      '/accounts/{id}': {
        parameters: [idParam, { name: 'verbose', in: 'query', schema: { type: 'boolean' } }],
        get: { parameters: [{ name: 'verbose', in: 'query', schema: { type: 'string' } }], ...ok },
        delete: { security: [], ...ok },
      },
      'x-note': {},
    },
    {
      security: [{ apiKey: [] }],
      components: { securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' } } },
    },
  );
  const compiled = compileApi(apiConfig('bank', '/bank/', 'https://bank.internal:8444/v1/'), doc);

  it('joins the basePath and the document path into the public template', () => {
    const op = only(compiled.operations, 'POST', '/bank/accounts/{id}/transfer');
    expect(op).toMatchObject({
      apiName: 'bank',
      operationId: 'transfer',
      documentPath: '/accounts/{id}/transfer',
    });
    expect(op.pathParamNames).toEqual(['id']);
    expect(compiled.basePath).toBe('/bank');
  });

  it('keeps the upstream path without its trailing slash', () => {
    expect(compiled.operations.every((op) => op.upstreamPathPrefix === '/v1')).toBe(true);
    const atRoot = compileApi(apiConfig('root', '/'), doc);
    expect(atRoot.operations.every((op) => op.upstreamPathPrefix === '')).toBe(true);
    expect(atRoot.basePath).toBe('');
    only(atRoot.operations, 'GET', '/accounts/{id}');
  });

  it('keeps what later stages read: the operation object, x-gatehouse extensions, path-item parameters', () => {
    const op = only(compiled.operations, 'POST', '/bank/accounts/{id}/transfer');
    expect(op.operation).toBe(transfer);
    expect(op.operation['x-gatehouse-rate-limit']).toBe('writes');
    expect(op.pathItemParameters).toEqual([idParam]);
    expect(op.parameters.map((p) => p.name)).toEqual(['id', 'Idempotency-Key']);
  });

  it('lets an operation parameter override the path item one with the same name and location', () => {
    const op = only(compiled.operations, 'GET', '/bank/accounts/{id}');
    expect(op.parameters).toHaveLength(2);
    expect(op.parameters.find((p) => p.name === 'verbose')?.schema).toEqual({ type: 'string' });
  });

  it('resolves security: the operation overrides the document; [] declares no credential', () => {
    expect(only(compiled.operations, 'POST', '/bank/accounts/{id}/transfer').security).toEqual([
      { bearer: ['transfers:write'] },
    ]);
    expect(only(compiled.operations, 'GET', '/bank/accounts/{id}').security).toEqual([{ apiKey: [] }]);
    expect(only(compiled.operations, 'DELETE', '/bank/accounts/{id}').security).toEqual([]);
    expect(compiled.operations[0]!.securitySchemes).toHaveProperty('apiKey');
  });

  it('lists exactly the declared operations, methods in uppercase, ignoring x- keys of paths', () => {
    const listed = compiled.operations.map((op) => `${op.method} ${op.template}`).sort();
    expect(listed).toEqual([
      'DELETE /bank/accounts/{id}',
      'GET /bank/accounts/{id}',
      'POST /bank/accounts/{id}/transfer',
    ]);
    expect(compiled.operations.find((op) => op.operationId === null)).toBeDefined();
  });
});

describe('compileApi: refused contracts', () => {
  it('refuses a template parameter that no "in: path" parameter declares', () => {
    const err = compileError(apiConfig('a', '/'), openapi({ '/items/{id}': { get: ok } }));
    expect(err.pointer).toBe('/paths/~1items~1{id}/get');
    expect(err.message).toContain('{id} is in the path but no "in: path" parameter declares it');
  });

  it('refuses a path parameter that is not in the template', () => {
    const err = compileError(
      apiConfig('a', '/'),
      openapi({ '/items': { get: { parameters: [idParam], ...ok } } }),
    );
    expect(err.message).toContain('path parameter "id" is not in the path template');
  });

  it('refuses "/a/{x}" beside "/a/{y}" in one document', () => {
    const x = { name: 'x', in: 'path', required: true };
    const y = { name: 'y', in: 'path', required: true };
    const doc = openapi({
      '/a/{x}': { get: { parameters: [x], ...ok } },
      '/a/{y}': { post: { parameters: [y], ...ok } },
    });
    const err = compileError(apiConfig('a', '/'), doc);
    expect(err.pointer).toBe('/paths/~1a~1{y}/post');
    expect(err.message).toContain('POST /a/{y} (api "a") conflicts with GET /a/{x}');
  });

  it('refuses an x-gatehouse mark it does not read, so a misspelt scope mark cannot drop the scope', () => {
    const doc = openapi({
      '/a': { get: { 'x-gatehouse-scopes': ['a:read'], 'x-gatehouse-scope': ['a:write'], ...ok } },
    });
    const err = compileError(apiConfig('a', '/'), doc);
    expect(err.pointer).toBe('/paths/~1a/get/x-gatehouse-scope');
    expect(err.message).toMatch(
      /unknown mark x-gatehouse-scope: Gatehouse reads x-gatehouse-public, .*x-gatehouse-scopes, /,
    );
    expect(err.message).toContain('correct its spelling or remove it');
  });

  it('refuses a mark on a path item or on the document, where none is read', () => {
    const onPathItem = compileError(
      apiConfig('a', '/'),
      openapi({ '/a': { 'x-gatehouse-public': true, get: ok } }),
    );
    expect(onPathItem.pointer).toBe('/paths/~1a/x-gatehouse-public');
    expect(onPathItem.message).toContain('x-gatehouse-public on a path item is not read');
    const onDocument = compileError(
      apiConfig('a', '/'),
      openapi({ '/a': { get: ok } }, { 'x-gatehouse-scopes': ['a:read'] }),
    );
    expect(onDocument.pointer).toBe('/x-gatehouse-scopes');
    expect(onDocument.message).toContain('move it there');
  });

  it.each([...OPERATION_MARKS])("takes %s on an operation, beside other vendors' x- keys", (mark) => {
    const operation = { [mark]: true, 'x-vendor-internal': true, ...ok };
    const compiled = compileApi(
      apiConfig('a', '/'),
      openapi({ '/a': { get: operation } }, { 'x-vendor': 1 }),
    );
    expect(compiled.operations[0]!.operation[mark]).toBe(true);
  });

  it('refuses a duplicate operationId', () => {
    const doc = openapi({
      '/a': { get: { operationId: 'read', ...ok } },
      '/b': { get: { operationId: 'read', ...ok } },
    });
    const err = compileError(apiConfig('a', '/'), doc);
    expect(err.pointer).toBe('/paths/~1b/get/operationId');
    expect(err.message).toContain('operationId "read" is already used by GET /a');
  });

  it.each([
    ['/a//b', 'empty segment'],
    ['/a/../b', 'dot segment'],
    ['/a/{x}{y}', 'two adjacent {expressions}'],
    ['/a/{x', 'malformed {expression}'],
    ['/a/{}', 'malformed {expression}'],
    ['/a/{x}/{x}', 'uses {x} twice'],
    ['/a b', 'must be percent-encoded or is not allowed'],
    ['/caf%C3%A9', 'must be percent-encoded or is not allowed'],
  ])('refuses the template %j', (template, problem) => {
    const err = compileError(apiConfig('a', '/'), openapi({ [template]: { get: ok } }));
    expect(err.pointer).toBe(`/paths/${template.replaceAll('/', '~1')}`);
    expect(err.message).toContain(problem);
  });

  it.each(['bank', '/{tenant}', '/a//b'])('refuses the basePath %j', (basePath) => {
    const err = compileError(apiConfig('a', basePath), openapi({ '/x': { get: ok } }));
    expect(err.message).toContain(`basePath "${basePath}" of api "a" must be a plain path`);
  });
});
