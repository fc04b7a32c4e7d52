#!/usr/bin/env node
// Gatehouse benchmark, by default in the configuration a user deploys: every request carries one
// of --keys API keys, and each proxy checks it. The same upstream is measured directly (a),
// behind nginx with a key map and limit_req (b), behind Gatehouse with every check on (c: the key,
// a per-principal rate limit in memory, path validation, the response contract, the identity
// assertion, the access log), behind fastify + @fastify/http-proxy + @fastify/rate-limit + a key
// check (d), and behind the same Gatehouse with the Redis limiter (r) and with JWTs, more distinct
// tokens than its cache holds (j), and with --workers 2 (w); optionally monitoring off (e); and the
// bare Node.js TLS relay (n), which copies bytes both ways and checks nothing: the floor under any
// Node.js proxy of this traffic, so what c's HTTP handling and checks cost shows; and the Node.js
// HTTP relay (h), which parses and rebuilds both messages with llhttp and checks nothing: the
// floor under any Node.js proxy that reads HTTP, so what c's pipeline and checks cost shows. Interleaved
// wrk rounds, CPU time of each proxy's process tree from /proc; then Gatehouse's p99 at half its
// peak (open loop), its RSS after a million requests, and the CLI's start-up times.
// Usage: npm run bench -- [--rounds 5] [--duration 5] [--warmup 2] [--connections 64]
//        [--only a,b,n,h,c,d,r,j,w[,e]] [--auth key|jwt|none] [--keys 8] [--tokens 20000]
//        [--limiter memory|none] [--workers 2] [--start-up-runs 3] [--million]
//        [--scenario items|transfer|transfer-body|transfer-raw|report|report-leaky|report-raw]  (bench/lib/targets.mjs)
//        --auth none measures the old, unchecked path (the operation public, b and d plain proxies).
//        A list (--scenario report-raw,report) runs the scenarios alternately against the same
//        processes; for c, each checked scenario is then compared with its -raw twin round by round,
//        at each scenario's peak (wrk) and at one fixed rate for all (open loop).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { parseArgs } from 'node:util';
import { cpuSeconds, fail, freePorts, onExit, rssMb, runToEnd, stopAll, which } from './lib/proc.mjs';
import { runWrk } from './lib/wrk.mjs';
import { buildOpenLoop, openLoop } from './lib/openloop.mjs';
import {
  CLI,
  expectChecked,
  loadCerts,
  redisUrl,
  SCENARIOS,
  scenarioOpenLoop,
  startFastify,
  startGatehouse,
  startNginxProxy,
  startNodeRelay,
  startUpstream,
  uncheckedTwin,
  writeScenarioLuaScript,
} from './lib/targets.mjs';

const { values: opt } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '64' },
    only: { type: 'string', default: 'a,b,n,h,c,d,r,j,w' },
    // Credential on every request, checked by every proxy: key (API keys), jwt (c: bearer tokens), none.
    auth: { type: 'string', default: 'key' },
    keys: { type: 'string', default: '8' },
    tokens: { type: 'string', default: '20000' },
    // The rate limit of c, e, j and w (r is always Redis); b and d limit when it is not none.
    limiter: { type: 'string', default: 'memory' },
    workers: { type: 'string', default: '2' },
    'start-up-runs': { type: 'string', default: '3' },
    // Run c up to a million requests served in all, then read its RSS.
    million: { type: 'boolean', default: true },
    // What every request is (bench/lib/targets.mjs SCENARIOS): items, transfer, report, …, or a list.
    scenario: { type: 'string', default: 'items' },
  },
  allowNegative: true,
});
const rounds = Number(opt.rounds);
const duration = Number(opt.duration);
const warmup = Number(opt.warmup);
const connections = Number(opt.connections);
const only = [...new Set(opt.only.split(',').map((s) => s.trim()))];
const keyCount = Number(opt.keys);
const tokenCount = Number(opt.tokens);
const workers = Number(opt.workers);
const startUpRuns = Number(opt['start-up-runs']);
const gatehouses = ['c', 'e', 'r', 'j', 'w'];
/** Whether b and d do the deployed work too: a key check (with --auth key) and a rate limit. */
const peersChecked = opt.auth === 'key';
const NAMES = {
  a: 'upstream direct',
  b: peersChecked ? 'nginx: key map, limit_req' : 'nginx proxy',
  c: 'gatehouse',
  d: peersChecked ? 'fastify: key, rate-limit' : 'fastify+http-proxy',
  e: 'gatehouse, monitoring off',
  r: 'gatehouse, Redis limiter',
  j: `gatehouse, ${opt.tokens} JWTs`,
  w: `gatehouse, ${opt.workers} workers`,
  n: 'Node.js TLS relay, no HTTP',
  h: 'Node.js HTTP relay, no checks',
};
const scenarios = [...new Set(opt.scenario.split(',').map((s) => s.trim()))];
const firstWarmup = Math.max(warmup, 5); // JIT and connection pools get warm before round 1

