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
//        [--scenario items|report|…[,…]] [--repeat 1] [--monitoring on|off]
// --monitoring off counts the gateway with metrics, security events and detectors off (journeys and
// access log only): run once each way, alternately, to see what monitoring adds to a request.
// With a list of scenarios (bench/lib/targets.mjs), each is counted --repeat times, alternately,
// in the same process, and each checked one is compared with its -raw twin.
// Needs valgrind and nginx (apt-get install -y valgrind nginx); takes about two minutes.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { parseArgs } from 'node:util';
import { fail, freePorts, onExit, stopAll, which } from './lib/proc.mjs';
import {
  CLI,
  loadCerts,
  SCENARIOS,
  scenarioRequest,
  startGatehouse,
  startUpstream,
  uncheckedTwin,
} from './lib/targets.mjs';

const { values: opt } = parseArgs({
  options: {
    requests: { type: 'string', default: '2000' },
    warmup: { type: 'string', default: '3000' },
    concurrency: { type: 'string', default: '8' },
    auth: { type: 'string', default: 'none' },
    scenario: { type: 'string', default: 'items' },
    repeat: { type: 'string', default: '1' },
    monitoring: { type: 'string', default: 'on' },
  },
});
const [requests, warmup, concurrency, repeat] = [opt.requests, opt.warmup, opt.concurrency, opt.repeat].map(
  Number,
);
const scenarios = [...new Set(opt.scenario.split(',').map((x) => x.trim()))];

/**
 * Sends `count` requests of a scenario over the agent's kept-alive connections; returns how many
 * were not 2xx. The same agent serves warm-up and measurement, so no TLS handshake falls inside
 * the count.
 */
function drive(agent, port, headers, count, scenario) {
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
      const r = scenarioRequest(scenario, (next++ % 1000) + 1, headers);
      const req = https.request(
        { host: '127.0.0.1', port, method: r.method, path: r.path, headers: r.headers, agent },
        (res) => {
          if (res.statusCode < 200 || res.statusCode > 299) bad += 1;
          res.resume();
          res.on('end', settle);
        },
      );
      req.on('error', () => {
        bad += 1;
        settle();
      });
      req.end(r.body ?? undefined);
    };
    for (let i = 0; i < Math.min(concurrency, count); i += 1) send();
  });
}

/** Total instructions of each thread in dump number `dump` of this pid: [main, all others]. */
function countDumps(dir, pid, dump) {
  let main = 0;
  let others = 0;
  for (const file of readdirSync(dir)) {
    const thread = new RegExp(`^cg\\.${pid}\\.${dump}-(\\d+)$`).exec(file);
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
  if (
    ![requests, warmup, concurrency, repeat].every((n) => Number.isInteger(n) && n > 0) ||
    scenarios.some((x) => !SCENARIOS.includes(x)) ||
    !['on', 'off'].includes(opt.monitoring)
  ) {
    throw new Error(
      'usage: node bench/instructions.mjs [--requests N] [--warmup N] [--concurrency N] [--auth none|jwt|key] ' +
        `[--scenario ${SCENARIOS.join('|')}[,…]] [--repeat N] [--monitoring on|off]`,
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
    monitoring: opt.monitoring === 'on',
  });
  const agent = new https.Agent({ keepAlive: true, maxSockets: concurrency, rejectUnauthorized: false });
  let bad = 0;
  for (const scenario of scenarios) bad += await drive(agent, port, headers, warmup, scenario);
  const counts = Object.fromEntries(scenarios.map((x) => [x, []]));
  let dump = 0;
  for (let round = 1; round <= repeat; round += 1) {
    const order = round % 2 === 1 ? scenarios : [...scenarios].reverse();
    for (const scenario of order) {
      execFileSync('callgrind_control', ['--zero', String(child.pid)], { stdio: 'ignore' });
      bad += await drive(agent, port, headers, requests, scenario);
      execFileSync('callgrind_control', ['--dump', String(child.pid)], { stdio: 'ignore' });
      dump += 1;
      const [mainThread, others] = countDumps(tmp, child.pid, dump);
      if (mainThread === 0) throw new Error(`no callgrind dump ${dump} found in ${tmp}`);
      const perRequest = { round, main: mainThread / requests, others: others / requests };
      counts[scenario].push(perRequest);
      const { method, path: at } = scenarioRequest(scenario, '{n}');
      console.log(
        `  round ${round} ${scenario}: ${requests} × ${method} ${at} after ${warmup} warm-up each ` +
          `(auth ${opt.auth}, monitoring ${opt.monitoring}, ${concurrency} connections): main thread ` +
          `${Math.round(perRequest.main).toLocaleString('en')} instructions/request, other threads ` +
          `${Math.round(perRequest.others).toLocaleString('en')}`,
      );
    }
  }
  agent.destroy();
  const median = (xs) => [...xs].sort((x, y) => x - y)[(xs.length - 1) >> 1];
  for (const scenario of scenarios) {
    const main = median(counts[scenario].map((c) => c.main));
    console.log(
      `${scenario}: main thread ${Math.round(main).toLocaleString('en')} instructions/request (median)`,
    );
    const raw = uncheckedTwin(scenario, scenarios);
    if (raw === null) continue;
    const ratios = counts[scenario].map((c) => c.main / counts[raw].find((b) => b.round === c.round).main);
    const pct = (x) => `${x >= 1 ? '+' : ''}${((x - 1) * 100).toFixed(1)}%`;
    console.log(`  over ${raw}: ${pct(median(ratios))} (median; rounds ${ratios.map(pct).join(', ')})`);
  }
  console.log(`answers outside 2xx: ${bad}`);
  await stopAll();
  if (bad > 0) process.exitCode = 1;
  process.exit();
}

main().catch(fail);
