#!/usr/bin/env node
// What a reload costs requests in flight (issue: reloads stalled the gateway ~0.4–0.5 s each).
// Gatehouse runs as `gatehouse start` in front of the Notes example (examples/notes, a sidecar
// on loopback); this process sends GET /health at a fixed rate (open loop: a request leaves on
// schedule whether or not the previous one was answered) and records each latency, in three
// phases: no reload, a SIGHUP every 2 s with only the configuration changed, and a SIGHUP every
// 2 s with the document changed too (an overlay action rewritten, so it is validated again).
// Usage: npm run build && node bench/reloads.mjs [--rate 150] [--seconds 20]
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { clearInterval, setInterval } from 'node:timers';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { startNotesService } from '../examples/notes/service.mjs';

const { values: opt } = parseArgs({
  options: { rate: { type: 'string', default: '150' }, seconds: { type: 'string', default: '20' } },
});
const rate = Number(opt.rate);
const seconds = Number(opt.seconds);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-reloads-'));
const secret = randomBytes(32).toString('base64url');
const notes = await startNotesService({ secret });

for (const file of ['openapi.yaml', 'notes.overlay.yaml']) {
  copyFileSync(path.join(root, 'examples/notes', file), path.join(dir, file));
}
const configFile = path.join(dir, 'gatehouse.yaml');
const shipped = readFileSync(path.join(root, 'examples/notes/gatehouse.yaml'), 'utf8')
  .replace('stateDir: ../../.gatehouse/notes', 'stateDir: ./state')
  .replace('port: 8443', 'port: 0')
  .replace('url: http://127.0.0.1:8081', `url: ${notes.url}`);
const writeConfig = (limit) => writeFileSync(configFile, shipped.replace('limit: 300,', `limit: ${limit},`));
const overlay = readFileSync(path.join(dir, 'notes.overlay.yaml'), 'utf8');
const writeOverlay = (n) =>
  writeFileSync(
    path.join(dir, 'notes.overlay.yaml'),
    `${overlay}\n  - target: $.info\n    update: { description: 'revision ${n}' }\n`,
  );
writeConfig(100_000);
writeOverlay(0);

const child = spawn(process.execPath, [path.join(root, 'dist/cli.js'), 'start', '--config', configFile], {
  env: { ...process.env, NOTES_JWT_SECRET: secret },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const port = await new Promise((resolve, reject) => {
  let out = '';
  child.stdout.on('data', (chunk) => {
    if (out.length > 100_000) return; // the access log follows: read, not kept
    out += chunk;
    const match = /"url":"https:\/\/127\.0\.0\.1:(\d+)"/.exec(out);
    if (match) resolve(Number(match[1]));
  });
  child.once('exit', (code) => reject(new Error(`gatehouse exited (${code}): ${out}`)));
});
const ca = readFileSync(path.join(dir, 'state/certs/ca.crt'));
const agent = new Agent({ connect: { ca }, connections: 64 });

async function phase(name, reload, quiet = false) {
  const latencies = [];
  let failures = 0;
  const started = performance.now();
  const total = rate * seconds;
  const inflight = [];
  let reloads = 0;
  const reloader =
    reload === null
      ? null
      : setInterval(() => {
          reloads += 1;
          reload(reloads);
          child.kill('SIGHUP');
        }, 2000);
  for (let i = 0; i < total; i += 1) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    inflight.push(
      request(`https://127.0.0.1:${port}/health`, { dispatcher: agent }).then(
        async (res) => {
          await res.body.text();
          if (res.statusCode !== 200) failures += 1;
          // From when it was due: a request held up behind a stall counts its wait.
          latencies.push(performance.now() - due);
        },
        () => (failures += 1),
      ),
    );
  }
  await Promise.all(inflight);
  if (reloader !== null) clearInterval(reloader);
  if (quiet) return;
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))].toFixed(1);
  console.log(
    `${name.padEnd(38)} requests ${latencies.length}  failed ${failures}  reloads ${reloads}  ` +
      `p50 ${at(0.5)} ms  p99 ${at(0.99)} ms  max ${latencies.at(-1).toFixed(1)} ms`,
  );
}

try {
  await sleep(1000);
  console.log(`GET /health at ${rate}/s for ${seconds} s per phase, latency from the scheduled send`);
  await phase('warm-up (not reported)', null, true);
  await phase('no reload', null);
  await phase('reload every 2 s, configuration only', (n) => writeConfig(100_000 + n));
  await phase('reload every 2 s, document changed too', (n) => {
    writeConfig(200_000 + n);
    writeOverlay(n);
  });
} finally {
  child.kill('SIGTERM');
  await agent.close();
  await notes.close();
  rmSync(dir, { recursive: true, force: true });
}
