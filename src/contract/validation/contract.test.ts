import { describe, expect, it } from 'vitest';
import { GatehouseError } from '../../errors/gatehouse-error.js';
import { compileApi } from '../compile.js';
import type { CompiledApi } from '../operation.js';
import { ContractError } from '../contract-error.js';
import type { JsonObject, OpenApiDocument } from '../openapi-types.js';
import type { RouteMatch } from '../route-table.js';
import { compileContracts, lintContract, type OperationContract } from './index.js';
import { checkResponseBody } from './response-contract.js';
import { testApiConfig } from '../../config/testing.js';

const api = testApiConfig('unit');
const limits = { maxJsonDepth: 8, maxJsonKeys: 100, responseModes: new Map() };

function compile(
  version: string,
  paths: Record<string, JsonObject>,
): { compiled: CompiledApi; contract: OperationContract } {
  const doc: OpenApiDocument = { openapi: version, info: { title: 't', version: '1' }, paths };
  const compiled = compileApi(api, doc);
  const contract = compileContracts([compiled], limits).get(compiled.operations[0]!)!;
  return { compiled, contract };
}

function route(compiled: CompiledApi, query = ''): RouteMatch {
  return { operation: compiled.operations[0]!, params: {}, path: '/x', query };
}

function refusal(run: () => void): { code: string; errors: unknown } {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(GatehouseError);
    return { code: (err as GatehouseError).code, errors: (err as GatehouseError).errors };
  }
  throw new Error('accepted');
}

const json = { header: (name: string) => (name === 'content-type' ? 'application/json' : undefined) };
const body = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

describe('schema dialects', () => {
  const schema30 = {
    type: 'object',
    required: ['amount'],
    properties: {
      amount: { type: 'integer', minimum: 0, exclusiveMinimum: true, maximum: 10, exclusiveMaximum: false },
      note: { type: 'string', nullable: true, maxLength: 5 },
      kind: { type: 'string', enum: ['a', 'b'], nullable: true },
    },
  };
  const post = (schema: JsonObject) => ({
    '/x': {
      post: {
        'x-gatehouse-public': true,
        requestBody: { content: { 'application/json': { schema } } },
        responses: { '200': { description: 'ok' } },
      },
    },
  });

  it('OpenAPI 3.0: nullable adds null, boolean exclusiveMinimum excludes the bound', () => {
    const { compiled, contract } = compile('3.0.3', post(schema30));
    const check = (value: unknown) => () => contract.request.check(route(compiled), json, body(value));
    expect(check({ amount: 1, note: null, kind: null })).not.toThrow();
    expect(check({ amount: 10 })).not.toThrow();
    expect(refusal(check({ amount: 0 })).errors).toEqual([
      { field: 'amount', rule: 'must be an integer > 0 and ≤ 10' },
    ]);
    expect(refusal(check({ amount: 1, note: 'toolong' })).errors).toEqual([
      { field: 'note', rule: 'must be a string or null of at most 5 characters' },
    ]);
    expect(refusal(check({ amount: 1, kind: 'c' })).errors).toEqual([
      { field: 'kind', rule: 'must be one of: a, b, null' },
    ]);
  });

  it('OpenAPI 3.1: JSON Schema 2020-12 (type arrays, numeric exclusiveMinimum, const); nullable means nothing', () => {
    const schema31 = {
      type: 'object',
      properties: {
        amount: { type: 'integer', exclusiveMinimum: 0 },
        note: { type: ['string', 'null'] },
        mode: { const: 'fast' },
        legacy: { type: 'string', nullable: true },
      },
    };
    const { compiled, contract } = compile('3.1.0', post(schema31));
    const check = (value: unknown) => () => contract.request.check(route(compiled), json, body(value));
    expect(check({ amount: 1, note: null, mode: 'fast' })).not.toThrow();
    expect(refusal(check({ amount: 0 })).errors).toEqual([
      { field: 'amount', rule: 'must be an integer > 0' },
    ]);
    expect(refusal(check({ mode: 'slow' })).errors).toEqual([{ field: 'mode', rule: 'must be "fast"' }]);
    expect(refusal(check({ legacy: null })).errors).toEqual([{ field: 'legacy', rule: 'must be a string' }]);
  });

  it('closes objects composed with allOf without refusing the properties of either part', () => {
    const composed = {
      allOf: [
        { type: 'object', properties: { a: { type: 'string' } } },
        { type: 'object', properties: { b: { type: 'string' } } },
      ],
    };
    const { compiled, contract } = compile('3.1.0', post(composed));
    const check = (value: unknown) => () => contract.request.check(route(compiled), json, body(value));
    expect(check({ a: 'x', b: 'y' })).not.toThrow();
    expect(refusal(check({ a: 'x', role: 'admin' })).errors).toEqual([
      { field: 'role', rule: 'is not allowed' },
    ]);
  });

  it('refuses a schema that cannot be compiled at load, naming where it is', () => {
    const broken = { type: 'string', pattern: '([a-z' };
    expect(() => compile('3.1.0', post(broken))).toThrow(ContractError);
    expect(() => compile('3.1.0', post(broken))).toThrow(
      /paths\/~1x\/post\/requestBody\/content\/application~1json\/schema/,
    );
  });
});

