// The upstream and the four targets: config files written into the run's temp dir, processes
// started with spawnTracked, each proven end to end (GET /items/42 → 200) before it is measured.
import { mkdirSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { httpsGet, spawnTracked, waitReady } from './proc.mjs';

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

/**
 * Proves a target checks credentials: GET /items/42 without one is refused with 401, and with
 * `headers` (a valid credential) an id longer than 64 characters is refused without a response from
 * the upstream (nginx and fastify 404, Gatehouse 400).
 */
export async function expectChecked(name, port, headers) {
  const bare = await httpsGet(port, PROBE);
  const long = await httpsGet(port, `/items/${'x'.repeat(65)}`, { headers });
  if (bare.status !== 401 || ![400, 404].includes(long.status) || long.body.includes('widget'))
    throw new Error(
      `${name} does not check requests: ${bare.status} without a key, ${long.status} for a long id`,
    );
}

/** The name nginx must verify in the upstream certificate: a DNS SAN if there is one. */
function upstreamName(certPem) {
  const san = new X509Certificate(certPem).subjectAltName ?? '';
  return /DNS:([^,\s]+)/.exec(san)?.[1] ?? '127.0.0.1';
}

/**
 * nginx as a TLS proxy. With `keys` ({ key, consumer } of the API keys the gateway was given), it
 * does what the deployed Gatehouse does that nginx can: the path checked by a regular expression
 * (GET /items/{id}, id at most 64 characters), the X-API-Key header looked up in a map (401 when
 * absent or unknown), the key not forwarded and its consumer named to the upstream, and with
 * `limit`, `limit_req` per consumer (generous: it decides on every request, never refuses here).
 */
export async function startNginxProxy(
  dir,
  certs,
  port,
  upstreamPort,
  { keys = null, limit = keys !== null } = {},
) {
  const proxy = `proxy_pass https://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_ssl_certificate ${certs.clientCertPath};
      proxy_ssl_certificate_key ${certs.clientKeyPath};
      proxy_ssl_trusted_certificate ${certs.caCertPath};
      proxy_ssl_verify on;
      proxy_ssl_verify_depth 2;
      proxy_ssl_name ${upstreamName(certs.serverCert)};
      proxy_ssl_session_reuse on;
      proxy_ssl_protocols TLSv1.2 TLSv1.3;`;
  const checked = keys !== null;
  const map = checked
    ? `  map_hash_bucket_size 128;
  map $http_x_api_key $consumer {
    default "";
${keys.map(({ key, consumer }) => `    "${key}" "${consumer}";`).join('\n')}
  }
${limit ? '  limit_req_zone $consumer zone=per_consumer:10m rate=100000r/s;\n  limit_req_status 429;\n' : ''}`
    : '';
  const guarded = `if ($consumer = "") { return 401; }
      ${limit ? 'limit_req zone=per_consumer burst=100000 nodelay;' : ''}
      proxy_set_header X-API-Key "";
      proxy_set_header X-Consumer $consumer;
      ${proxy}`;
  // The other scenarios' paths (--scenario) are checked for a key and a limit, not for their shape.
  const locations = checked
    ? `location ~ "^/items/[A-Za-z0-9_-]{1,64}$" {
      ${guarded}
    }
    location ~ ^/items/ { return 404; }
    location / {
      ${guarded}
    }`
    : `location / {
      ${proxy}
    }`;
  const child = startNginx(
    dir,
    'proxy',
    `${map}  upstream up {
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
    ${locations}
  }`,
  );
  await waitReady(child, port, PROBE, checked ? { headers: { 'x-api-key': keys[0].key } } : {});
  return child;
}

/**
 * Authentication of a Gatehouse target (--auth): `none` (the operation is x-gatehouse-public),
 * `jwt` (`tokens` distinct ES256 bearer tokens from a static-key issuer, one consumer each: with
 * more tokens than the verified-token cache holds, cycled in order, every request verifies a
 * signature) or `key` (`keys` API keys created in the key store before start, one consumer each).
 * Returns what the configuration and the operation need, and the header sets requests carry in
 * turn (null for keys: made once the configuration is written).
 */
async function gatehouseAuth(dir, mode, { tokens }) {
  if (mode === 'none') return { yaml: '', operation: 'x-gatehouse-public: true', headerSets: [{}] };
  if (mode === 'key')
    return { yaml: '', operation: "security: [ { key: ['items:read'] } ]", headerSets: null };
  if (mode !== 'jwt') throw new Error(`--auth ${mode}: use none, jwt or key`);
  const { SignJWT } = await import('jose');
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(path.join(dir, 'issuer.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
  const headerSets = [];
  for (let i = 1; i <= tokens; i++) {
    const token = await new SignJWT({ sub: `bench-${i}`, scope: 'items:read' })
      .setProtectedHeader({ alg: 'ES256', kid: 'bench-1' })
      .setIssuer('https://issuer.bench')
      .setAudience('gatehouse-bench')
      .setIssuedAt()
      .setExpirationTime('2h')
      .sign(privateKey);
    headerSets.push({ authorization: `Bearer ${token}` });
  }
  return {
    yaml: `auth:
  issuers:
    - { issuer: "https://issuer.bench", audience: gatehouse-bench, algorithms: [ES256], keys: ["file:./issuer.pem"] }
`,
    operation: "security: [ { bearer: ['items:read'] } ]",
    headerSets,
  };
}

/** `gatehouse keys create` through the CLI, as an operator would, `count` times: { key, consumer }. */
export function createApiKeys(config, count) {
  const keys = [];
  for (let i = 1; i <= count; i++) {
    const consumer = `bench-${i}`;
    const args = ['--config', config, '--consumer', consumer, '--scopes', 'items:read', '--json'];
    const out = execFileSync(process.execPath, [CLI, 'keys', 'create', ...args]).toString();
    keys.push({ key: JSON.parse(out).key, consumer });
  }
  return keys;
}

/**
 * The rate limit of a Gatehouse target: `memory` or `redis` (default: BENCH_GATEHOUSE_RATE_LIMIT,
 * else none) puts one policy on every operation, per principal (each key or token its own
 * bucket), generous enough never to refuse, so what is measured is the cost of deciding. `redis`
 * uses REDIS_URL (default redis://127.0.0.1:6379) under a key prefix of its own.
 */
function rateLimitYaml(store, name) {
  if (store === '' || store === 'none') return '';
  if (store !== 'memory' && store !== 'redis')
    throw new Error(`rate limit store ${store}: use memory, redis or none`);
  const policy = `rateLimits:
  apply: [bench]
  policies:
    bench: { key: [principal], limit: 100000, window: 1s }
`;
  if (store === 'memory') return policy;
  return `${policy}redis: { url: "${redisUrl()}", keyPrefix: "bench-${process.pid}-${name}:", timeoutMs: 100 }\n`;
}

export const redisUrl = () => process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * Starts Gatehouse; resolves to the process, the header sets requests carry in turn (`headerSets`,
 * the first as `headers`) and, with API keys, the keys ({ key, consumer }). `keys` is how many to
 * create, or the keys of an earlier target with the same state folder; `tokens` how many distinct
 * JWTs (--auth jwt); `rateLimit` memory, redis or none (rateLimitYaml); `workers` the number of
 * worker processes (`gatehouse start --workers`; 1, one process, unless said).
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
    keys = 1,
    tokens = 1,
    rateLimit = process.env.BENCH_GATEHOUSE_RATE_LIMIT ?? '',
    workers = 1,
    wrapper = [],
    readyTimeoutMs = 20000,
    nodeArgs: extraNodeArgs = [],
    monitoring = true,
  } = {},
) {
  const credentials = await gatehouseAuth(dir, auth, { tokens });
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
${monitoring ? '' : 'monitoring: { enabled: false }\n'}${credentials.yaml}${rateLimitYaml(rateLimit, path.basename(dir))}`,
  );
  const apiKeys = auth !== 'key' ? null : Array.isArray(keys) ? keys : createApiKeys(config, keys);
  const headerSets = apiKeys?.map(({ key }) => ({ 'x-api-key': key })) ?? credentials.headerSets;
  const headers = headerSets[0];
  // BENCH_GATEHOUSE_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the proxy.
  const nodeArgs = [
    ...(process.env.BENCH_GATEHOUSE_NODE_ARGS ?? '').split(' ').filter(Boolean),
    ...extraNodeArgs,
  ];
  const start = ['start', '--config', config, '--workers', String(workers)];
  const command = [...wrapper, process.execPath, ...nodeArgs, CLI, ...start];
  const child = spawnTracked('gatehouse', command[0], command.slice(1), { cwd: dir, logFile: true });
  await waitReady(child, port, PROBE, { headers }, readyTimeoutMs);
  return { child, headers, headerSets, keys: apiKeys };
}

/** Where a Node.js proxy target (fastify-proxy.mjs, the relays through relay-pair.mjs) listens, forwards and finds its certificates. */
function proxyEnv(certs, port, upstreamPort) {
  return {
    BENCH_PORT: String(port),
    BENCH_UPSTREAM: `https://127.0.0.1:${upstreamPort}`,
    BENCH_UPSTREAM_NAME: upstreamName(certs.serverCert),
    BENCH_CA: certs.caCertPath,
    BENCH_SERVER_CERT: certs.serverCertPath,
    BENCH_SERVER_KEY: certs.serverKeyPath,
    BENCH_CLIENT_CERT: certs.clientCertPath,
    BENCH_CLIENT_KEY: certs.clientKeyPath,
  };
}

