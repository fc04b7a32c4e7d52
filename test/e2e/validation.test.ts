import { readFileSync } from 'node:fs';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fixtures,
  readLog,
  startHarness,
  type HttpResponse,
  type Harness,
} from '../support/gateway-harness.js';
import { LEAKED, MISSING_ACCOUNT } from '../support/validation-upstream.js';

const PROBLEM_BASE = 'https://gatehouse.dev/problems/';
const openapi = readFileSync(path.join(fixtures, 'validation-api.yaml'), 'utf8');
const ACCOUNT = '6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b';
const IDEMPOTENCY = { 'idempotency-key': '0b8f3c1e-6a2d-4f7b-9e1c-5d4a3b2c1f0e' };
const JSON_TYPE = { 'content-type': 'application/json' };
const transfer = { toAccountId: ACCOUNT, amount: 2500, currency: 'EUR', memo: 'rent' };

/** A problem with the field and rule named, and nothing of what the client sent. */
function expectRefusal(
  response: HttpResponse,
  status: number,
  type: string,
  field?: string,
  rule?: RegExp,
): void {
  expect(response.status).toBe(status);
  expect(response.headers['content-type']).toBe('application/problem+json');
  expect(response.headers['content-security-policy']).toBe("default-src 'none'; frame-ancestors 'none'");
  const body = response.json() as Record<string, unknown>;
  expect(body['type']).toBe(PROBLEM_BASE + type);
  expect(body['status']).toBe(status);
  expect(body['instance']).toBe(`urn:uuid:${String(response.headers['x-request-id'])}`);
  if (field === undefined) {
    expect(Object.keys(body).sort()).toEqual(['instance', 'status', 'title', 'type']);
    return;
  }
  expect(Object.keys(body).sort()).toEqual(['errors', 'instance', 'status', 'title', 'type']);
  const errors = body['errors'] as { field: string; rule: string }[];
  expect(errors[0]).toEqual({ field, rule: expect.stringMatching(rule ?? /./) as unknown });
  for (const error of errors) expect(Object.keys(error).sort()).toEqual(['field', 'rule']);
  // Never an internal schema path or a library's wording.
  expect(response.text).not.toMatch(/#\/|schemaPath|instancePath|must NOT|\/properties\//);
}

function post(
  h: Harness,
  target: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<HttpResponse> {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return h.get(target, { method: 'POST', headers: { ...JSON_TYPE, ...headers }, body: text });
}

async function postBytes(
  h: Harness,
  target: string,
  body: Buffer,
  headers: Record<string, string>,
): Promise<HttpResponse> {
  const res = await request(h.base + target, { dispatcher: h.agent, method: 'POST', headers, body });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) as unknown };
}

