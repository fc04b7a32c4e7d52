#!/usr/bin/env node
// Gatehouse benchmark: the same upstream measured directly (a), behind nginx (b), behind
// Gatehouse (c), behind fastify + @fastify/http-proxy (d) and behind Gatehouse with monitoring off
// (e: journeys and access log only); interleaved wrk rounds, CPU time of each proxy process from
// /proc, then an open-loop latency check of Gatehouse at half its peak. With c and e, what
// monitoring costs: c's CPU per request over e's, round by round (the two run back to back).
// Usage: npm run bench -- [--rounds 5] [--duration 5] [--warmup 2] [--connections 64] [--only a,b,c,d,e]
//        [--auth none|jwt|key]  (the credential every request carries; c checks it)
//        [--scenario items|transfer|transfer-body|transfer-raw|report|report-leaky|report-raw]  (bench/lib/targets.mjs)
//        A list (--scenario report-raw,report) runs the scenarios alternately against the same
//        processes; for c, each checked scenario is then compared with its -raw twin round by round,
//        at each scenario's peak (wrk) and at one fixed rate for all (open loop).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { parseArgs } from 'node:util';
import { cpuSeconds, fail, freePorts, onExit, stopAll, which } from './lib/proc.mjs';
import { runWrk, writeLuaScript } from './lib/wrk.mjs';
import { buildOpenLoop, openLoop } from './lib/openloop.mjs';
import {
  CLI,
  loadCerts,
  SCENARIOS,
  scenarioOpenLoop,
  startFastify,
  startGatehouse,
  startNginxProxy,
  startUpstream,
  uncheckedTwin,
  writeScenarioLuaScript,
} from './lib/targets.mjs';

const NAMES = {
  a: 'upstream direct',
  b: 'nginx proxy',
  c: 'gatehouse',
  d: 'fastify+http-proxy',
  e: 'gatehouse, monitoring off',
};

const { values: opt } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '64' },
    only: { type: 'string', default: 'a,b,c,d' },
    // Credential on every request, checked by c: none, jwt (a cached bearer token) or key (an API key).
    auth: { type: 'string', default: 'none' },
    // What every request is (bench/lib/targets.mjs SCENARIOS): items, transfer, report, …, or a list.
    scenario: { type: 'string', default: 'items' },
  },
});
const rounds = Number(opt.rounds);
const duration = Number(opt.duration);
const warmup = Number(opt.warmup);
const connections = Number(opt.connections);
const only = [...new Set(opt.only.split(',').map((s) => s.trim()))];
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

