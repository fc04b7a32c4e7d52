#!/usr/bin/env node
// Instructions per proxied request, counted by valgrind's callgrind: a figure that does not move
// with what else the machine is doing (wall-clock CPU on these shared 2-core machines swings ±25%
// between rounds), for comparing two builds of the hot path. Gatehouse runs under callgrind in
// front of the bench upstream (the same nginx and OpenAPI document as `npm run bench`); after a
// warm-up its counters are zeroed, N requests go through it, and the counters are dumped.
// The main thread's count is the figure to compare; other threads are mostly V8's optimizing
// compiler finishing its warm-up (valgrind runs ~50× slower, so it is still compiling) and GC.
// JIT timing still moves the main-thread count by about ±7% between runs: compare medians of 3+.
// Usage: npm run build && node bench/instructions.mjs [--requests 2000] [--warmup 3000] [--auth none|jwt|key]
// Needs valgrind and nginx (apt-get install -y valgrind nginx); takes about two minutes.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { parseArgs } from 'node:util';
import { fail, freePorts, onExit, stopAll, which } from './lib/proc.mjs';
import { CLI, loadCerts, startGatehouse, startUpstream } from './lib/targets.mjs';

const { values: opt } = parseArgs({
  options: {
    requests: { type: 'string', default: '2000' },
    warmup: { type: 'string', default: '3000' },
    concurrency: { type: 'string', default: '8' },
    auth: { type: 'string', default: 'none' },
  },
});
const [requests, warmup, concurrency] = [opt.requests, opt.warmup, opt.concurrency].map(Number);

/**
 * Sends `count` GETs over the agent's kept-alive connections; returns how many were not 200. The
 * same agent serves warm-up and measurement, so no TLS handshake falls inside the count.
 */
function drive(agent, port, headers, count) {
  let next = 0;
  let done = 0;
  let bad = 0;
  return new Promise((resolve) => {
    const settle = () => {
      done += 1;
      if (done === count) resolve(bad);
      else send();
    };
    const send = () => {
      if (next >= count) return;
      const path = `/items/${(next++ % 1000) + 1}`;
      https
        .get({ host: '127.0.0.1', port, path, headers, agent }, (res) => {
          if (res.statusCode !== 200) bad += 1;
          res.resume();
          res.on('end', settle);
        })
        .on('error', () => {
          bad += 1;
          settle();
        });
    };
    for (let i = 0; i < Math.min(concurrency, count); i += 1) send();
  });
}

/** Total instructions of each thread's dump for this pid: [main, all others]. */
function countDumps(dir, pid) {
  let main = 0;
  let others = 0;
  for (const file of readdirSync(dir)) {
    const thread = new RegExp(`^cg\\.${pid}\\.1-(\\d+)$`).exec(file);
    if (thread === null) continue;
    const total = /^(?:summary|totals): (\d+)/m.exec(readFileSync(path.join(dir, file), 'utf8'));
    if (total === null) continue;
    if (Number(thread[1]) === 1) main += Number(total[1]);
    else others += Number(total[1]);
  }
  return [main, others];
}

async function main() {
  for (const tool of ['valgrind', 'callgrind_control', 'nginx']) {
    if (!which(tool)) throw new Error(`${tool} is needed: apt-get install -y valgrind nginx`);
  }
  if (![requests, warmup, concurrency].every((n) => Number.isInteger(n) && n > 0)) {
    throw new Error(
      'usage: node bench/instructions.mjs [--requests N] [--warmup N] [--concurrency N] [--auth none|jwt|key]',
    );
  }
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-instructions-'));
  onExit(() => rmSync(tmp, { recursive: true, force: true }));
  const stateDir = path.join(tmp, 'state');
  const certs = await loadCerts(stateDir);
  const [mtls, direct, port] = await freePorts(3);
  await startUpstream(tmp, certs, { mtls, direct });
  const wrapper = [
    'valgrind',
    '--tool=callgrind',
    '--separate-threads=yes',
    '--smc-check=all-non-file', // V8 writes and rewrites machine code as it runs
    `--callgrind-out-file=${path.join(tmp, 'cg.%p')}`,
  ];
  console.log(`starting ${CLI} under callgrind (a minute or so)…`);
  const { child, headers } = await startGatehouse(tmp, stateDir, port, mtls, {
    auth: opt.auth,
    wrapper,
    readyTimeoutMs: 300_000,
  });
  const agent = new https.Agent({ keepAlive: true, maxSockets: concurrency, rejectUnauthorized: false });
  const warmBad = await drive(agent, port, headers, warmup);
  execFileSync('callgrind_control', ['--zero', String(child.pid)], { stdio: 'ignore' });
  const bad = await drive(agent, port, headers, requests);
  agent.destroy();
  execFileSync('callgrind_control', ['--dump', String(child.pid)], { stdio: 'ignore' });
  const [mainThread, others] = countDumps(tmp, child.pid);
  if (mainThread === 0) throw new Error(`no callgrind dump found in ${tmp}`);
  console.log(
    `${requests} GET /items/{id} after ${warmup} warm-up (auth ${opt.auth}, ${concurrency} connections): ` +
      `main thread ${Math.round(mainThread / requests).toLocaleString('en')} instructions/request, ` +
      `other threads ${Math.round(others / requests).toLocaleString('en')}; non-200 answers: ${warmBad + bad}`,
  );
  await stopAll();
  process.exit(0);
}

main().catch(fail);