describe('request validation through a real gateway and upstream', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ openapi, limits: { maxBodyBytes: 262_144 } });
  });
  afterAll(async () => h.close());

  it('passes a valid transfer to the upstream byte for byte', async () => {
    const text =
      '{ "toAccountId": "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b",\n "amount": 2500, "currency": "EUR" }';
    const response = await post(h, '/v/transfers', text, IDEMPOTENCY);
    expect(response.status).toBe(201);
    const seen = h.upstream.received.at(-1)!;
    expect(seen.body).toBe(text);
    expect(seen.headers['idempotency-key']).toBe(IDEMPOTENCY['idempotency-key']);
  });

  it.each([
    [
      'an amount sent as text',
      { ...transfer, amount: '2500' },
      'amount',
      /^must be an integer ≥ 1 and ≤ 1000000$/,
    ],
    ['a zero amount', { ...transfer, amount: 0 }, 'amount', /^must be an integer ≥ 1/],
    ['a fractional amount', { ...transfer, amount: 12.5 }, 'amount', /^must be an integer/],
    [
      'a NoSQL operator for the amount',
      { ...transfer, amount: { $gt: '' } },
      'amount',
      /^must be an integer/,
    ],
    ['a missing currency', { toAccountId: ACCOUNT, amount: 1 }, 'currency', /^is required$/],
    ['an unknown currency', { ...transfer, currency: 'XXX' }, 'currency', /^must be one of: EUR, USD, GBP$/],
    [
      'SQL in a uuid field',
      { ...transfer, toAccountId: "1' OR '1'='1" },
      'toAccountId',
      /^must be a valid uuid$/,
    ],
    [
      'a memo over 140 characters',
      { ...transfer, memo: 'm'.repeat(141) },
      'memo',
      /^must be a string of at most 140 characters$/,
    ],
    ['an object for a string', { ...transfer, memo: { $ne: null } }, 'memo', /^must be a string/],
    ['a role (mass assignment)', { ...transfer, role: 'admin' }, 'role', /^is not allowed$/],
    ['a balance (mass assignment)', { ...transfer, balance: 1e6 }, 'balance', /^is not allowed$/],
    ['an array for the body', [transfer], 'body', /^must be an object$/],
  ])('refuses %s with 400 naming the field, upstream never reached', async (_name, body, field, rule) => {
    const before = h.upstream.hits();
    const response = await post(h, '/v/transfers', body, IDEMPOTENCY);
    expectRefusal(response, 400, 'validate-body', field, rule);
    expect(response.text).not.toContain('admin');
    expect(response.text).not.toContain("OR '1'");
    expect(h.upstream.hits()).toBe(before);
  });

  it.each([
    [
      '__proto__',
      '{"toAccountId":"6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b","amount":1,"currency":"EUR","__proto__":{"admin":true}}',
      /^must not use the key "__proto__"$/,
    ],
    [
      'an escaped __proto__',
      '{"\\u005f_proto__":{"admin":true},"amount":1}',
      /^must not use the key "__proto__"$/,
    ],
    [
      'constructor',
      '{"constructor":{"prototype":{"admin":true}},"amount":1}',
      /^must not use the key "constructor"$/,
    ],
    [
      'a duplicate key',
      '{"toAccountId":"6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b","amount":1,"amount":999999999,"currency":"EUR"}',
      /^must not repeat the key "amount"$/,
    ],
    ['broken JSON', '{"amount": 1,', /^must be valid JSON$/],
    ['a number no double holds', '{"amount": 1e400}', /at most 17 significant digits/],
    ['an integer past 2^53', '{"amount": 9007199254740993}', /at most 17 significant digits/],
    [
      'an amount a double rounds to 1',
      '{"toAccountId":"6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b","amount":0.99999999999999999,"currency":"EUR"}',
      /at most 17 significant digits/,
    ],
    [
      'an amount a double rounds down to 1',
      '{"toAccountId":"6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b","amount":1.0000000000000001,"currency":"EUR"}',
      /at most 17 significant digits/,
    ],
    ['a lone surrogate', '{"memo": "\\ud800"}', /unpaired surrogate/],
  ])('refuses %s in the JSON itself with 400, upstream never reached', async (_name, text, rule) => {
    const before = h.upstream.hits();
    expectRefusal(await post(h, '/v/transfers', text, IDEMPOTENCY), 400, 'validate-body', 'body', rule);
    expect(h.upstream.hits()).toBe(before);
  });

  it('refuses a body that is not UTF-8, too deep or with too many keys', async () => {
    const before = h.upstream.hits();
    const latin1 = Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xe9, 0x22, 0x7d]); // {"a":"é"} in Latin-1
    expectRefusal(
      await postBytes(h, '/v/documents', latin1, JSON_TYPE),
      400,
      'validate-body',
      'body',
      /UTF-8/,
    );
    const deep = '{"a":'.repeat(40) + '1' + '}'.repeat(40);
    expectRefusal(
      await post(h, '/v/documents', deep),
      400,
      'validate-body',
      'body',
      /^must not nest deeper than 32 levels$/,
    );
    const wide = JSON.stringify(Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`k${i}`, i])));
    expectRefusal(
      await post(h, '/v/documents', wide),
      400,
      'validate-body',
      'body',
      /^must have at most 1000 keys$/,
    );
    expect(h.upstream.hits()).toBe(before);
  });

  it('passes NoSQL operators and shell text as inert data where the schema allows any value', async () => {
    const text =
      '{"filter":{"$where":"sleep(5000)","owner":{"$gt":""}},"cmd":"; rm -rf / #","path":"../../etc/passwd"}';
    const response = await post(h, '/v/documents', text);
    expect(response.status).toBe(200);
    expect(h.upstream.received.at(-1)!.body).toBe(text);
  });

  it('checks the Content-Type against the declared media types (415)', async () => {
    const before = h.upstream.hits();
    const body = JSON.stringify(transfer);
    expectRefusal(
      await post(h, '/v/transfers', body, { ...IDEMPOTENCY, 'content-type': 'text/plain' }),
      415,
      'validate-media-type',
      'content-type',
      /^must be one of: application\/json$/,
    );
    expectRefusal(
      await h.get('/v/transfers', { method: 'POST', headers: IDEMPOTENCY, body }),
      415,
      'validate-media-type',
      'content-type',
    );
    expectRefusal(
      await post(h, '/v/transfers', body, {
        ...IDEMPOTENCY,
        'content-type': 'application/json; charset=iso-8859-1',
      }),
      415,
      'validate-media-type',
      'content-type',
      /UTF-8/,
    );
    expectRefusal(
      await h.get('/v/accounts', { method: 'GET', headers: JSON_TYPE, body: '{}' }),
      415,
      'validate-media-type',
      'content-type',
      /this operation takes no body/,
    );
    expectRefusal(
      await h.get('/v/upload', { method: 'POST', headers: JSON_TYPE, body: '{}' }),
      415,
      'validate-media-type',
      'content-type',
      /application\/octet-stream/,
    );
    expect(h.upstream.hits()).toBe(before);
    const ok = await post(h, '/v/transfers', body, {
      ...IDEMPOTENCY,
      'content-type': 'Application/JSON; charset=UTF-8',
    });
    expect(ok.status).toBe(201);
    const upload = await h.get('/v/upload', {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: 'raw bytes',
    });
    expect(upload.status).toBe(200);
    expect(h.upstream.hits()).toBe(before + 2);
  });

  it('applies the x-gatehouse extensions: a smaller body limit, unknown query parameters allowed', async () => {
    const before = h.upstream.hits();
    const big = await h.get('/v/upload', {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: 'b'.repeat(65),
    });
    expectRefusal(big, 413, 'transport-body-too-large');
    expect(h.upstream.hits()).toBe(before);
    expect((await h.get('/v/public?utm_source=mail&x=1')).status).toBe(200);
    expect(h.upstream.received.at(-1)!.url).toBe('/v/public?utm_source=mail&x=1');
  });

  it('requires a declared required body and header', async () => {
    const before = h.upstream.hits();
    expectRefusal(
      await h.get('/v/transfers', { method: 'POST', headers: IDEMPOTENCY }),
      400,
      'validate-body',
      'body',
      /^is required$/,
    );
    expectRefusal(
      await post(h, '/v/transfers', transfer),
      400,
      'validate-parameter',
      'header.idempotency-key',
      /^is required$/,
    );
    const crlf = await post(h, '/v/transfers', transfer, {
      'idempotency-key': 'x%0d%0aSet-Cookie:%20admin=1',
    });
    expectRefusal(crlf, 400, 'validate-parameter', 'header.idempotency-key', /^must be a valid uuid$/);
    expect(crlf.text).not.toContain('Set-Cookie');
    expect(h.upstream.hits()).toBe(before);
  });

  it.each([
    ['?debug=true', 'query.debug', /^is not a declared parameter$/],
    ['?limit=ten', 'query.limit', /^must be an integer ≥ 1 and ≤ 100$/],
    ['?limit=0', 'query.limit', /^must be an integer ≥ 1 and ≤ 100$/],
    ['?limit=0x10', 'query.limit', /^must be an integer/],
    ['?limit=5&limit=6', 'query.limit', /^must not be repeated$/],
    ['?status=deleted', 'query.status', /^must be one of: open, closed$/],
    ['?active=yes', 'query.active', /^must be a boolean$/],
    ['?sort=owner,password', 'query.sort[1]', /^must be one of: owner, balance, created$/],
    ['?tag=a&tag=b&tag=c&tag=d&tag=e&tag=f', 'query.tag', /^must have at most 5 items$/],
    ['?file=..%2F..%2Fetc%2Fpasswd', 'query.file', /^must match the pattern/],
    ['?q=' + 'x'.repeat(51), 'query.q', /^must be a string of at most 50 characters$/],
    ['?filter=%7B%22owner%22%3A%7B%22%24ne%22%3Anull%7D%7D', 'query.filter.owner', /^must be a string/],
    ['?filter=%7B%22owner%22%3A1%2C%22owner%22%3A2%7D', 'query.filter', /^must not repeat the key "owner"$/],
    ['?q=%C3%28', 'query', /^must be valid percent-encoded UTF-8$/],
  ])(
    'refuses the query %s with 400 naming the parameter, upstream never reached',
    async (query, field, rule) => {
      const before = h.upstream.hits();
      const response = await h.get('/v/accounts' + query);
      expectRefusal(response, 400, 'validate-parameter', field, rule);
      expect(response.text).not.toContain('passwd');
      expect(h.upstream.hits()).toBe(before);
    },
  );

  it('passes declared query parameters, and injection text where a string is allowed, unchanged', async () => {
    const query =
      '?limit=10&status=open&active=false&sort=owner,balance&tag=a&tag=b&file=report_1.txt' +
      '&q=%27%20OR%201%3D1%20--%20%3B%20cat%20%2Fetc%2Fpasswd&filter=%7B%22owner%22%3A%22alex%22%7D';
    const response = await h.get('/v/accounts' + query);
    expect(response.status).toBe(200);
    expect(h.upstream.received.at(-1)!.url).toBe('/v/accounts' + query);
  });

  it('checks path, header and cookie parameters', async () => {
    const before = h.upstream.hits();
    expectRefusal(
      await h.get('/v/accounts/42'),
      400,
      'validate-parameter',
      'path.accountId',
      /^must be a valid uuid$/,
    );
    expectRefusal(
      await h.get('/v/reports/x%3Bcat%20%7C%20sh%20%60id%60'),
      400,
      'validate-parameter',
      'path.name',
      /^must match the pattern/,
    );
    expectRefusal(
      await h.get(`/v/accounts/${ACCOUNT}`, { headers: { cookie: 'theme=dark; session=<script>' } }),
      400,
      'validate-parameter',
      'cookie.session',
    );
    expectRefusal(
      await h.get(`/v/accounts/${ACCOUNT}`, { headers: { 'x-trace': 'a b' } }),
      400,
      'validate-parameter',
      'header.x-trace',
    );
    expect(h.upstream.hits()).toBe(before);
    const ok = await h.get(`/v/accounts/${ACCOUNT}`, {
      headers: { cookie: 'theme=dark; session=0123456789abcdef', 'x-trace': 'abc-1' },
    });
    expect(ok.status).toBe(200);
    expect((await h.get('/v/reports/q3-2026')).status).toBe(200);
    expect(h.upstream.hits()).toBe(before + 2);
  });

  it('refuses readOnly properties in a request, and never returns writeOnly ones', async () => {
    const before = h.upstream.hits();
    expectRefusal(
      await post(h, '/v/accounts', { owner: 'alex', balance: 1_000_000 }),
      400,
      'validate-body',
      'balance',
      /^is read-only$/,
    );
    expectRefusal(
      await post(h, '/v/accounts', { owner: 'alex', id: ACCOUNT }),
      400,
      'validate-body',
      'id',
      /^is read-only$/,
    );
    expect(h.upstream.hits()).toBe(before);
    const created = await post(h, '/v/accounts', { owner: 'alex', pin: '4321', nickname: null });
    expect(created.status).toBe(201);
    expect(created.json()).toEqual({ owner: 'alex', nickname: null, id: ACCOUNT, balance: 0 });
  });

  it('refuses a JSON string where the schema declares an object', async () => {
    const response = await post(h, '/v/documents', '"just a string"');
    expectRefusal(response, 400, 'validate-body', 'body', /^must be an object$/);
  });
});

