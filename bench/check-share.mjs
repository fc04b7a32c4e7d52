#!/usr/bin/env node
// What the contract checks add to the gateway's CPU per request, from the gateway's own samples:
// perf samples the Gatehouse process (all its threads, user and kernel time) while it serves one
// scenario at a fixed rate, and counts the samples whose call stack passes through the check.
// The check's work and everything else the process does for the same requests are sampled
// together, so the ratio does not move with how fast this shared machine happens to be (wall-
// clock CPU per request swings ±40% between rounds here; this ratio moves by about a point).
//
// For a share s of the samples, the check adds s / (1 - s) to the CPU of the rest of the path.
//   report, report-leaky  the response check: checkResponseBody and what it calls (the
//                          WebAssembly scanner among it), over the 2 KB answer
//   transfer               the validate stage (validateRequest): the Idempotency-Key header, the
//                          Content-Type, the bounded JSON parse and the schema of the transfer body
//   transfer-body          the same stage where the operation declares the body only
// Their -raw twins are sampled the same way, as a control: the same frames there should be
// (nearly) absent.
//
// V8 may compile a small function into its caller (inlining): its samples then carry the
// caller's name. The report lists each checked scenario's innermost JavaScript frames, so a
// check that vanished into its caller would show there.
//
// Usage: npm run build && node bench/check-share.mjs [--scenario report,transfer,…] [--rate 3000]
//        [--seconds 5] [--warmup 3] [--rounds 3] [--connections 16] [--top 8]
// Needs perf, nginx, a C compiler and OpenSSL headers (apt-get install -y linux-perf nginx gcc libssl-dev).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openLoop } from './lib/openloop.mjs';
import { fail, freePorts, onExit, stopAll, which } from './lib/proc.mjs';
import { loadCerts, SCENARIOS, scenarioOpenLoop, startGatehouse, startUpstream } from './lib/targets.mjs';

const { values: opt } = parseArgs({
  options: {
    scenario: {
      type: 'string',
      default: 'report-raw,report,report-leaky,transfer-raw,transfer-body,transfer',
    },
    rate: { type: 'string', default: '3000' },
    seconds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '16' },
    frequency: { type: 'string', default: '1999' },
    top: { type: 'string', default: '8' },
  },
});
const [rate, seconds, warmup, rounds, connections, frequency] = [
  opt.rate,
  opt.seconds,
  opt.warmup,
  opt.rounds,
  opt.connections,
  opt.frequency,
].map(Number);
const scenarios = [...new Set(opt.scenario.split(',').map((x) => x.trim()))];

/** The frames of each check, by the name perf has for them (--perf-basic-prof: "JS:*name file:…"). */
const RESPONSE_CHECK = [
  /^JS:[*~^]?checkResponseBody /,
  /^JS:[*~^]?filterResponseBytes(InScript)? /,
  /^JS:[*~^]?filterInModule /,
  /^JS:[*~^]?filter .*json-wasm\.js/,
  /^JS:[*~^]?cutOut /,
  /^JS:wasm-function\[/,
];
const REQUEST_CHECK = [/^JS:[*~^]?validateRequest /];

function checkFrames(scenario) {
  return scenario.startsWith('transfer') ? REQUEST_CHECK : RESPONSE_CHECK;
}

/** The samples of a perf.data file, each as its call stack (innermost frame first). */
function samplesOf(file) {
  const text = execFileSync('perf', ['script', '-i', file, '-F', 'tid,ip,sym'], {
    maxBuffer: 1 << 30,
    stdio: ['ignore', 'pipe', 'ignore'],
  }).toString();
  const samples = [];
  let stack = null;
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      if (stack !== null) samples.push(stack);
      stack = null;
    } else if (stack === null) stack = [];
    else stack.push(line.trim().replace(/^[0-9a-f]+ /, ''));
  }
  if (stack !== null) samples.push(stack);
  return samples;
}

/**
 * Share of the samples that pass through the check; the innermost frames of those that do (any
 * frame) and of those that do not (JavaScript frames).
 */