/** fastify + @fastify/http-proxy; with `keys`, also the key check and rate limit (fastify-proxy.mjs). */
export async function startFastify(
  dir,
  certs,
  port,
  upstreamPort,
  { keys = null, limit = keys !== null } = {},
) {
  const keysFile = path.join(dir, 'fastify-keys.json');
  if (keys !== null) writeFileSync(keysFile, JSON.stringify(keys));
  const env = {
    ...(keys === null ? {} : { BENCH_KEYS: keysFile }),
    ...(limit ? { BENCH_RATE_LIMIT: '1' } : {}),
    ...process.env,
    ...proxyEnv(certs, port, upstreamPort),
  };
  const script = fileURLToPath(new URL('./fastify-proxy.mjs', import.meta.url));
  const child = spawnTracked('fastify', process.execPath, [script], { cwd: ROOT, env, logFile: true });
  await waitReady(child, port, PROBE, keys === null ? {} : { headers: { 'x-api-key': keys[0].key } });
  return child;
}

/**
 * The floors under any Node.js proxy of this traffic: the bare TLS relay (node-relay.mjs), or with
 * `http` the relay that parses and rebuilds both messages and checks nothing (node-http-relay.mjs).
 */
export async function startNodeRelay(dir, certs, port, upstreamPort, { http = false } = {}) {
  const env = { ...process.env, ...proxyEnv(certs, port, upstreamPort) };
  const script = fileURLToPath(new URL(http ? './node-http-relay.mjs' : './node-relay.mjs', import.meta.url));
  const child = spawnTracked(http ? 'node-http-relay' : 'node-relay', process.execPath, [script], {
    cwd: ROOT,
    env,
    logFile: true,
  });
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
 * The wrk script of a scenario: max(1000, header sets) pre-formatted requests cycled through,
 * request n with header set n (modulo their number): the credentials of --auth, one per key or
 * token, taken in turn.
 */
export function writeScenarioLuaScript(dir, scenario, headerSets = [{}], name = scenario) {
  if (!SCENARIOS.includes(scenario))
    throw new Error(`--scenario ${scenario}: use one of ${SCENARIOS.join(', ')}`);
  const post = scenario.startsWith('transfer');
  const extra = post
    ? {
        'content-type': scenario === 'transfer-raw' ? 'application/octet-stream' : 'application/json',
        'idempotency-key': '0b8f3c1e-6a2d-4f7b-9e1c-5d4a3b2c1f0e',
      }
    : {};
  const table = (headers) =>
    `{ ${Object.entries({ ...headers, ...extra })
      .map(([key, value]) => `[${JSON.stringify(key)}] = ${JSON.stringify(value)}`)
      .join(', ')} }`;
  const prefix = scenario === 'items' ? 'items' : scenario;
  const request = post
    ? `wrk.format("POST", "/${scenario.replace('transfer', 'transfers')}", h, ${JSON.stringify(TRANSFER_BODY)})`
    : `wrk.format("GET", "/${prefix}/" .. ((n - 1) % 1000 + 1), h)`;
  const file = path.join(dir, `${name}.lua`);
  writeFileSync(
    file,
    `local reqs, i = {}, 0
local sets = {
${headerSets.map((h) => `  ${table(h)},`).join('\n')}
}
local count = math.max(1000, #sets)
init = function(args)
  for n = 1, count do
    local h = sets[(n - 1) % #sets + 1]
    reqs[n] = ${request}
  end
end
request = function()
  i = i % count + 1
  return reqs[i]
end
`,
  );
  return file;
}