describe('the response contract (strip mode)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ openapi });
  });
  afterAll(async () => h.close());

  it('removes undeclared and writeOnly properties and records each removal', async () => {
    const response = await h.get(`/v/accounts/${ACCOUNT}`, { headers: { 'accept-encoding': 'gzip' } });
    expect(response.status).toBe(200);
    expect(response.json()).toEqual({
      id: ACCOUNT,
      owner: 'alex',
      balance: 1200,
      nickname: null,
      tags: ['main'],
    });
    expect(response.text).not.toContain(LEAKED.passwordHash);
    expect(Number(response.headers['content-length'])).toBe(Buffer.byteLength(response.text));
    const journey = h.gateway.journeys.find(String(response.headers['x-request-id']))!;
    expect(journey.contract).toEqual([
      'removed undeclared pin',
      'removed undeclared passwordHash',
      'removed undeclared internalNote',
    ]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const line = (await readLog(h))
      .split('\n')
      .find((l) => l.includes(String(response.headers['x-request-id'])))!;
    expect(JSON.parse(line)).toMatchObject({ contract: journey.contract, status: 200 });
  });

  it('filters every item of an array, a declared error answer, and a large answer held in chunks', async () => {
    const list = (await h.get('/v/accounts')).json() as Record<string, unknown>[];
    expect(list).toHaveLength(2);
    for (const item of list)
      expect(Object.keys(item).sort()).toEqual(['balance', 'id', 'nickname', 'owner', 'tags']);
    const missing = await h.get(`/v/accounts/${MISSING_ACCOUNT}`);
    expect(missing.status).toBe(404);
    expect(missing.json()).toEqual({ title: 'no such account' });
    const many = await h.get('/v/many');
    expect(many.status).toBe(200);
    const items = many.json() as Record<string, unknown>[];
    expect(items).toHaveLength(2000);
    expect(many.text).not.toContain('passwordHash');
    expect(items[1999]!['owner']).toBe('owner-1999');
  });

  it('asks the upstream for an uncompressed answer so it can be checked', async () => {
    const response = await h.get('/v/gzip', { headers: { 'accept-encoding': 'gzip, br' } });
    expect(response.status).toBe(200);
    expect(h.upstream.received.at(-1)!.headers['accept-encoding']).toBeUndefined();
    expect(response.json()).toEqual({ id: 'g', owner: 'alex', balance: 1 });
  });

  it.each([
    ['/v/crash', 'upstream-bad-response', /answered 500/],
    ['/v/teapot', 'upstream-contract-violation', /418, which the operation does not declare/],
    ['/v/wrong-type', 'upstream-contract-violation', /as text\/html/],
    ['/v/broken', 'upstream-contract-violation', /not valid JSON/],
  ])('replaces the answer of %s with a generic 502 and records why', async (target, type, reason) => {
    const response = await h.get(target);
    expectRefusal(response, 502, type);
    expect(response.text).not.toMatch(/db\.js|relation|script|owner/);
    const journey = h.gateway.journeys.find(String(response.headers['x-request-id']))!;
    expect(journey.reason).toMatch(reason);
    expect(journey.decidedBy).toBe('respond');
    expect(journey.contract).toEqual([expect.stringMatching(/^replaced: /)]);
  });

  it('replaces a hollow answer and a mistyped one by a 502 and records why; the upstream did answer', async () => {
    for (const [target, reason] of [
      ['/v/hollow', /lacks the required id/],
      ['/v/mistyped', /has an object at the top, where its schema declares an array/],
    ] as const) {
      const before = h.upstream.hits();
      const response = await h.get(target);
      expect(h.upstream.hits()).toBe(before + 1);
      expectRefusal(response, 502, 'upstream-contract-violation');
      expect(response.text).not.toMatch(/db\.js|TypeError|ledger|alex/);
      const journey = h.gateway.journeys.find(String(response.headers['x-request-id']))!;
      expect(journey.reason).toMatch(reason);
      expect(journey.decidedBy).toBe('respond');
      expect(journey.contract).toEqual([expect.stringMatching(/^replaced: /)]);
    }
  });

  it('lets an answer with no schema through as it is', async () => {
    const response = await h.get('/v/reports/q1');
    expect(response.status).toBe(200);
    expect(response.text).toBe('report');
  });

  it('sets the security headers on every answer; no-store where the operation takes credentials', async () => {
    const open = await h.get('/v/public');
    expect(open.status).toBe(200);
    expect(open.headers['content-security-policy']).toBe("default-src 'none'; frame-ancestors 'none'");
    expect(open.headers['x-content-type-options']).toBe('nosniff');
    expect(open.headers['cache-control']).toBe('public, max-age=60');
    const secured = await h.get('/v/secure', { headers: { 'x-api-key': 'gk_test_not-a-real-key' } });
    expect(secured.headers['cache-control']).toBe('no-store');
    expect(secured.headers['content-security-policy']).toBe("default-src 'none'; frame-ancestors 'none'");
    const refused = await h.get('/v/nowhere');
    expect(refused.headers['content-security-policy']).toBe("default-src 'none'; frame-ancestors 'none'");
  });
});

