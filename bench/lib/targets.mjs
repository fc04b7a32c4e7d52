// The upstream and the four targets: config files written into the run's temp dir, processes
// started with spawnTracked, each proven end to end (GET /items/42 → 200) before it is measured.
import { mkdirSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
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
    }
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

export async function startGatehouse(dir, stateDir, port, upstreamPort) {
  writeFileSync(
    path.join(dir, 'openapi.yaml'),
    `openapi: 3.1.0
info: { title: bench, version: 1.0.0 }
paths:
  /items/{id}:
    get:
      operationId: getItem
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
`,
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
`,
  );
  // BENCH_GATEHOUSE_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the proxy.
  const nodeArgs = (process.env.BENCH_GATEHOUSE_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawnTracked('gatehouse', process.execPath, [...nodeArgs, CLI, 'start', '--config', config], {
    cwd: dir,
    logFile: true,
  });
  await waitReady(child, port, PROBE);
  return child;
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
