#!/usr/bin/env node
// Transfers per second straight at the bank (no gateway): `node dist/bank/main.js` as a child
// process, 64 concurrent mTLS clients (kept-alive connections) each posting transfers with a
// fresh Idempotency-Key and a gateway-style identity assertion, then the ledger checked.
// Usage: npm run build && node bench/bank-transfers.mjs [--db sqlite|postgres] [--duration 10]
//        [--clients 64] [--accounts 64] [--hot]   (--hot: every client pays from one account)
//        [--through-gateway]   (clients call Gatehouse with API keys; Gatehouse calls the bank)
// PostgreSQL: DATABASE_URL must be set; the run uses its own schema and drops it after.
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { Agent, request } from 'undici';
import { cpuSeconds } from './lib/proc.mjs';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const dist = (p) => path.join(root, 'dist', p);
const { ensureDevCertificates } = await import(dist('tls/dev-certs.js'));
const { openBankStore } = await import(dist('bank/store/open-store.js'));
const { dropBankSchema } = await import(dist('bank/store/postgres-store.js'));
const { seedUsers } = await import(dist('bank/seed.js'));
const { isLedgerSound } = await import(dist('bank/store/store.js'));

const { values: opt } = parseArgs({
  options: {
    db: { type: 'string', default: 'sqlite' },
    duration: { type: 'string', default: '10' },
    clients: { type: 'string', default: '64' },
    accounts: { type: 'string', default: '64' },
    hot: { type: 'boolean', default: false },
    'through-gateway': { type: 'boolean', default: false },
  },
});
const seconds = Number(opt.duration);
const clients = Number(opt.clients);
const accountCount = Number(opt.accounts);
const viaGateway = opt['through-gateway'];
// Through the gateway, the bank trusts the gateway's own signing keys and default issuer.
const ISSUER = viaGateway ? 'urn:gatehouse' : 'urn:gatehouse:bench';