describe('the response contract (reject mode)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ openapi, api: { responseContract: 'reject' } });
  });
  afterAll(async () => h.close());

  it('replaces an answer with undeclared properties by a 502 and passes a clean one', async () => {
    const leaky = await h.get(`/v/accounts/${ACCOUNT}`);
    expectRefusal(leaky, 502, 'upstream-contract-violation');
    expect(leaky.text).not.toContain('argon2id');
    const journey = h.gateway.journeys.find(String(leaky.headers['x-request-id']))!;
    expect(journey.reason).toMatch(/undeclared properties: pin, passwordHash, internalNote/);
    const clean = await h.get('/v/public');
    expect(clean.status).toBe(200);
    expect(clean.json()).toEqual({ ok: true });
  });
});

describe('CORS, as the configuration allows', () => {
  let h: Harness;
  const APP = 'https://app.example';
  beforeAll(async () => {
    h = await startHarness({
      openapi,
      extraYaml: `cors:\n  allowedOrigins: [${APP}]\n  allowCredentials: true\n`,
    });
  });
  afterAll(async () => h.close());

  it('gives an allowed origin its headers, on answers and on problems; the upstream’s own are dropped', async () => {
    const response = await h.get('/v/cors', { headers: { origin: APP } });
    expect(response.status).toBe(200);
    expect(response.headers['access-control-allow-origin']).toBe(APP);
    expect(response.headers['access-control-allow-credentials']).toBe('true');
    expect(response.headers['access-control-expose-headers']).toContain('x-request-id');
    expect(response.headers['vary']).toBe('origin');
    const problem = await h.get('/v/accounts?limit=0', { headers: { origin: APP } });
    expect(problem.status).toBe(400);
    expect(problem.headers['access-control-allow-origin']).toBe(APP);
  });

  it('gives an unlisted origin no CORS headers at all', async () => {
    const response = await h.get('/v/cors', { headers: { origin: 'https://evil.example' } });
    expect(response.status).toBe(200);
    expect(Object.keys(response.headers).filter((name) => name.startsWith('access-control-'))).toEqual([]);
  });

  it('answers a preflight itself, only for a declared path and method and an allowed origin', async () => {
    const before = h.upstream.hits();
    const preflight = (origin: string, target: string, method: string): Promise<HttpResponse> =>
      h.get(target, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': method } });
    const ok = await preflight(APP, '/v/cors', 'PUT');
    expect(ok.status).toBe(204);
    expect(ok.text).toBe('');
    expect(ok.headers['access-control-allow-origin']).toBe(APP);
    expect(ok.headers['access-control-allow-methods']).toBe('PUT');
    expect(ok.headers['access-control-allow-headers']).toContain('content-type');
    const evil = await preflight('https://evil.example', '/v/cors', 'PUT');
    expectRefusal(evil, 405, 'route-method-not-allowed');
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
    expectRefusal(await preflight(APP, '/v/undeclared', 'PUT'), 404, 'route-not-found');
    expectRefusal(await preflight(APP, '/v/cors', 'DELETE'), 405, 'route-method-not-allowed');
    expect(h.upstream.hits()).toBe(before);
  });
});