describe('response filtering', () => {
  const account = {
    type: 'object',
    properties: {
      id: { type: 'string' },
      owner: {
        type: 'object',
        properties: { name: { type: 'string' }, secret: { type: 'string', writeOnly: true } },
      },
      labels: {
        type: 'object',
        additionalProperties: { type: 'object', properties: { v: { type: 'string' } } },
      },
      raw: {},
    },
  };
  const doc = {
    '/x': {
      get: {
        'x-gatehouse-public': true,
        responses: { '200': { description: 'ok', content: { 'application/json': { schema: account } } } },
      },
    },
  };

  it('removes what the schema does not declare, at every depth, and keeps the original bytes when nothing is', () => {
    const { contract } = compile('3.1.0', doc);
    const plan = contract.response.decide(200, 'GET', 'application/json', undefined);
    if (plan === null || typeof plan === 'string') throw new Error('expected a plan');
    const removed: string[] = [];
    const leaky = {
      id: '1',
      hash: 'h',
      owner: { name: 'a', secret: 's', ssn: '1' },
      labels: { x: { v: '1', w: '2' } },
      raw: { anything: true },
    };
    const out = checkResponseBody(plan, 'strip', body(leaky), removed);
    expect(JSON.parse(String(out.body))).toEqual({
      id: '1',
      owner: { name: 'a' },
      labels: { x: { v: '1' } },
      raw: { anything: true },
    });
    expect(removed).toEqual(['hash', 'owner.secret', 'owner.ssn', 'labels.*.w']);
    const clean = body({ id: '1' });
    expect(checkResponseBody(plan, 'strip', clean, []).body).toBe(clean);
  });

  it('decides from the status and content type: undeclared status or type is a violation', () => {
    const { contract } = compile('3.1.0', doc);
    expect(contract.response.decide(201, 'GET', 'application/json', undefined)).toMatch(/201/);
    expect(contract.response.decide(200, 'GET', 'text/html', undefined)).toMatch(/text\/html/);
    expect(contract.response.decide(200, 'GET', 'application/json', 'gzip')).toMatch(/content-encoding gzip/);
    expect(contract.response.decide(200, 'HEAD', 'text/html', undefined)).toBeNull();
  });
});

