#!/usr/bin/env node
// Auth stages benchmark (issue 3): CPU µs of the authenticate + authorize stages per request,
// in-process, for a public operation, an API key, a cached bearer JWT and a first-seen JWT; and
// what the identity assertion costs signed per request versus reused. Runs on dist/ (npm run
// build first). Usage: node bench/auth-stages.mjs [--iterations 200000]
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';
import { loadConfig } from '../dist/config/index.js';
import { compileApi, loadOpenApiDocument } from '../dist/contract/index.js';
import { buildAuth } from '../dist/auth/setup.js';
import { generateApiKey, hashApiKey, keyIdOf } from '../dist/auth/keys/key-format.js';
import { ApiKeyVerifier } from '../dist/auth/keys/verifier.js';
import { IdentityAssertions } from '../dist/auth/assertion/identity-assertions.js';
import { RequestContext } from '../dist/gateway/request-context.js';
import { createAuthenticateStage } from '../dist/gateway/stages/authenticate.js';
import { createAuthorizeStage } from '../dist/gateway/stages/authorize.js';

const { values: opt } = parseArgs({ options: { iterations: { type: 'string', default: '200000' } } });
const N = Number(opt.iterations);
const dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-auth-bench-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
writeFileSync(path.join(dir, 'issuer.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
writeFileSync(
  path.join(dir, 'openapi.yaml'),
  `openapi: 3.1.0
info: { title: bench, version: 1.0.0 }
components:
  securitySchemes:
    bearer: { type: http, scheme: bearer }
    key: { type: apiKey, in: header, name: X-API-Key }
paths:
  /items/{id}:
    get:
      security: [ { bearer: ['items:read'] }, { key: ['items:read'] } ]
      parameters: [ { name: id, in: path, required: true, schema: { type: string } } ]
      responses: { '200': { description: an item } }
  /public/{id}:
    get:
      x-gatehouse-public: true
      parameters: [ { name: id, in: path, required: true, schema: { type: string } } ]
      responses: { '200': { description: an item } }
`,
);
writeFileSync(
  path.join(dir, 'gatehouse.yaml'),
  `stateDir: ./state
listeners: [ { name: public, port: 8443, tls: dev } ]
apis: [ { name: bench, openapi: ./openapi.yaml, upstream: { url: "https://127.0.0.1:8444" } } ]
auth:
  issuers:
    - { issuer: "https://issuer.bench", audience: bench, algorithms: [ES256], keys: ["file:./issuer.pem"] }
`,
);
const config = await loadConfig(path.join(dir, 'gatehouse.yaml'));
const api = compileApi(config.apis[0], await loadOpenApiDocument(config.apis[0].openapi));
const keys = new ApiKeyVerifier();
const apiKey = generateApiKey('live');
const digest = hashApiKey(apiKey);
keys.apply([
  {
    id: keyIdOf(digest),
    consumer: 'bench',
    scopes: ['items:read'],
    env: 'live',
    status: 'active',
    createdAt: 0,
    expiresAt: null,
    lastUsedAt: null,
    replacedBy: null,
    overlapUntil: null,
    updatedAt: 0,
    version: 1,
    hash: digest,
  },
]);
const auth = await buildAuth(config, [api], keys);
const authenticate = createAuthenticateStage(auth);
const authorize = createAuthorizeStage(auth);
const operation = (template) => api.operations.find((o) => o.template === template);
const token = await new SignJWT({ sub: 'bench', scope: 'items:read' })
  .setProtectedHeader({ alg: 'ES256' })
  .setIssuer('https://issuer.bench')
  .setAudience('bench')
  .setExpirationTime('1h')
  .sign(privateKey);

function context(template, headers) {
  const req = { headers, rawHeaders: [], method: 'GET' };
  const ctx = new RequestContext('00000000-0000-4000-8000-000000000000', req, {}, '127.0.0.1', 0);
  ctx.route = { operation: operation(template), params: { id: '1' }, path: '/x/1', query: '' };
  return ctx;
}

function measure(name, template, headers) {
  const ctx = context(template, headers);
  const once = () => {
    ctx.principal = null;
    if (authenticate.onRequest(ctx) !== undefined) throw new Error(`${name}: not synchronous`);
    authorize.onRequest(ctx);
  };
  for (let i = 0; i < 20_000; i += 1) once(); // warm-up (JIT)
  const started = process.cpuUsage();
  for (let i = 0; i < N; i += 1) once();
  const used = process.cpuUsage(started);
  console.log(`  ${name.padEnd(44)} ${((used.user + used.system) / N).toFixed(2)} CPU µs/request`);
}

console.log(`authenticate + authorize stages, ${N} iterations each, node ${process.version}`);
measure('public operation', '/public/{id}', {});
measure('API key (X-API-Key)', '/items/{id}', { 'x-api-key': apiKey });
await auth.jwt.verify(token); // first sight: jose verifies, the cache keeps it
measure('bearer JWT, verified before (cache hit)', '/items/{id}', { authorization: `Bearer ${token}` });

const firstSight = 200;
const tokens = [];
for (let i = 0; i < firstSight; i += 1) {
  tokens.push(
    await new SignJWT({ sub: `v${i}`, scope: 'items:read' })
      .setProtectedHeader({ alg: 'ES256' })
      .setIssuer('https://issuer.bench')
      .setAudience('bench')
      .setExpirationTime('1h')
      .sign(privateKey),
  );
}
const verifyCpu0 = process.cpuUsage();
const wall0 = performance.now();
for (const t of tokens) await auth.jwt.verify(t);
const verifyCpu = process.cpuUsage(verifyCpu0);
console.log(
  `  ${'bearer JWT, first sight (jose ES256 verify)'.padEnd(44)} ${((verifyCpu.user + verifyCpu.system) / firstSight).toFixed(1)} CPU µs/request ` +
    `(${(((performance.now() - wall0) * 1000) / firstSight).toFixed(0)} µs wall, one at a time)`,
);

const principal = await auth.jwt.verify(token);
const perRequest = new IdentityAssertions(
  { ...config.auth.identity, reuseSec: 0 },
  config.auth.issuer,
  auth.signingKeys.active,
);
const reused = new IdentityAssertions(config.auth.identity, config.auth.issuer, auth.signingKeys.active);
for (const [name, assertions, n] of [
  ['identity assertion signed per request (node:crypto ES256)', perRequest, 20_000],
  ['identity assertion reused (reuseSec 30)', reused, N],
]) {
  for (let i = 0; i < 2000; i += 1) assertions.headerFor(principal, 'bench', 'r', Date.now());
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i += 1) assertions.headerFor(principal, 'bench', 'r', Date.now());
  const used = process.cpuUsage(t0);
  console.log(`  ${name.padEnd(44)} ${((used.user + used.system) / n).toFixed(2)} CPU µs/request`);
}
await auth.close();
