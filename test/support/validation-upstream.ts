import { gzipSync } from 'node:zlib';
import type { ServerResponse } from 'node:http';
import type { ReceivedRequest } from './test-upstream.js';

/** What the upstream adds that no contract declares: must never reach a client in strip mode. */
export const LEAKED = {
  passwordHash: '$argon2id$v=19$m=65536$c2FsdA$aGFzaA',
  internalNote: 'routed via ledger-7',
};
export const MISSING_ACCOUNT = '00000000-0000-4000-8000-000000000404';
const ACCOUNT_ID = '6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b';

function json(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(value));
}

function account(id: string): Record<string, unknown> {
  return { id, owner: 'alex', balance: 1200, nickname: null, tags: ['main'], pin: '1234', ...LEAKED };
}

/**
 * The responses behind test/fixtures/validation-api.yaml (paths under /v/): some keep to the
 * contract, some break it on purpose (extra fields, undeclared status, wrong type, broken JSON, an
 * error object where an account is declared, an object where a list is).
 */
export function respondAsValidationApi(record: ReceivedRequest, res: ServerResponse): void {
  const path = record.url.split('?')[0]!;
  if (path === '/v/transfers') json(res, 201, { id: 't-1', status: 'accepted', ...LEAKED });
  else if (path === '/v/accounts' && record.method === 'POST') {
    json(res, 201, { ...(JSON.parse(record.body) as object), id: ACCOUNT_ID, balance: 0, ...LEAKED });
  } else if (path === '/v/accounts') json(res, 200, [account(ACCOUNT_ID), account(MISSING_ACCOUNT)]);
  else if (path === `/v/accounts/${MISSING_ACCOUNT}`)
    json(res, 404, { title: 'no such account', trace: 'at db.ts:12' });
  else if (path.startsWith('/v/accounts/')) json(res, 200, account(decodeURIComponent(path.slice(12))));
  else if (path.startsWith('/v/reports/')) {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('report');
  } else if (path === '/v/crash') {
    res.writeHead(500, { 'content-type': 'text/plain' });
    res.end('Error: relation "accounts" does not exist\n    at Query.run (/srv/app/db.js:88:9)');
  } else if (path === '/v/teapot') json(res, 418, { id: 'x' });
  else if (path === '/v/wrong-type') {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<html><script>alert(1)</script></html>');
  } else if (path === '/v/broken') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"id": "x", "owner": ');
  } else if (path === '/v/hollow') {
    json(res, 200, {
      error: 'TypeError: balance of undefined',
      stack: 'at Ledger.read (/srv/app/db.js:12:5)',
    });
  } else if (path === '/v/mistyped') {
    json(res, 200, { data: [account(ACCOUNT_ID)], internalNote: LEAKED.internalNote });
  } else if (path === '/v/secure' || path === '/v/public') {
    json(
      res,
      200,
      { ok: true },
      { 'cache-control': 'public, max-age=60', 'content-security-policy': 'default-src *' },
    );
  } else if (path === '/v/cors') {
    json(res, 200, { ok: true }, { 'access-control-allow-origin': '*' });
  } else if (path === '/v/documents' || path === '/v/upload') json(res, 200, { ok: true });
  else if (path === '/v/gzip') {
    // Compresses only when asked, as real servers do.
    const gzip = /gzip/.test(String(record.headers['accept-encoding'] ?? ''));
    const body = JSON.stringify({ id: 'g', owner: 'alex', balance: 1, ...LEAKED });
    res.writeHead(200, {
      'content-type': 'application/json',
      ...(gzip ? { 'content-encoding': 'gzip' } : {}),
    });
    res.end(gzip ? gzipSync(body) : body);
  } else if (path === '/v/many') {
    json(
      res,
      200,
      Array.from({ length: 2000 }, (_, i) => ({ ...account(ACCOUNT_ID), owner: `owner-${i}` })),
    );
  } else {
    res.writeHead(404).end();
  }
}