function shareOf(samples, frames) {
  let inside = 0;
  const innermost = new Map();
  const within = new Map();
  const count = (map, name) => map.set(name, (map.get(name) ?? 0) + 1);
  const short = (frame) => frame.replace(/ file:\/\/\S*\/(dist|node_modules)\//, ' $1/');
  for (const stack of samples) {
    if (stack.some((frame) => frames.some((re) => re.test(frame)))) {
      inside += 1;
      count(within, short(stack[0] ?? '(empty stack)'));
      continue;
    }
    count(innermost, short(stack.find((frame) => frame.startsWith('JS:')) ?? '(no JavaScript frame)'));
  }
  return { inside, total: samples.length, innermost, within };
}

function startPerf(pid, file) {
  const perf = spawn(
    'perf',
    ['record', '-e', 'cpu-clock', '-F', String(frequency), '-g', '-p', String(pid), '-o', file],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  perf.stderr.on('data', (d) => (err += d));
  const done = new Promise((resolve, reject) =>
    perf.on('close', (code) =>
      code === 0 || code === null ? resolve() : reject(new Error(`perf record: ${err}`)),
    ),
  );
  return { stop: () => (perf.kill('SIGINT'), done) };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (x) => `${(100 * x).toFixed(1)}%`;

async function main() {
  for (const tool of ['perf', 'nginx']) {
    if (!which(tool)) throw new Error(`${tool} is needed: apt-get install -y linux-perf nginx`);
  }
  if (
    ![rate, seconds, warmup, rounds, connections, frequency].every((n) => Number.isFinite(n) && n > 0) ||
    scenarios.some((x) => !SCENARIOS.includes(x) || x === 'items')
  ) {
    throw new Error(
      'usage: node bench/check-share.mjs [--scenario report-raw,report,report-leaky,transfer-raw,transfer-body,transfer] ' +
        '[--rate N] [--seconds N] [--warmup N] [--rounds N] [--connections N] [--frequency Hz] [--top N]',
    );
  }
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-check-share-'));
  onExit(() => rmSync(tmp, { recursive: true, force: true }));
  const stateDir = path.join(tmp, 'state');
  const certs = await loadCerts(stateDir);
  const [mtls, direct, port] = await freePorts(3);
  await startUpstream(tmp, certs, { mtls, direct });
  const { child, headers } = await startGatehouse(tmp, stateDir, port, mtls, {
    nodeArgs: ['--perf-basic-prof'],
  });
  onExit(() => rmSync(`/tmp/perf-${child.pid}.map`, { force: true }));
  console.log(
    `perf samples of the gateway (pid ${child.pid}) at ${rate} req/s, ${seconds} s per scenario and round ` +
      `after ${warmup} s of warm-up, ${connections} connections, ${frequency} Hz`,
  );
  const results = Object.fromEntries(scenarios.map((x) => [x, []]));
  const innermost = Object.fromEntries(scenarios.map((x) => [x, new Map()]));
  const within = Object.fromEntries(scenarios.map((x) => [x, new Map()]));
  for (let round = 1; round <= rounds; round += 1) {
    const order = round % 2 === 1 ? scenarios : [...scenarios].reverse();
    for (const scenario of order) {
      const file = path.join(tmp, `${scenario}-${round}.data`);
      const request = scenarioOpenLoop(scenario, headers);
      let perf = null;
      const run = await openLoop({
        port,
        rate,
        seconds,
        warmupSeconds: warmup,
        connections,
        headers: request.headers,
        request,
        onMeasure: (at) => {
          if (at === 'start') perf = startPerf(child.pid, file);
        },
      });
      await perf?.stop();
      const samples = samplesOf(file);
      rmSync(file, { force: true });
      const bad = run.errors + (run.non2xx ?? 0);
      if (run.aborted || samples.length === 0) {
        console.log(`  round ${round} ${scenario.padEnd(13)} overloaded at ${rate} req/s: not counted`);
        continue;
      }
      const share = shareOf(samples, checkFrames(scenario));
      results[scenario].push(share.inside / share.total);
      for (const [name, n] of share.innermost)
        innermost[scenario].set(name, (innermost[scenario].get(name) ?? 0) + n);
      for (const [name, n] of share.within) within[scenario].set(name, (within[scenario].get(name) ?? 0) + n);
      console.log(
        `  round ${round} ${scenario.padEnd(13)} ${share.inside} of ${share.total} samples in the check = ` +
          `${pct(share.inside / share.total)}${bad > 0 ? `  (${bad} errors or non-2xx answers)` : ''}`,
      );
    }
  }
  console.log('\nwhat each check adds to the CPU of the rest of the path (s / (1 - s), median of rounds):');
  const adds = (shares) => {
    const s = median(shares);
    return `share ${pct(s)} → adds ${pct(s / (1 - s))}  (rounds ${shares.map(pct).join(', ')})`;
  };
  for (const scenario of scenarios) {
    if (results[scenario].length === 0) continue;
    console.log(`  ${scenario.padEnd(13)} ${adds(results[scenario])}`);
  }
  const top = (title, maps) => {
    console.log(`\n${title}`);
    for (const scenario of scenarios.filter((x) => !x.endsWith('-raw'))) {
      const total = [...maps[scenario].values()].reduce((a, b) => a + b, 0);
      console.log(`  ${scenario}:`);
      for (const [name, n] of [...maps[scenario]].sort((a, b) => b[1] - a[1]).slice(0, Number(opt.top)))
        console.log(`    ${pct(n / total).padStart(6)}  ${name.slice(0, 110)}`);
    }
  };
  top('inside the check, by innermost frame (the --top first of each checked scenario):', within);
  top(
    'outside the check, by innermost JavaScript frame (the --top first of each checked scenario):',
    innermost,
  );
}

main()
  .catch(fail)
  .finally(() => stopAll());
