#!/usr/bin/env node
// A key scan from a shared address, and what it costs the valid callers behind the same address
// (issue: hardening item 11a). A scanner sends random, well-formed API keys as fast as its
// connections allow; valid callers on the same address (127.0.0.1: one NAT, one office) keep
// calling with their own keys, each one request every 100 ms. The scan is refused before
// authentication once the address is past `preAuthLimit.failedAuth`; a request presenting a key
// the gateway knows is let through that refusal (src/limits/known-callers.ts).
// Reported: the scanner's answers by status, and the valid callers' success rate and latency,
// for a run without the scan and a run with it, in the same command.
// Gatehouse runs as `gatehouse start` (dist/) with its defaults, in front of a plain upstream.
// Usage: npm run build && node bench/key-scan.mjs [--seconds 10] [--callers 5] [--scanners 32]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { apiKeyItemsApi, cliPath, root, spawnGatehouse, startPlainUpstream } from './lib/gatehouse-cli.mjs';

const { values: opt } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    callers: { type: 'string', default: '5' },
    scanners: { type: 'string', default: '32' },
  },
});
const SECONDS = Number(opt.seconds);
const { generateApiKey } = await import(path.join(root, 'dist/auth/keys/key-format.js'));
const dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-key-scan-'));
const upstream = await startPlainUpstream();

writeFileSync(path.join(dir, 'api.yaml'), apiKeyItemsApi('key scan bench'));
writeFileSync(
  path.join(dir, 'gatehouse.yaml'),
  `stateDir: ./state
listeners: [{ name: public, host: 127.0.0.1, port: 0, tls: dev }]
apis:
  - name: bench
    openapi: ./api.yaml
    upstream: { url: 'http://127.0.0.1:${upstream.address().port}' }
log: { level: info, access: false }
`,
);
const cli = (args) =>
  execFileSync(process.execPath, [cliPath, ...args, '--config', path.join(dir, 'gatehouse.yaml')], {
    encoding: 'utf8',
  });
const keys = Array.from(
  { length: Number(opt.callers) },
  (_, i) => JSON.parse(cli(['keys', 'create', '--consumer', `caller-${i}`, '--json'])).key,
);

const { child, port } = await spawnGatehouse(path.join(dir, 'gatehouse.yaml'));
const ca = readFileSync(path.join(dir, 'state/certs/ca.crt'));

/** One GET with this key on a kept-alive connection of `agent`: its status (0 when it failed) and milliseconds. */
function call(agent, key) {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path: '/items/1',
        agent,
        ca,
        servername: 'localhost',
        headers: { 'x-api-key': key },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - started }));
      },
    );
    req.on('error', () => resolve({ status: 0, ms: performance.now() - started }));
    req.setTimeout(5000, () => req.destroy());
    req.end();
  });
}

const quantile = (sorted, q) =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const tally = (statuses) => {
  const counts = {};
  for (const status of statuses) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
};

async function run(label, scanners) {
  const until = performance.now() + SECONDS * 1000;
  const scanAgent = new https.Agent({ keepAlive: true, maxSockets: Math.max(1, scanners) });
  const callerAgent = new https.Agent({ keepAlive: true, maxSockets: keys.length });
  const scanned = [];
  const responded = [];
  const scan = Array.from({ length: scanners }, async () => {
    while (performance.now() < until) scanned.push((await call(scanAgent, generateApiKey('live'))).status);
  });
  const callers = keys.map(async (key) => {
    while (performance.now() < until) {
      const next = performance.now() + 100;
      responded.push(await call(callerAgent, key));
      await sleep(Math.max(0, next - performance.now()));
    }
  });
  await Promise.all([...scan, ...callers]);
  scanAgent.destroy();
  callerAgent.destroy();
  const ok = responded.filter((a) => a.status === 200).length;
  const ms = responded.map((a) => a.ms).sort((a, b) => a - b);
  console.log(
    `${label}: valid callers ${ok} of ${responded.length} answered 200 (${((100 * ok) / responded.length).toFixed(1)}%), ` +
      `p50 ${quantile(ms, 0.5).toFixed(1)} ms, p99 ${quantile(ms, 0.99).toFixed(1)} ms, statuses ${JSON.stringify(tally(responded.map((a) => a.status)))}` +
      (scanners > 0
        ? `; scanner ${scanned.length} requests on ${scanners} connections (${(scanned.length / SECONDS).toFixed(0)}/s), statuses ${JSON.stringify(tally(scanned))}`
        : ''),
  );
}

try {
  await sleep(500);
  await run(`${keys.length} valid callers alone for ${SECONDS} s`, 0);
  await run(`the same, while a key scan runs from their address`, Number(opt.scanners));
} finally {
  child.kill('SIGTERM');
  upstream.close();
  rmSync(dir, { recursive: true, force: true });
}