describe('the shape of an answer', () => {
  /** The plan of a GET answering 200 with `schema`, compiled for `mode`. */
  function planOf(version: string, schema: JsonObject, mode: 'strip' | 'reject' = 'strip') {
    const doc: OpenApiDocument = {
      openapi: version,
      info: { title: 't', version: '1' },
      paths: {
        '/x': {
          get: {
            'x-gatehouse-public': true,
            responses: { '200': { description: 'ok', content: { 'application/json': { schema } } } },
          },
        },
      },
    };
    const compiled = compileApi(api, doc);
    const options = { ...limits, responseModes: new Map([['unit', mode]]) };
    const plan = compileContracts([compiled], options)
      .get(compiled.operations[0]!)!
      .response.decide(200, 'GET', 'application/json', undefined);
    if (plan === null || typeof plan === 'string') throw new Error('expected a plan');
    return plan;
  }
  const account = {
    type: 'object',
    required: ['id', 'owner', 'pin'],
    properties: {
      id: { type: 'string' },
      owner: { type: 'string' },
      pin: { type: 'string', writeOnly: true },
      nickname: { type: 'string', nullable: true },
      parent: { nullable: true, allOf: [{ type: 'object', properties: { id: { type: 'string' } } }] },
    },
  };
  const stackTrace = { error: 'TypeError: x is undefined', stack: 'at handler (/srv/app/routes.js:42:7)' };

  it('refuses in strip mode a stack trace that filtering would leave hollow, naming what it lacks', () => {
    const removed: string[] = [];
    expect(checkResponseBody(planOf('3.0.3', account), 'strip', body(stackTrace), removed)).toEqual({
      body: null,
      violation: 'upstream answer lacks the required id',
    });
    expect(removed).toEqual([]);
  });

  it('refuses in strip mode an object where the schema declares an array', () => {
    const list = planOf('3.1.0', { type: 'array', items: account });
    expect(checkResponseBody(list, 'strip', body(stackTrace), [])).toEqual({
      body: null,
      violation: 'upstream answer has an object at the top, where its schema declares an array',
    });
    const fine = body([{ id: '1', owner: 'a' }]);
    expect(checkResponseBody(list, 'strip', fine, []).body).toBe(fine);
  });

  it('refuses both in reject mode too, where the whole schema is checked', () => {
    expect(checkResponseBody(planOf('3.0.3', account, 'reject'), 'reject', body({}), []).violation).toBe(
      'upstream answer breaks its schema at / (required)',
    );
    const list = planOf('3.1.0', { type: 'array', items: account }, 'reject');
    expect(checkResponseBody(list, 'reject', body({ id: '1', owner: 'a' }), []).violation).toBe(
      'upstream answer breaks its schema at / (type)',
    );
  });

  it('expects no required writeOnly property in an answer, and admits null where OpenAPI 3.0 says nullable', () => {
    const plan = planOf('3.0.3', account);
    const response = body({ id: '1', owner: 'a', nickname: null, parent: null });
    expect(checkResponseBody(plan, 'strip', response, [])).toEqual({ body: response, violation: null });
    expect(checkResponseBody(plan, 'strip', body({ id: '1', owner: 'a', parent: 'p' }), []).violation).toBe(
      'upstream answer has a string at parent, where its schema declares an object or null',
    );
  });
});

describe('lintContract', () => {
  it('warns about the doors a contract leaves open', () => {
    const { compiled } = compile('3.1.0', {
      '/x': {
        post: {
          'x-gatehouse-public': true,
          parameters: [{ name: 'n', in: 'query', schema: { type: 'integer', minimum: 0 } }],
          requestBody: {
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  additionalProperties: true,
                  properties: {
                    s: { type: 'string' },
                    list: { type: 'array', items: { type: 'string', format: 'ssn' } },
                    id: { type: 'string', format: 'uuid' },
                  },
                },
              },
            },
          },
          responses: { '200': { description: 'no schema' }, '204': { description: 'fine' } },
        },
      },
    });
    const lines = lintContract(compiled).map((w) => `${w.at}: ${w.message}`);
    expect(lines).toEqual([
      'security: declares no security (x-gatehouse-public): anyone can call it',
      'query.n: integer has no minimum or no maximum',
      'body: object allows additional properties',
      'body.s: string has no maxLength',
      'body.list: array has no maxItems',
      'body.list[]: format "ssn" is not checked by the gateway',
      'body.list[]: string has no maxLength',
      'responses.200: has no schema: its body reaches the client unchecked and unfiltered',
    ]);
  });
});