function preflight() {
  const usage =
    'usage: node bench/run.mjs [--rounds N] [--duration S] [--warmup S] [--connections N] [--only a,b,c,d,e] [--auth none|jwt|key] [--scenario S[,S…]]';
  const positive = [rounds, duration, connections].every((n) => Number.isInteger(n) && n > 0);
  if (only.some((t) => !NAMES[t]) || !positive || !(warmup >= 0)) {
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
  if ((only.includes('c') || only.includes('e')) && !existsSync(CLI)) {
    console.error(`${CLI} is missing: run \`npm run build\` first (or leave c out: --only a,b,d)`);
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
      `TLS front, mTLS to one nginx upstream; credential on each request: ${opt.auth}; load average now ${machine.loadavg.map((l) => l.toFixed(2)).join(' ')}`,
  );
  return machine;
}

async function startTargets(tmp) {
  const stateDir = path.join(tmp, 'state');
  const certs = await loadCerts(stateDir);
  const [upMtls, upDirect, pNginx, pGate, pFastify, pQuiet] = await freePorts(6);
  const upstream = await startUpstream(tmp, certs, { mtls: upMtls, direct: upDirect });
  const targets = { a: { proc: upstream, port: upDirect } };
  if (only.includes('b'))
    targets.b = { proc: await startNginxProxy(tmp, certs, pNginx, upMtls), port: pNginx };
  let headers = {};
  if (only.includes('c')) {
    const gatehouse = await startGatehouse(tmp, stateDir, pGate, upMtls, { auth: opt.auth });
    targets.c = { proc: gatehouse.child, port: pGate };
    headers = gatehouse.headers;
  }
  if (only.includes('d')) targets.d = { proc: await startFastify(certs, pFastify, upMtls), port: pFastify };
  if (only.includes('e')) {
    // Its own configuration folder, the same state (certificates, key store): c's key works here too.
    const dir = path.join(tmp, 'e');
    mkdirSync(dir);
    const quiet = await startGatehouse(dir, stateDir, pQuiet, upMtls, { auth: opt.auth, monitoring: false });
    targets.e = { proc: quiet.child, port: pQuiet };
    if (!only.includes('c')) headers = quiet.headers;
  }
  return { upstream, targets, headers };
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
        const script = scripts[scenario];
        const { proc, port } = targets[t];
        const warm = round === 1 && scenario === order[0] ? firstWarmup : warmup;
        if (warm > 0) await runWrk({ port, seconds: warm, connections, script });
        const [cpu0, up0] = [cpuSeconds(proc.pid), cpuSeconds(upstream.pid)];
        const w = await runWrk({ port, seconds: duration, connections, script });
        const [cpu, upCpu] = [cpuSeconds(proc.pid) - cpu0, cpuSeconds(upstream.pid) - up0];
        const r = {
          round,
          scenario,
          ...w,
          cpuSeconds: cpu,
          upstreamCpuSeconds: upCpu,
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
  const monitoring = monitoringCost(results);
  for (const o of ['a', 'b', 'd'].filter((t) => summary.c && summary[t])) {
    const perCpu = summary.c.reqPerCpuSecond.median / summary[o].reqPerCpuSecond.median;
    const rps = summary.c.rps.median / summary[o].rps.median;
    const withErrors = ['c', o].filter((t) => hasErrors(summary[t]));
    ratios[`c/${o}`] = { reqPerCpuSecond: perCpu, rps, comparable: withErrors.length === 0 };
    console.log(
      `  c/${o}: ${fmt(perCpu, 2)}× requests per CPU-second, ${fmt(rps, 2)}× req/s` +
        (withErrors.length ? `   (NOT comparable: ${withErrors.join(' and ')} had errors)` : ''),
    );
  }
  return { summary, ratios, checks, monitoring };
}

/**
 * With targets c and e: c's CPU per request over e's in each round (the same traffic, back to
 * back), per scenario, and the median of those ratios: what metrics, security events and the
 * detectors add to a request.
 */
function monitoringCost(results) {
  const costs = {};
  for (const scenario of scenarios) {
    const on = results[rowKey('c', scenario)];
    const off = results[rowKey('e', scenario)];
    if (!on || !off) continue;
    const perRound = on.map((r, i) => r.cpuUsPerReq / off[i].cpuUsPerReq);
    const comparable = ![...on, ...off].some(hasErrors);
    costs[scenario] = { ratioPerRound: perRound, medianRatio: median(perRound), comparable };
    console.log(
      `  monitoring on over off (c over e), ${scenario}: ${pct(median(perRound))} CPU per request ` +
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

async function main() {
  preflight();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-'));
  onExit(() => rmSync(tmp, { recursive: true, force: true }));
  const machine = header();
  const { upstream, targets, headers } = await startTargets(tmp);
  const scripts = Object.fromEntries(
    scenarios.map((x) => [x, writeScenarioLuaScript(tmp, x, headers) ?? writeLuaScript(tmp, headers)]),
  );
  const results = await runRounds(upstream, targets, scripts);
  const { summary, ratios, checks, monitoring } = summarize(results);
  const atFixedRate =
    targets.c && Object.keys(checks).length > 0 ? await fixedRateCosts(targets.c, summary, headers) : null;
  // The open-loop check sends GET /items: only meaningful for that scenario.
  const halfLoad =
    summary.c && opt.scenario === 'items'
      ? await halfLoadCheck(targets.c, summary.c.rps.median, headers)
      : null;

  const outDir = new URL('./results/', import.meta.url).pathname;
  mkdirSync(outDir, { recursive: true });
  const outFile = path.join(outDir, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  const settings = {
    rounds,
    duration,
    warmup,
    firstWarmup,
    connections,
    only,
    auth: opt.auth,
    scenario: opt.scenario,
  };
  writeFileSync(
    outFile,
    JSON.stringify(
      { machine, settings, results, summary, ratios, checks, monitoring, atFixedRate, halfLoad },
      null,
      2,
    ) + '\n',
  );
  console.log(`\nfull results: ${path.relative(process.cwd(), outFile)}`);
  await stopAll();
}

main().then(() => process.exit(0), fail);