try {
  execFileSync('pgrep', ['-x', 'wrk']);
  console.error('another benchmark (wrk) is running: try again when it is done');
  process.exit(2);
} catch {
  /* pgrep exits 1 when nothing matches: free to run */
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bank-bench-'));
const stateDir = path.join(dir, 'state');
const certs = await ensureDevCertificates(stateDir);
const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
const kid = randomUUID();
const { loadSigningKeyRing } = await import(dist('auth/signing/signing-keys.js'));
writeFileSync(
  path.join(dir, 'gateway.json'),
  JSON.stringify(
    viaGateway
      ? { keys: [...(await loadSigningKeyRing([], stateDir, 120)).jwks.keys] }
      : { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256' }] },
  ),
);

let database;
if (opt.db === 'postgres') {
  if (!process.env.DATABASE_URL) throw new Error('--db postgres needs DATABASE_URL');
  database = {
    kind: 'postgres',
    url: process.env.DATABASE_URL,
    schema: `bank_bench_${randomBytes(4).toString('hex')}`,
    poolSize: 16,
  };
} else {
  database = { kind: 'sqlite', path: path.join(dir, 'bank.db') };
}

const cleanup = async () => {
  if (database.kind === 'postgres')
    await dropBankSchema(database.url, database.schema).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
};

// Seed with a cheap password hash: logins are not what this measures.
const seeding = await openBankStore(database);
const users = await seedUsers(
  seeding,
  Array.from({ length: accountCount }, (_, i) => ({
    username: `bench${i}`,
    role: 'customer',
    accounts: [
      { name: 'Main', currency: 'EUR', openingBalance: 1_000_000_000, dailyOutgoingLimit: 1_000_000_000_000 },
    ],
  })),
  { passwordHashing: { memoryCost: 1024, timeCost: 1, parallelism: 1 } },
);
await seeding.close();

const env = {
  PATH: process.env.PATH,
  BANK_STATE_DIR: stateDir,
  BANK_PORT: '0',
  BANK_GATEWAY_KEYS: path.join(dir, 'gateway.json'),
  BANK_GATEWAY_ISSUER: ISSUER,
  BANK_AUDIENCE: 'bank',
  BANK_LOG_LEVEL: 'silent',
  ...(database.kind === 'sqlite'
    ? { BANK_SQLITE_PATH: database.path }
    : { DATABASE_URL: database.url, BANK_DATABASE_SCHEMA: database.schema }),
};
// BANK_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the bank process.
const nodeArgs = (process.env.BANK_NODE_ARGS ?? '').split(' ').filter(Boolean);
const bank = spawn(process.execPath, [...nodeArgs, dist('bank/main.js'), 'serve'], {
  env,
  stdio: ['ignore', 'pipe', 'inherit'],
});
const url = await new Promise((resolve, reject) => {
  bank.once('exit', (code) => reject(new Error(`bank exited with ${code}`)));
  createInterface({ input: bank.stdout }).on('line', (line) => {
    const event = JSON.parse(line);
    if (event.event === 'listening') resolve(event.url);
  });
});

// One assertion per user, reused for the run, as the gateway reuses one per caller.
const assertions = await Promise.all(
  users.map((user) =>
    new SignJWT({
      consumer: user.id,
      scope: 'accounts:read transfers:write',
      roles: [],
      cred: { kind: 'api-key', id: 'bench', iss: null },
    })
      .setProtectedHeader({ alg: 'ES256', kid, typ: 'gatehouse-identity+jwt' })
      .setIssuer(ISSUER)
      .setAudience('bank')
      .setSubject(user.id)
      .setJti(randomUUID())
      .setIssuedAt()
      .setExpirationTime('60s')
      .sign(privateKey),
  ),
);

const gateway = viaGateway ? await startGatehouse(url) : null;
const target = gateway?.url ?? url;
const credentials = gateway?.apiKeys ?? assertions;
const credentialHeader = gateway === null ? 'gatehouse-identity' : 'x-api-key';

const agent = new Agent({
  connect: { ca: certs.caCert, cert: certs.clientCert, key: certs.clientKey },
  connections: clients,
  pipelining: 1,
});
const statuses = new Map();
const latencies = [];
let measuring = false;
let stop = false;

async function client(index) {
  let n = 0;
  while (!stop) {
    const from = opt.hot ? 0 : index % users.length;
    const to = (from + 1 + (n++ % (users.length - 1))) % users.length;
    const started = performance.now();
    const res = await request(`${target}/accounts/${users[from].accounts[0]}/transfer`, {
      dispatcher: agent,
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'idempotency-key': randomUUID(),
        [credentialHeader]: credentials[from],
      },
      body: JSON.stringify({ toAccountId: users[to].accounts[0], amount: 1 + (n % 500), currency: 'EUR' }),
    });
    await res.body.dump();
    if (measuring) {
      latencies.push(performance.now() - started);
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
    }
  }
}

try {
  const running = Array.from({ length: clients }, (_, i) => client(i));
  await new Promise((r) => setTimeout(r, 1500)); // warm-up: handshakes, statement caches
  const cpuBefore = cpuSeconds(bank.pid);
  const gatewayCpuBefore = gateway === null ? 0 : cpuSeconds(gateway.process.pid);
  measuring = true;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  measuring = false;
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(bank.pid) - cpuBefore;
  const gatewayCpu = gateway === null ? 0 : cpuSeconds(gateway.process.pid) - gatewayCpuBefore;
  stop = true;
  await Promise.all(running);
  const made = statuses.get(201) ?? 0;
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))].toFixed(1);

  const store = await openBankStore(database);
  const report = await store.checkLedger();
  await store.close();
  const summary = {
    db: database.kind,
    clients,
    accounts: opt.hot ? 1 : users.length,
    seconds: Number(elapsed.toFixed(1)),
    transfersPerSecond: Math.round(made / elapsed),
    statuses: Object.fromEntries(statuses),
    latencyMs: { p50: pct(0.5), p90: pct(0.9), p99: pct(0.99) },
    path: gateway === null ? 'direct to the bank' : 'through Gatehouse (API keys)',
    bankCpuUsPerTransfer: made > 0 ? Math.round((cpu / made) * 1e6) : null,
    gatewayCpuUsPerTransfer: gateway !== null && made > 0 ? Math.round((gatewayCpu / made) * 1e6) : null,
    ledger: {
      sound: isLedgerSound(report),
      transfers: report.transfers,
      total: report.totalBalance,
      opening: report.openingTotal,
    },
  };
  console.log(JSON.stringify(summary, null, 2));
  if (!summary.ledger.sound || report.totalBalance !== report.openingTotal) process.exitCode = 1;
} finally {
  gateway?.process.kill('SIGTERM');
  bank.kill('SIGTERM');
  await new Promise((r) => bank.once('exit', r));
  await agent.close();
  await cleanup();
}

/**
 * Gatehouse in front of the bank (`dist/cli.js start`), sharing the state folder (dev CA, the
 * signing key the bank trusts), with one full API key per bench user created in its key store.
 */
async function startGatehouse(bankUrl) {
  const { loadConfig } = await import(dist('config/index.js'));
  const { openKeyStore, KeyLifecycle } = await import(dist('auth/keys/index.js'));
  const configFile = path.join(dir, 'gatehouse.yaml');
  writeFileSync(
    configFile,
    `stateDir: ${stateDir}
listeners: [ { name: public, host: 127.0.0.1, port: 0, tls: dev } ]
apis:
  - name: bank
    openapi: ${path.join(root, 'src/bank/openapi.yaml')}
    upstream: { url: "${bankUrl}", tls: dev, connections: ${clients} }
log: { level: info, access: true, destination: stdout }
`,
  );
  const config = await loadConfig(configFile);
  const store = await openKeyStore(config.keys, null);
  const lifecycle = new KeyLifecycle(store, async () => undefined);
  const apiKeys = [];
  for (const user of users) {
    const created = await lifecycle.create({
      consumer: user.id,
      scopes: ['accounts:read', 'transfers:write'],
      env: 'test',
      lifetimeMs: null,
    });
    apiKeys.push(created.key);
  }
  await store.close();
  const child = spawn(process.execPath, [dist('cli.js'), 'start', '--config', configFile], {
    env: { PATH: process.env.PATH },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const gatewayUrl = await new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`gatehouse exited with ${code}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const match = /"url":"(https:[^"]+)"/.exec(line);
      if (match !== null) resolve(match[1]);
    });
  });
  return { url: gatewayUrl, apiKeys, process: child };
}
