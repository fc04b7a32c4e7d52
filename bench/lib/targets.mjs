// The upstream and the four targets: config files written into the run's temp dir, processes
// started with spawnTracked, each proven end to end (GET /items/42 → 200) before it is measured.
import { mkdirSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { spawnTracked, waitReady } from './proc.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = path.join(ROOT, 'dist/cli.js');
const PROBE = '/items/42';

export async function loadCerts(stateDir) {
  let mod;
  try {
    mod = await import(new URL('../../dist/tls/dev-certs.js', import.meta.url).href);
  } catch (err) {
    throw new Error(`cannot load dist/tls/dev-certs.js (run \`npm run build\` first): ${err.message}`);
  }
  return mod.ensureDevCertificates(stateDir);
}

/** nginx with one worker, in the foreground, everything it writes kept under dir. */
function nginxConf(dir, name, httpBlock) {
  const tmp = path.join(dir, `${name}-tmp`);
  mkdirSync(tmp, { recursive: true });
  const temps = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((t) => `  ${t}_temp_path ${tmp}/${t};`)
    .join('\n');
  const file = path.join(dir, `${name}.conf`);
  writeFileSync(
    file,
    `# written by bench/run.mjs
worker_processes 1;
daemon off;
pid ${dir}/${name}.pid;
error_log ${dir}/${name}.error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  server_tokens off;
${temps}
  keepalive_requests 10000000;
  keepalive_timeout 300s;
${httpBlock}
}
`,
  );
  return file;
}

function startNginx(dir, name, httpBlock) {
  const conf = nginxConf(dir, name, httpBlock);
  return spawnTracked(name, 'nginx', ['-p', dir, '-c', conf, '-e', path.join(dir, `${name}.error.log`)], {
    logFile: true,
  });
}

/**
 * The upstream: one nginx worker answering GET /items/{id}. Port mtls requires a client
 * certificate (what the proxies use); port direct is the same server without client-certificate
 * verification, because wrk cannot present one (target a).
 */
export async function startUpstream(dir, certs, { mtls, direct }) {
  const location = `
    location ~ ^/items/(?<id>[A-Za-z0-9_-]+)$ {
      default_type application/json;
      return 200 '{"id":"$id","name":"widget","price":1299}';
    }${scenarioLocations()}
    location / { return 404; }`;
  const tls = `ssl_certificate ${certs.serverCertPath};
    ssl_certificate_key ${certs.serverKeyPath};
    ssl_protocols TLSv1.2 TLSv1.3;`;
  const child = startNginx(
    dir,
    'upstream',
    `  server {
    listen 127.0.0.1:${mtls} ssl;
    ${tls}
    ssl_client_certificate ${certs.caCertPath};
    ssl_verify_client on;${location}
  }
  server {
    listen 127.0.0.1:${direct} ssl;
    ${tls}${location}
  }`,
  );
  const mtlsOpts = {
    ca: certs.caCert,
    cert: certs.clientCert,
    key: certs.clientKey,
    rejectUnauthorized: true,
  };
  await waitReady(child, mtls, PROBE, mtlsOpts);
  await waitReady(child, direct, PROBE);
  return child;
}

/** The name nginx must verify in the upstream certificate: a DNS SAN if there is one. */
function upstreamName(certPem) {
  const san = new X509Certificate(certPem).subjectAltName ?? '';
  return /DNS:([^,\s]+)/.exec(san)?.[1] ?? '127.0.0.1';
}

export async function startNginxProxy(dir, certs, port, upstreamPort) {
  const child = startNginx(
    dir,
    'proxy',
    `  upstream up {
    server 127.0.0.1:${upstreamPort};
    keepalive 128;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
  }
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${certs.serverCertPath};
    ssl_certificate_key ${certs.serverKeyPath};
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {
      proxy_pass https://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_ssl_certificate ${certs.clientCertPath};
      proxy_ssl_certificate_key ${certs.clientKeyPath};
      proxy_ssl_trusted_certificate ${certs.caCertPath};
      proxy_ssl_verify on;
      proxy_ssl_verify_depth 2;
      proxy_ssl_name ${upstreamName(certs.serverCert)};
      proxy_ssl_session_reuse on;
      proxy_ssl_protocols TLSv1.2 TLSv1.3;
    }
  }`,
  );
  await waitReady(child, port, PROBE);
  return child;
}

/**
 * Authentication of target c (--auth): `none` (the operation is x-gatehouse-public), `jwt` (one
 * ES256 bearer token from a static-key issuer: verified once, then served from the cache) or
 * `key` (one API key created in the key store before start). Returns what the configuration and
 * the operation need, and the headers every request (and the readiness probe) carries.
 */
async function gatehouseAuth(dir, mode) {
  if (mode === 'none') return { yaml: '', operation: 'x-gatehouse-public: true', headers: {} };
  if (mode === 'key') return { yaml: '', operation: "security: [ { key: ['items:read'] } ]", headers: null };
  if (mode !== 'jwt') throw new Error(`--auth ${mode}: use none, jwt or key`);
  const { SignJWT } = await import('jose');
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(path.join(dir, 'issuer.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
  const token = await new SignJWT({ sub: 'bench', scope: 'items:read' })
    .setProtectedHeader({ alg: 'ES256', kid: 'bench-1' })
    .setIssuer('https://issuer.bench')
    .setAudience('gatehouse-bench')
    .setIssuedAt()
    .setExpirationTime('2h')
    .sign(privateKey);
  return {
    yaml: `auth:
  issuers:
    - { issuer: "https://issuer.bench", audience: gatehouse-bench, algorithms: [ES256], keys: ["file:./issuer.pem"] }
`,
    operation: "security: [ { bearer: ['items:read'] } ]",
    headers: { authorization: `Bearer ${token}` },
  };
}

/** `gatehouse keys create` through the CLI, as an operator would; returns the key. */
function createApiKey(config) {
  const args = ['--config', config, '--consumer', 'bench', '--scopes', 'items:read', '--json'];
  const out = execFileSync(process.execPath, [CLI, 'keys', 'create', ...args]).toString();
  return JSON.parse(out).key;
}

/**
 * BENCH_GATEHOUSE_RATE_LIMIT=memory|redis puts a rate limit on every operation of target c: one
 * policy per client (principal, else address) and item, 1000 keys in the bench's traffic, generous
 * enough never to refuse, so what is measured is the cost of deciding. `redis` uses REDIS_URL
 * (default redis://127.0.0.1:6379) under a key prefix of its own.
 */
function rateLimitYaml() {
  const store = process.env.BENCH_GATEHOUSE_RATE_LIMIT ?? '';
  if (store === '') return '';
  if (store !== 'memory' && store !== 'redis')
    throw new Error('BENCH_GATEHOUSE_RATE_LIMIT: use memory or redis');
  const policy = `rateLimits:
  apply: [bench]
  policies:
    bench: { key: [principal, "param:id"], limit: 100000, window: 1s }
`;
  if (store === 'memory') return policy;
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  return `${policy}redis: { url: "${url}", keyPrefix: "bench-${process.pid}:", timeoutMs: 100 }\n`;
}

/**
 * Starts Gatehouse; resolves to the process and the headers requests must carry (--auth).
 * `wrapper` runs node under another program (bench/instructions.mjs: valgrind), which may need
 * a longer `readyTimeoutMs`; `nodeArgs` go to node (bench/check-share.mjs: --perf-basic-prof);
 * `monitoring: false` turns metrics, security events and detectors off (target e of bench/run.mjs).
 */
export async function startGatehouse(
  dir,
  stateDir,
  port,
  upstreamPort,
  {
    auth = 'none',
    wrapper = [],
    readyTimeoutMs = 20000,
    nodeArgs: extraNodeArgs = [],
    monitoring = true,
  } = {},
) {
  const credentials = await gatehouseAuth(dir, auth);
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
      operationId: getItem
      ${credentials.operation}
      parameters:
        - { name: id, in: path, required: true, schema: { type: string, maxLength: 64 } }
      responses:
        '200':
          description: an item
          content:
            application/json:
              schema:
                type: object
                properties:
                  id: { type: string }
                  name: { type: string }
                  price: { type: integer }
${scenarioPaths(credentials.operation)}`,
  );
  const config = path.join(dir, 'gatehouse.yaml');
  writeFileSync(
    config,
    `stateDir: ${stateDir}
listeners: [ { name: public, host: 127.0.0.1, port: ${port}, tls: dev } ]
apis:
  - name: bench
    openapi: ./openapi.yaml
    basePath: /
    upstream: { url: "https://127.0.0.1:${upstreamPort}", tls: dev }
log: { level: warn, access: true, destination: ${path.join(dir, 'access.log')} }
${monitoring ? '' : 'monitoring: { enabled: false }\n'}${credentials.yaml}${rateLimitYaml()}`,
  );
  const headers = credentials.headers ?? { 'x-api-key': createApiKey(config) };
  // BENCH_GATEHOUSE_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the proxy.
  const nodeArgs = [
    ...(process.env.BENCH_GATEHOUSE_NODE_ARGS ?? '').split(' ').filter(Boolean),
    ...extraNodeArgs,
  ];
  const command = [...wrapper, process.execPath, ...nodeArgs, CLI, 'start', '--config', config];
  const child = spawnTracked('gatehouse', command[0], command.slice(1), { cwd: dir, logFile: true });
  await waitReady(child, port, PROBE, { headers }, readyTimeoutMs);
  return { child, headers };
}

export async function startFastify(certs, port, upstreamPort) {
  const env = {
    ...process.env,
    BENCH_PORT: String(port),
    BENCH_UPSTREAM: `https://127.0.0.1:${upstreamPort}`,
    BENCH_CA: certs.caCertPath,
    BENCH_SERVER_CERT: certs.serverCertPath,
    BENCH_SERVER_KEY: certs.serverKeyPath,
    BENCH_CLIENT_CERT: certs.clientCertPath,
    BENCH_CLIENT_KEY: certs.clientKeyPath,
  };
  const script = fileURLToPath(new URL('./fastify-proxy.mjs', import.meta.url));
  const child = spawnTracked('fastify', process.execPath, [script], { cwd: ROOT, env, logFile: true });
  await waitReady(child, port, PROBE);
  return child;
}

// --scenario (bench/run.mjs): what wrk sends to every target. `items` is the default GET; the
// others measure request validation and response filtering against the same request without them
// (target c checks what its contract declares; a, b and d pass everything through).
//   transfer      POST /transfers, a JSON transfer body validated against its schema, and its
//                 Idempotency-Key header against a uuid
//   transfer-body the same to /transfers-body, which declares the body only: its validation alone
//   transfer-raw  the same bytes to /transfers-raw, declared application/octet-stream: not parsed
//   report        GET /report/{n}: a 2 KB JSON answer checked against its schema (nothing to remove)
//   report-leaky  GET /report-leaky/{n}: the same plus one undeclared field, cut out of the bytes
//   report-raw    GET /report-raw/{n}: the same 2 KB, declared without a schema: streamed as is
export const SCENARIOS = [
  'items',
  'transfer',
  'transfer-body',
  'transfer-raw',
  'report',
  'report-leaky',
  'report-raw',
];

const TRANSFER_BODY = JSON.stringify({
  toAccountId: '6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b',
  amount: 2500,
  currency: 'EUR',
  memo: 'rent for march',
});
const REPORT_ITEMS = Array.from({ length: 30 }, (_, i) => ({
  sku: `SKU-${1000 + i}`,
  name: `widget number ${i}`,
  qty: i,
  price: 1299 + i,
}));
/** About 2 KB of JSON; `$id` is filled in by nginx. */
const REPORT_JSON = JSON.stringify({ id: '$id', items: REPORT_ITEMS });
const LEAKY_JSON = REPORT_JSON.slice(0, -1) + ',"internalNote":"routed via ledger-7"}';

function scenarioLocations() {
  return `
    location ~ ^/transfers(-raw|-body)?$ {
      default_type application/json;
      return 201 '{"id":"t-1","status":"accepted"}';
    }
    location ~ ^/report(-raw)?/(?<id>[A-Za-z0-9_-]+)$ {
      default_type application/json;
      return 200 '${REPORT_JSON}';
    }
    location ~ ^/report-leaky/(?<id>[A-Za-z0-9_-]+)$ {
      default_type application/json;
      return 200 '${LEAKY_JSON}';
    }`;
}

function scenarioPaths(security) {
  const report = `
      responses:
        '200':
          description: a 2 KB report
          content:
            application/json:
              schema:
                type: object
                properties:
                  id: { type: string, maxLength: 64 }
                  items:
                    type: array
                    maxItems: 100
                    items:
                      type: object
                      properties:
                        sku: { type: string, maxLength: 32 }
                        name: { type: string, maxLength: 64 }
                        qty: { type: integer, minimum: 0, maximum: 1000 }
                        price: { type: integer, minimum: 0, maximum: 100000000 }`;
  const reportParams = `
      parameters:
        - { name: id, in: path, required: true, schema: { type: string, maxLength: 64 } }`;
  const transferBody = `
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [toAccountId, amount, currency]
              properties:
                toAccountId: { type: string, format: uuid }
                amount: { type: integer, minimum: 1, maximum: 1000000 }
                currency: { type: string, enum: [EUR, USD, GBP] }
                memo: { type: string, maxLength: 140 }
      responses:
        '201': { description: accepted }`;
  return `  /transfers:
    post:
      ${security}
      parameters:
        - { name: Idempotency-Key, in: header, required: true, schema: { type: string, format: uuid } }${transferBody}
  /transfers-body:
    post:
      ${security}${transferBody}
  /transfers-raw:
    post:
      ${security}
      requestBody: { required: true, content: { application/octet-stream: {} } }
      responses:
        '201': { description: accepted }
  /report/{id}:
    get:
      ${security}${reportParams}${report}
  /report-leaky/{id}:
    get:
      ${security}${reportParams}${report}
  /report-raw/{id}:
    get:
      ${security}${reportParams}
      responses:
        '200': { description: 'the same report, without a schema' }
`;
}

/**
 * The scenario a checked one is compared with: the same traffic without the check (report and
 * report-leaky → report-raw, transfer and transfer-body → transfer-raw), when `scenarios` holds it;
 * else null.
 */
export function uncheckedTwin(scenario, scenarios) {
  if (scenario.endsWith('-raw')) return null;
  const raw = `${scenario.replace(/-(leaky|body)$/, '')}-raw`;
  return scenarios.includes(raw) ? raw : null;
}

/**
 * Request number `n` of a scenario, for clients other than wrk (bench/instructions.mjs): the same
 * method, path, headers and body as its wrk script sends.
 */
export function scenarioRequest(scenario, n, headers = {}) {
  if (!SCENARIOS.includes(scenario))
    throw new Error(`--scenario ${scenario}: use one of ${SCENARIOS.join(', ')}`);
  if (!scenario.startsWith('transfer')) {
    const prefix = scenario === 'items' ? 'items' : scenario;
    return { method: 'GET', path: `/${prefix}/${n}`, headers, body: null };
  }
  return {
    method: 'POST',
    path: `/${scenario.replace('transfer', 'transfers')}`,
    headers: {
      ...headers,
      'content-type': scenario === 'transfer-raw' ? 'application/octet-stream' : 'application/json',
      'idempotency-key': '0b8f3c1e-6a2d-4f7b-9e1c-5d4a3b2c1f0e',
    },
    body: TRANSFER_BODY,
  };
}

/** A scenario as bench/lib/openloop.c sends it: GET {prefix}{1..ids}, or one path with a body. */
export function scenarioOpenLoop(scenario, headers = {}) {
  const r = scenarioRequest(scenario, 1, headers);
  return r.method === 'GET'
    ? { prefix: r.path.slice(0, r.path.lastIndexOf('/') + 1), ids: 1000, method: 'GET', body: null, headers }
    : { prefix: r.path, ids: 0, method: r.method, body: r.body, headers: r.headers };
}

/**
 * The wrk script of a scenario (null for `items`, which bench/lib/wrk.mjs writes): 1000
 * pre-formatted requests cycled through, each with `headers` (the credential of --auth).
 */
export function writeScenarioLuaScript(dir, scenario, headers = {}) {
  if (!SCENARIOS.includes(scenario))
    throw new Error(`--scenario ${scenario}: use one of ${SCENARIOS.join(', ')}`);
  if (scenario === 'items') return null;
  const post = scenario.startsWith('transfer');
  const all = {
    ...headers,
    ...(post
      ? {
          'content-type': scenario === 'transfer-raw' ? 'application/octet-stream' : 'application/json',
          'idempotency-key': '0b8f3c1e-6a2d-4f7b-9e1c-5d4a3b2c1f0e',
        }
      : {}),
  };
  const table = Object.entries(all)
    .map(([name, value]) => `[${JSON.stringify(name)}] = ${JSON.stringify(value)}`)
    .join(', ');
  const request = post
    ? `wrk.format("POST", "/${scenario.replace('transfer', 'transfers')}", headers, ${JSON.stringify(TRANSFER_BODY)})`
    : `wrk.format("GET", "/${scenario}/" .. n, headers)`;
  const file = path.join(dir, `${scenario}.lua`);
  writeFileSync(
    file,
    `local reqs, i = {}, 0
local headers = { ${table} }
init = function(args)
  for n = 1, 1000 do reqs[n] = ${request} end
end
request = function()
  i = i % 1000 + 1
  return reqs[i]
end
`,
  );
  return file;
}
