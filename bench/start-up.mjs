#!/usr/bin/env node
// How long the CLI takes to start (issue: speed item 4): `gatehouse --help`, `gatehouse
// check-config --offline`, and `gatehouse start` from spawn to its first answered request (an
// authenticated GET forwarded to a plain upstream, with an API key, the access log on). Each is
// run --runs times, one after the other; every run's figure is printed, then the median.
// Usage: npm run build && node bench/start-up.mjs [--runs 5]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { apiKeyItemsApi, cliPath, spawnGatehouse, startPlainUpstream } from './lib/gatehouse-cli.mjs';

const { values: opt } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
const RUNS = Number(opt.runs);
const dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-start-up-'));
const config = path.join(dir, 'gatehouse.yaml');
const upstream = await startPlainUpstream();
writeFileSync(path.join(dir, 'api.yaml'), apiKeyItemsApi('start-up bench'));
writeFileSync(
  config,
  `stateDir: ./state
listeners: [{ name: public, host: 127.0.0.1, port: 0, tls: dev }]
apis:
  - name: bench
    openapi: ./api.yaml
    upstream: { url: 'http://127.0.0.1:${upstream.address().port}' }
log: { level: info, access: true }
`,
);

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const timed = (args) => {
  const started = performance.now();
  execFileSync(process.execPath, [cliPath, ...args], { stdio: 'ignore' });
  return performance.now() - started;
};

/** Spawns `gatehouse start`, then asks for /items/1 every 5 ms until one is answered 200. */
async function firstResponse(key) {
  const started = performance.now();
  const { child, port } = await spawnGatehouse(config);
  try {
    const ca = readFileSync(path.join(dir, 'state/certs/ca.crt'));
    for (;;) {
      const status = await new Promise((resolve) => {
        const req = https.get(
          {
            host: '127.0.0.1',
            port,
            path: '/items/1',
            ca,
            servername: 'localhost',
            headers: { 'x-api-key': key },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode));
          },
        );
        req.on('error', () => resolve(0));
      });
      if (status === 200) return performance.now() - started;
      await sleep(5);
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  }
}

try {
  // The first start makes the certificates and the signing key; the runs below reuse them.
  const key = JSON.parse(
    execFileSync(
      process.execPath,
      [cliPath, 'keys', 'create', '--config', config, '--consumer', 'c', '--json'],
      { encoding: 'utf8' },
    ),
  ).key;
  await firstResponse(key);
  const figures = { help: [], checkConfig: [], firstResponse: [] };
  for (let i = 0; i < RUNS; i += 1) {
    figures.help.push(timed(['--help']));
    figures.checkConfig.push(timed(['check-config', '--offline', '--config', config]));
    figures.firstResponse.push(await firstResponse(key));
  }
  for (const [name, values] of Object.entries(figures)) {
    console.log(
      `${name}: median ${median(values).toFixed(0)} ms (runs: ${values.map((v) => v.toFixed(0)).join(', ')})`,
    );
  }
  console.log(
    `node ${process.versions.node}, load average ${os.loadavg()[0].toFixed(2)} on ${os.cpus().length} CPUs`,
  );
} finally {
  upstream.close();
  rmSync(dir, { recursive: true, force: true });
}