const fmt = (n, digits) => (Number.isFinite(n) ? n.toFixed(digits) : '—');
const hasErrors = (s) => s.non2xx > 0 || s.socketErrors > 0;
function median(xs) {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
/** A ratio as a change: 1.043 → "+4.3%". */
const pct = (x) => `${x >= 1 ? '+' : ''}${fmt((x - 1) * 100, 1)}%`;

function spread(rs, key, digits) {
  const xs = rs.map((r) => r[key]);
  const [med, min, max] = [median(xs), Math.min(...xs), Math.max(...xs)];
  return { median: med, min, max, text: `${fmt(med, digits)} (${fmt(min, digits)}–${fmt(max, digits)})` };
}

/** Whether Redis answers PING at REDIS_URL (target r needs it). */
function redisReplies(url) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port || 6379) });
    const done = (ok) => (socket.destroy(), resolve(ok));
    socket.setTimeout(2000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

/** The pid of the redis-server on this machine (the one REDIS_URL names, when it is local), or null. */
function redisServerPid() {
  const port = new URL(redisUrl()).port || '6379';
  const found = spawnSync('pgrep', ['-f', `redis-server .*:${port}`])
    .stdout.toString()
    .trim()
    .split('\n')[0];
  return found ? Number(found) : null;
}

async function preflight() {
  const usage =
    'usage: node bench/run.mjs [--rounds N] [--duration S] [--warmup S] [--connections N] [--only a,b,n,h,c,d,r,j,e,w] ' +
    '[--auth key|jwt|none] [--keys N] [--tokens N] [--limiter memory|none] [--workers N] [--start-up-runs N] [--no-million] [--scenario S[,S…]]';
  const positive = [rounds, duration, connections, keyCount, tokenCount, workers].every(
    (n) => Number.isInteger(n) && n > 0,
  );
  const known = only.every((t) => NAMES[t]) && ['key', 'jwt', 'none'].includes(opt.auth);
  if (
    !known ||
    !positive ||
    !(warmup >= 0) ||
    !['memory', 'none'].includes(opt.limiter) ||
    !(startUpRuns >= 0)
  ) {
    console.error(usage);
    process.exit(2);
  }
  if (scenarios.some((x) => !SCENARIOS.includes(x))) {
    console.error(`--scenario: use one or more of ${SCENARIOS.join(', ')}, separated by commas`);
    process.exit(2);
  }
  if (!which('nginx') || !which('wrk')) {
    console.error('nginx and wrk are needed; install them with: apt-get install -y nginx wrk gcc libssl-dev');
    process.exit(1);
  }
  if (only.includes('c')) {
    // The half-peak latency check compiles its C generator: fail now, not after the wrk rounds.
    try {
      buildOpenLoop();
    } catch (err) {
      console.error(err.message);
      process.exit(1);
    }
  }
  if (only.some((t) => gatehouses.includes(t)) && !existsSync(CLI)) {
    console.error(
      `${CLI} is missing: run \`npm run build\` first (or leave the Gatehouse targets out: --only a,b,d)`,
    );
    process.exit(1);
  }
  if (only.includes('r') && !(await redisReplies(redisUrl()))) {
    console.error(`target r needs Redis at ${redisUrl()} (set REDIS_URL), or leave it out: --only a,b,c,d,j`);
    process.exit(1);
  }
}

function header() {
  const machine = {
    nproc: Number(execFileSync('nproc').toString().trim()),
    cpu: os.cpus()[0]?.model,
    node: process.version,
    wrk: spawnSync('wrk', ['-v']).stdout.toString().split(' Copyright')[0].trim(),
    nginx: spawnSync('nginx', ['-v']).stderr.toString().trim().replace('nginx version: ', ''),
    loadavg: os.loadavg(),
  };
  console.log(
    `Gatehouse bench — nproc ${machine.nproc}, ${machine.cpu}, node ${machine.node}, ${machine.wrk}, ${machine.nginx}`,
  );
  console.log(
    `targets ${only.join(',')}; ${rounds} interleaved rounds of wrk -t1 -c${connections} -d${duration}s ` +
      `(${warmup}s warm-up before each, ${firstWarmup}s before round 1), scenario ${opt.scenario}; ` +
      `TLS front, mTLS to one nginx upstream; credential on each request: ${opt.auth === 'key' ? `one of ${keyCount} API keys` : opt.auth}; rate limit: ${opt.limiter}; load average now ${machine.loadavg.map((l) => l.toFixed(2)).join(' ')}`,
  );
  return machine;
}

async function startTargets(tmp) {
  const stateDir = path.join(tmp, 'state');
  const certs = await loadCerts(stateDir);
  const [upMtls, upDirect, ...ports] = await freePorts(2 + only.length);
  const portOf = Object.fromEntries(only.map((t, i) => [t, ports[i]]));
  const upstream = await startUpstream(tmp, certs, { mtls: upMtls, direct: upDirect });
  const targets = { a: { proc: upstream, port: upDirect } };
  // The Gatehouse targets first: the first one's keys are given to the others and to b and d. Each
  // has its own configuration folder and the same state (certificates, key store).
  let keys = keyCount;
  let headerSets = null;
  const limit = opt.limiter;
  const variants = {
    c: { auth: opt.auth, rateLimit: limit },
    e: { auth: opt.auth, rateLimit: limit, monitoring: false },
    r: { auth: opt.auth, rateLimit: 'redis' },
    j: { auth: 'jwt', tokens: tokenCount, rateLimit: limit },
    w: { auth: opt.auth, rateLimit: limit, workers },
  };
  for (const t of gatehouses.filter((x) => only.includes(x))) {
    const dir = path.join(tmp, t);
    mkdirSync(dir);
    const g = await startGatehouse(dir, stateDir, portOf[t], upMtls, { ...variants[t], keys });
    targets[t] = {
      proc: g.child,
      port: portOf[t],
      headerSets: t === 'j' ? g.headerSets : null,
      storePid: t === 'r' ? redisServerPid() : null,
    };
    if (g.keys) keys = g.keys;
    if (t !== 'j') headerSets ??= g.headerSets;
  }
  // Without a Gatehouse target that made keys, b and d check none (and say so in their names).
  const peerKeys = peersChecked && Array.isArray(keys) ? keys : null;
  const limited = peerKeys !== null && limit !== 'none';
  if (only.includes('b'))
    targets.b = {
      proc: await startNginxProxy(tmp, certs, portOf.b, upMtls, { keys: peerKeys, limit: limited }),
      port: portOf.b,
    };
  if (only.includes('n'))
    targets.n = { proc: await startNodeRelay(tmp, certs, portOf.n, upMtls), port: portOf.n };
  if (only.includes('h'))
    targets.h = { proc: await startNodeRelay(tmp, certs, portOf.h, upMtls, { http: true }), port: portOf.h };
  if (only.includes('d'))
    targets.d = {
      proc: await startFastify(tmp, certs, portOf.d, upMtls, { keys: peerKeys, limit: limited }),
      port: portOf.d,
    };
  for (const t of ['b', 'd', ...gatehouses].filter((x) => targets[x]))
    if (t === 'j' || (peersChecked && (gatehouses.includes(t) || peerKeys)))
      await expectChecked(
        NAMES[t],
        targets[t].port,
        (targets[t].headerSets ?? [{ 'x-api-key': peerKeys[0].key }])[0],
      );
  headerSets ??= peerKeys?.map(({ key }) => ({ 'x-api-key': key })) ?? [{}];
  for (const t of ['b', 'd']) if (targets[t] && peersChecked && !peerKeys) NAMES[t] += ' (NO key check)';
  return { upstream, targets, headerSets };
}

/** Result rows are keyed by target, or by target and scenario when several alternate ("c report"). */
const rowKey = (t, scenario) => (scenarios.length === 1 ? t : `${t} ${scenario}`);

async function runRounds(upstream, targets, scripts) {
  const results = {};
  for (let round = 1; round <= rounds; round++) {
    // Alternate scenarios forwards and backwards, so none always runs right after the same one.
    const order = round % 2 === 1 ? scenarios : [...scenarios].reverse();
    for (const t of only)
      for (const scenario of order) {
        const script = scripts[t][scenario];
        const target = targets[t];
        const { proc, port } = target;
        const warm = round === 1 && scenario === order[0] ? firstWarmup : warmup;
        if (warm > 0) target.served += (await runWrk({ port, seconds: warm, connections, script })).requests;
        const storeCpu = () => (target.storePid ? cpuSeconds(target.storePid) : 0);
        const [cpu0, up0, store0] = [cpuSeconds(proc.pid), cpuSeconds(upstream.pid), storeCpu()];
        const w = await runWrk({ port, seconds: duration, connections, script });
        target.served += w.requests;
        const [cpu, upCpu] = [cpuSeconds(proc.pid) - cpu0, cpuSeconds(upstream.pid) - up0];
        const storeCpuUsPerReq = target.storePid ? ((storeCpu() - store0) * 1e6) / w.requests : null;
        const r = {
          round,
          scenario,
          ...w,
          cpuSeconds: cpu,
          upstreamCpuSeconds: upCpu,
          // r: redis-server's CPU for the same requests (its other clients' too: keep it idle).
          storeCpuUsPerReq,
          cpuUsPerReq: (cpu * 1e6) / w.requests,
          reqPerCpuSecond: w.requests / cpu,
        };
        (results[rowKey(t, scenario)] ??= []).push(r);
        const label = scenarios.length === 1 ? NAMES[t].padEnd(18) : `${NAMES[t]} ${scenario}`.padEnd(30);
        console.log(
          `  round ${round} ${t} ${label} ${fmt(r.rps, 0).padStart(6)} req/s  p50 ${fmt(r.p50Ms, 2)} ms  ` +
            `p99 ${fmt(r.p99Ms, 2)} ms  ${fmt(r.cpuUsPerReq, 1)} CPU µs/req` +
            (hasErrors(r) ? `  ERRORS: non-2xx ${r.non2xx}, socket ${r.socketErrors}` : ''),
        );
      }
  }
  return results;
}

function summarize(results) {
  const summary = {};
  for (const [key, rs] of Object.entries(results)) {
    const t = key[0];
    summary[key] = {
      name: scenarios.length === 1 ? NAMES[t] : `${NAMES[t]}, ${rs[0].scenario}`,
      rps: spread(rs, 'rps', 0),
      p50Ms: spread(rs, 'p50Ms', 2),
      p99Ms: spread(rs, 'p99Ms', 2),
      cpuUsPerReq: spread(rs, 'cpuUsPerReq', 1),
      reqPerCpuSecond: spread(rs, 'reqPerCpuSecond', 0),
      storeCpuUsPerReq: rs[0].storeCpuUsPerReq == null ? null : spread(rs, 'storeCpuUsPerReq', 1),
      non2xx: rs.reduce((n, r) => n + r.non2xx, 0),
      socketErrors: rs.reduce((n, r) => n + r.socketErrors, 0),
    };
  }
  const rows = [['target', 'req/s', 'p50 ms', 'p99 ms', 'CPU µs/req', 'req per CPU-s', 'errors']];
  for (const [t, s] of Object.entries(summary)) {
    const errors = hasErrors(s) ? `ERRORS: ${s.non2xx} non-2xx, ${s.socketErrors} socket` : 'none';
    const cells = [s.rps, s.p50Ms, s.p99Ms, s.cpuUsPerReq, s.reqPerCpuSecond].map((x) => x.text);
    rows.push([`${t[0]} ${s.name}`, ...cells, errors]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  console.log(
    '\nmedian (min–max) over rounds; CPU = the proxy process tree (for a: the upstream nginx itself)',
  );
  for (const r of rows)
    console.log(
      '  ' +
        r
          .map((c, i) => c.padEnd(widths[i]))
          .join('  ')
          .trimEnd(),
    );

  const ratios = {};
  const checks = scenarios.length === 1 ? {} : checkCosts(results);
  for (const o of ['a', 'b', 'n', 'h', 'd'].filter((t) => summary.c && summary[t])) {
    const perCpu = summary.c.reqPerCpuSecond.median / summary[o].reqPerCpuSecond.median;
    const rps = summary.c.rps.median / summary[o].rps.median;
    const withErrors = ['c', o].filter((t) => hasErrors(summary[t]));
    const pairedPerCpu = pairedPerCpuSecond(results, 'c', o);
    ratios[`c/${o}`] = {
      reqPerCpuSecond: perCpu,
      pairedReqPerCpuSecond: pairedPerCpu,
      rps,
      comparable: withErrors.length === 0,
    };
    console.log(
      `  c/${o}: ${fmt(perCpu, 2)}× requests per CPU-second (paired round by round: ${fmt(pairedPerCpu, 2)}×), ` +
        `${fmt(rps, 2)}× req/s` +
        (withErrors.length ? `   (NOT comparable: ${withErrors.join(' and ')} had errors)` : ''),
    );
  }
  const paired = {
    e: 'monitoring on over off (c over e)',
    r: 'Redis limiter over memory (r over c)',
    j: `JWTs, ${opt.tokens} distinct (cache misses), over API keys (j over c)`,
    w: `${opt.workers} workers over 1 (w over c)`,
  };
  const costs = {};
  for (const [t, what] of Object.entries(paired))
    costs[t] = t === 'e' ? pairedCost(results, 'c', 'e', what) : pairedCost(results, t, 'c', what);
  for (const t of ['r', 'j', 'w'].filter((x) => summary.c && summary[x])) {
    const rps = summary[t].rps.median / summary.c.rps.median;
    ratios[`${t}/c`] = { rps, comparable: !hasErrors(summary[t]) && !hasErrors(summary.c) };
    console.log(`  ${t}/c: ${fmt(rps, 2)}× req/s`);
  }
  return { summary, ratios, checks, costs };
}

/**
 * x's requests per CPU-second over y's, taken within each round (the two ran back to back), then
 * the median: less moved than the ratio of the medians by a slow spell that falls on one target's
 * rounds. NaN when either has no rounds (several scenarios: rows are keyed by scenario too).
 */
function pairedPerCpuSecond(results, x, y) {
  const perRound = (results[x] ?? []).flatMap((r) => {
    const other = results[y]?.find((o) => o.round === r.round);
    return other ? [other.cpuUsPerReq / r.cpuUsPerReq] : [];
  });
  return perRound.length > 0 ? median(perRound) : NaN;
}

/**
 * Target x's CPU per request over target y's in each round (the same traffic, run one after the
 * other), per scenario, and the median of those ratios: what x's difference costs a request.
 */
function pairedCost(results, x, y, what) {
  const costs = {};
  for (const scenario of scenarios) {
    const xs = results[rowKey(x, scenario)];
    const ys = results[rowKey(y, scenario)];
    if (!xs || !ys) continue;
    const perRound = xs.map((r, i) => r.cpuUsPerReq / ys[i].cpuUsPerReq);
    const comparable = ![...xs, ...ys].some(hasErrors);
    costs[scenario] = { ratioPerRound: perRound, medianRatio: median(perRound), comparable };
    console.log(
      `  ${what}, ${scenario}: ${pct(median(perRound))} CPU per request ` +
        `(median of ${perRound.length} rounds: ${perRound.map(pct).join(', ')})` +
        (comparable ? '' : '   (NOT comparable: errors in a round)'),
    );
  }
  return costs;
}

/**
 * For target c with several scenarios: what each check costs over the same traffic without it
 * (report and report-leaky over report-raw, transfer over transfer-raw), as the ratio of CPU per
 * request within each round (the two ran back to back), then the median of those ratios.
 */
function checkCosts(results, how = 'CPU per request') {
  const checks = {};
  for (const scenario of scenarios) {
    const raw = uncheckedTwin(scenario, scenarios);
    if (raw === null || !results[`c ${scenario}`]) continue;
    const perRound = results[`c ${scenario}`].map((r) => {
      const base = results[`c ${raw}`].find((b) => b.round === r.round);
      return r.cpuUsPerReq / base.cpuUsPerReq;
    });
    const errors = [scenario, raw].some((x) => results[`c ${x}`].some(hasErrors));
    const med = median(perRound);
    checks[scenario] = { over: raw, ratioPerRound: perRound, medianRatio: med, comparable: !errors };
    console.log(
      `  c ${scenario} over ${raw}: ${pct(med)} ${how} (median of ${perRound.length} rounds; ` +
        `rounds ${perRound.map(pct).join(', ')})` +
        (errors ? '   (NOT comparable: errors)' : ''),
    );
  }
  return checks;
}

/**
 * The same comparison at one fixed request rate (open loop, bench/lib/openloop.c): half the
 * slowest scenario's median peak, so every scenario runs at the same load and batching, where at
 * its peak each runs at its own throughput (and a slower one batches more, or less, per wakeup).
 */
async function fixedRateCosts(target, summary, headers) {
  const rate = Math.round(Math.min(...scenarios.map((x) => summary[`c ${x}`].rps.median)) / 2);
  console.log(`\nthe same scenarios at one fixed rate, ${rate} req/s (open loop), alternated:`);
  const results = {};
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 === 1 ? scenarios : [...scenarios].reverse();
    for (const scenario of order) {
      const request = scenarioOpenLoop(scenario, headers);
      const h = await openLoopWithCpu(target, {
        rate,
        warmupSeconds: Math.max(warmup, 1),
        headers: request.headers,
        request,
      });
      const r = {
        round,
        scenario,
        rate,
        achievedRate: h.achievedRate,
        p99Ms: h.p99Ms,
        cpuUsPerReq: h.cpuUsPerReq,
        non2xx: h.non2xx,
        socketErrors: h.errors + h.unfinished + (h.aborted ? 1 : 0),
      };
      (results[`c ${scenario}`] ??= []).push(r);
      console.log(
        `  round ${round} c ${scenario.padEnd(13)} ${fmt(r.achievedRate, 0)} req/s  p99 ${fmt(r.p99Ms, 2)} ms  ` +
          `${fmt(r.cpuUsPerReq, 1)} CPU µs/req` +
          (hasErrors(r) ? `  ERRORS: non-2xx ${r.non2xx}, other ${r.socketErrors}` : ''),
      );
    }
  }
  for (const scenario of scenarios) {
    const cpu = spread(results[`c ${scenario}`], 'cpuUsPerReq', 1);
    console.log(`  c ${scenario}: ${cpu.text} CPU µs/req, median (min–max)`);
  }
  return { rate, results, checks: checkCosts(results, `CPU per request at ${rate} req/s`) };
}

/** An open-loop run against a target, with its CPU time per request over the measured phase. */
async function openLoopWithCpu(target, { rate, warmupSeconds, headers, request }) {
  let cpu0 = 0;
  let cpu = 0;
  const onMeasure = (at) =>
    at === 'start' ? (cpu0 = cpuSeconds(target.proc.pid)) : (cpu = cpuSeconds(target.proc.pid) - cpu0);
  const h = await openLoop({
    port: target.port,
    rate,
    seconds: duration,
    warmupSeconds,
    connections,
    headers,
    request,
    onMeasure,
  });
  return { ...h, cpuUsPerReq: (cpu * 1e6) / h.requests };
}

async function halfLoadCheck(target, peakRps, headers) {
  const rate = Math.round(peakRps / 2);
  const h = await openLoopWithCpu(target, { rate, warmupSeconds: firstWarmup, headers });
  console.log(
    `\ngatehouse at half its median peak, open loop (${h.generator}):\n` +
      `  ${rate} req/s asked, ${fmt(h.achievedRate, 0)} done over ${duration}s; from scheduled time: ` +
      `p50 ${fmt(h.p50Ms, 2)} ms, p90 ${fmt(h.p90Ms, 2)} ms, p99 ${fmt(h.p99Ms, 2)} ms, max ${fmt(h.maxMs, 2)} ms; ` +
      `from send: p50 ${fmt(h.p50FromSendMs, 2)} ms, p99 ${fmt(h.p99FromSendMs, 2)} ms\n` +
      `  ${fmt(h.cpuUsPerReq, 1)} CPU µs/req; errors ${h.errors}, non-2xx ${h.non2xx}, unfinished ${h.unfinished}` +
      (h.aborted ? '; ABORTED (too many in flight: overloaded)' : ''),
  );
  return h;
}

/**
 * Runs wrk against target c until it has served a million requests in all (the rounds' and this
 * run's), then reads the RSS of its process tree.
 */
async function rssAfterMillion(target, script, peakRps) {
  const before = rssMb(target.proc.pid);
  const servedBefore = target.served;
  while (target.served < 1e6) {
    const seconds = Math.min(30, Math.max(1, Math.ceil((1e6 - target.served) / Math.max(peakRps, 1000))));
    target.served += (await runWrk({ port: target.port, seconds, connections, script })).requests;
  }
  const after = rssMb(target.proc.pid);
  console.log(
    `\ngatehouse RSS after ${target.served} requests served: ${fmt(after, 1)} MB ` +
      `(${fmt(before, 1)} MB after the rounds' ${servedBefore})`,
  );
  return {
    requests: target.served,
    rssMb: after,
    rssMbAfterRounds: before,
    requestsAfterRounds: servedBefore,
  };
}

/** bench/start-up.mjs in a child process, after every target has stopped: its report, as text. */
async function startUpTimes() {
  const script = new URL('./start-up.mjs', import.meta.url).pathname;
  const out = await runToEnd(process.execPath, [script, '--runs', String(startUpRuns)]);
  console.log(`\nstart-up (bench/start-up.mjs --runs ${startUpRuns}):\n${out.trimEnd()}`);
  return out;
}

/** The figures the README's table reports, from this run. */
function headline({ results, summary, ratios, costs, halfLoad, million }) {
  if (!summary.c) return;
  const lines = [];
  const ratio = (key) =>
    ratios[key]?.comparable
      ? `${fmt(ratios[key].reqPerCpuSecond, 2)}× (paired round by round: ${fmt(ratios[key].pairedReqPerCpuSecond, 2)}×)`
      : 'not comparable';
  const what =
    opt.auth === 'key'
      ? `${keyCount} API keys, per-principal rate limit (${opt.limiter}), path validation, response contract, identity assertion, access log`
      : `--auth ${opt.auth}, rate limit ${opt.limiter}: NOT the deployed configuration`;
  lines.push(`headline, gatehouse with ${what}:`);
  if (summary.b) lines.push(`  per CPU-second: ${ratio('c/b')} ${NAMES.b}`);
  if (summary.d) lines.push(`  per CPU-second: ${ratio('c/d')} ${NAMES.d}`);
  const floors = [
    ['n', 'copies bytes, checks nothing', 'HTTP handling and every check'],
    [
      'h',
      'parses and rebuilds both messages with llhttp, checks nothing',
      'its pipeline, every check, and the timeouts and back-pressure h leaves out',
    ],
  ];
  for (const [t, does, beyond] of floors.filter(([x]) => summary[x] && summary.b)) {
    const errors = [t, 'b', 'c'].filter((x) => hasErrors(summary[x]));
    const floor = summary[t].reqPerCpuSecond.median / summary.b.reqPerCpuSecond.median;
    const over = summary.c.cpuUsPerReq.median - summary[t].cpuUsPerReq.median;
    lines.push(
      errors.length > 0
        ? `  the floor, ${NAMES[t]}: not comparable (${errors.join(' and ')} had errors)`
        : `  the floor, ${NAMES[t]} (${does}): ${fmt(floor, 2)}× ${NAMES.b} per CPU-second` +
            (summary.d && !hasErrors(summary.d)
              ? `, ${fmt(pairedPerCpuSecond(results, t, 'd'), 2)}× ${NAMES.d} (paired round by round)`
              : '') +
            `; gatehouse costs ${fmt(over, 1)} CPU µs per request over it (${beyond})`,
    );
  }
  for (const [t, what] of [
    ['r', 'Redis limiter over memory'],
    ['j', `JWT path, ${opt.tokens} distinct tokens, over API keys`],
    ['w', `${opt.workers} workers over 1`],
  ]) {
    const cost = costs[t]?.[scenarios[0]];
    if (!cost) continue;
    const store = t === 'r' ? summary.r.storeCpuUsPerReq : null;
    const withStore = store
      ? `; with redis-server's own CPU (${fmt(store.median, 1)} µs/request): ${pct((summary.r.cpuUsPerReq.median + store.median) / summary.c.cpuUsPerReq.median)}`
      : '';
    lines.push(
      `  ${what}: ${pct(cost.medianRatio)} CPU per request, ${fmt(ratios[`${t}/c`].rps, 2)}× req/s${withStore}`,
    );
  }
  if (halfLoad) lines.push(`  p99 at half of peak (open loop): ${fmt(halfLoad.p99Ms, 2)} ms`);
  if (million) lines.push(`  RSS after ${million.requests} requests: ${fmt(million.rssMb, 1)} MB`);
  console.log(`\n${lines.join('\n')}`);
}

async function main() {
  await preflight();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-'));
  onExit(() => rmSync(tmp, { recursive: true, force: true }));
  const machine = header();
  const { upstream, targets, headerSets } = await startTargets(tmp);
  const headers = headerSets[0];
  const scripts = {};
  for (const [t, target] of Object.entries(targets)) {
    target.served = 0;
    const sets = target.headerSets ?? headerSets;
    scripts[t] = Object.fromEntries(
      scenarios.map((x) => [
        x,
        writeScenarioLuaScript(tmp, x, sets, `${target.headerSets ? t : 'all'}-${x}`),
      ]),
    );
  }
  const results = await runRounds(upstream, targets, scripts);
  const { summary, ratios, checks, costs } = summarize(results);
  const atFixedRate =
    targets.c && Object.keys(checks).length > 0 ? await fixedRateCosts(targets.c, summary, headers) : null;
  // The open-loop check sends GET /items: only meaningful for that scenario.
  const halfLoad =
    summary.c && opt.scenario === 'items'
      ? await halfLoadCheck(targets.c, summary.c.rps.median, headers)
      : null;
  const million =
    summary.c && opt.million
      ? await rssAfterMillion(targets.c, scripts.c[scenarios[0]], summary.c.rps.median)
      : null;
  await stopAll();
  const startUp = startUpRuns > 0 && existsSync(CLI) ? await startUpTimes() : null;
  headline({ results, summary, ratios, costs, halfLoad, million });

  const outDir = new URL('./results/', import.meta.url).pathname;
  mkdirSync(outDir, { recursive: true });
  const outFile = path.join(outDir, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  const settings = { rounds, duration, warmup, firstWarmup, connections, only, names: NAMES, ...opt };
  writeFileSync(
    outFile,
    JSON.stringify(
      { machine, settings, results, summary, ratios, checks, costs, atFixedRate, halfLoad, million, startUp },
      null,
      2,
    ) + '\n',
  );
  console.log(`\nfull results: ${path.relative(process.cwd(), outFile)}`);
}

main().then(() => process.exit(0), fail);
