#!/usr/bin/env node
// In-process CPU cost of request validation and response filtering, per operation, from dist/:
// the exact code the validate stage and the upstream exchange run (no network, no TLS).
// Usage: npm run build && node bench/validation-micro.mjs [--seconds 2]
import { Buffer } from 'node:buffer';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({ options: { seconds: { type: 'string', default: '2' } } });
const seconds = Number(opt.seconds);
const dist = new URL('../dist/', import.meta.url);
const { compileApi } = await import(new URL('contract/compile.js', dist).href);
const { compileContracts, checkResponseBody } = await import(
  new URL('contract/validation/index.js', dist).href
);

const item = {
  type: 'object',
  properties: {
    sku: { type: 'string', maxLength: 32 },
    name: { type: 'string', maxLength: 64 },
    qty: { type: 'integer', minimum: 0, maximum: 1000 },
    price: { type: 'integer', minimum: 0, maximum: 100000000 },
  },
};
const doc = {
  openapi: '3.1.0',
  info: { title: 'micro', version: '1' },
  paths: {
    '/transfers': {
      post: {
        'x-gatehouse-public': true,
        parameters: [
          {
            name: 'Idempotency-Key',
            in: 'header',
            required: true,
            schema: { type: 'string', format: 'uuid' },
          },
        ],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['toAccountId', 'amount', 'currency'],
                properties: {
                  toAccountId: { type: 'string', format: 'uuid' },
                  amount: { type: 'integer', minimum: 1, maximum: 1000000 },
                  currency: { type: 'string', enum: ['EUR', 'USD', 'GBP'] },
                  memo: { type: 'string', maxLength: 140 },
                },
              },
            },
          },
        },
        responses: { 201: { description: 'ok' } },
      },
    },
    '/report': {
      get: {
        'x-gatehouse-public': true,
        responses: {
          200: {
            description: 'a 2 KB answer',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: { id: { type: 'string' }, items: { type: 'array', items: item } },
                },
              },
            },
          },
        },
      },
    },
  },
};
const api = {
  name: 'micro',
  openapi: '/micro.yaml',
  basePath: '/',
  upstream: {
    url: 'https://127.0.0.1:1',
    tls: { dev: true },
    connectTimeoutMs: 1,
    responseTimeoutMs: 1,
    maxResponseBytes: 1e7,
    connections: 1,
  },
};
const compiled = compileApi(api, doc);
const contracts = compileContracts([compiled], {
  maxJsonDepth: 32,
  maxJsonKeys: 1000,
  responseModes: new Map(),
});
const [transferOp, reportOp] = compiled.operations;
const transfer = contracts.get(transferOp).request;
const report = contracts.get(reportOp).response;

const body = Buffer.from(
  JSON.stringify({
    toAccountId: '6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b',
    amount: 2500,
    currency: 'EUR',
    memo: 'rent for march',
  }),
);
const headerValues = new Map([
  ['content-type', 'application/json'],
  ['idempotency-key', '0b8f3c1e-6a2d-4f7b-9e1c-5d4a3b2c1f0e'],
]);
const headers = { header: (name) => headerValues.get(name) };
const route = { operation: transferOp, params: {}, path: '/transfers', query: '' };
const items = Array.from({ length: 30 }, (_, i) => ({
  sku: `SKU-${1000 + i}`,
  name: `widget number ${i}`,
  qty: i,
  price: 1299 + i,
}));
const clean = Buffer.from(JSON.stringify({ id: 'r-42', items }));
const leaky = Buffer.from(JSON.stringify({ id: 'r-42', items, internalNote: 'ledger-7' }));
const plan = report.decide(200, 'GET', 'application/json', undefined);

function measure(name, fn) {
  for (let i = 0; i < 20000; i++) fn(); // warm the JIT
  let n = 0;
  const start = process.cpuUsage();
  const until = performance.now() + seconds * 1000;
  while (performance.now() < until) {
    for (let i = 0; i < 1000; i++) fn();
    n += 1000;
  }
  const used = process.cpuUsage(start);
  const us = (used.user + used.system) / n;
  console.log(`  ${name.padEnd(58)} ${us.toFixed(2).padStart(6)} µs CPU/op`);
  return us;
}

console.log(
  `node ${process.version}; transfer body ${body.length} B, report ${clean.length} B (leaky ${leaky.length} B)`,
);
const parseOnly = measure('JSON.parse of the transfer body (reference)', () =>
  JSON.parse(body.toString('utf8')),
);
const validate = measure('validate a transfer: header + Content-Type + bounded parse + schema', () =>
  transfer.check(route, headers, body),
);
measure('refuse a transfer (amount: "x"): the 400 path', () => {
  try {
    transfer.check(
      route,
      headers,
      Buffer.from('{"toAccountId":"6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b","amount":"x","currency":"EUR"}'),
    );
  } catch {
    /* expected */
  }
});
measure('JSON.parse of the 2 KB answer (reference)', () => JSON.parse(clean.toString('utf8')));
const filterClean = measure('filter a 2 KB answer, nothing undeclared (original bytes sent)', () =>
  checkResponseBody(plan, 'strip', clean, []),
);
const filterLeaky = measure('filter a 2 KB answer, one field removed (cut from the bytes)', () =>
  checkResponseBody(plan, 'strip', leaky, []),
);
const decide = measure('decide on an answer with no schema (status/type lookup)', () =>
  report.decide(204, 'GET', undefined, undefined),
);
console.log(JSON.stringify({ parseOnly, validate, filterClean, filterLeaky, decide }));
