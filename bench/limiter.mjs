#!/usr/bin/env node
// Cost of one rate-limit decision (src/limits), built code from dist/ (run `npm run build` first):
//   memory: CPU ns per decision of the in-process store, 1000 keys round robin (a hot map, as in
//           nginx's 1000-key limit_req bench), one rule and two rules (per principal + per
//           operation), key string built per decision as the stage does;
//   redis:  decisions per second from this one process with N decisions in flight (ioredis
//           auto-pipelining), and the latency a decision adds at a fixed rate (p50/p99).
// Usage: node bench/limiter.mjs [--iterations 5000000] [--redis redis://127.0.0.1:6379]
//        [--seconds 5] [--in-flight 64] [--rate 5000]
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';

const { values: opt } = parseArgs({
  options: {
    iterations: { type: 'string', default: '5000000' },
    redis: { type: 'string', default: process.env.REDIS_URL ?? '' },
    seconds: { type: 'string', default: '5' },
    'in-flight': { type: 'string', default: '64' },
    rate: { type: 'string', default: '5000' },
  },
});

const load = async (module) => {
  try {
    return await import(new URL(`../dist/limits/${module}.js`, import.meta.url).href);
  } catch (err) {
    console.error(`cannot load dist/limits/${module}.js (run \`npm run build\` first): ${err.message}`);
    process.exit(1);
  }
};
const { MemoryStore } = await load('memory-store');
const { RedisStore } = await load('redis-store');
const { compilePolicy } = await load('rule');

const policy = (limit, window) => ({
  type: 'rate',
  key: ['principal'],
  limit,
  window,
  mode: 'reject',
  onStoreFailure: 'fallback',
  shadow: false,
});
// Generous enough that every decision admits: the cost measured is the common case.
const perPrincipal = compilePolicy('per-principal', policy(1_000_000_000, '1s'), 1);
const perOperation = compilePolicy('per-operation', policy(1_000_000_000, '1m'), 1);
const subjects = Array.from({ length: 1000 }, (_, i) => `user-${i}`);

function memoryBench(rules, iterations) {
  const store = new MemoryStore(100_000);
  const keys = new Array(rules.length);
  let admitted = 0;
  const run = (n) => {
    for (let i = 0; i < n; i += 1) {
      const subject = subjects[i % 1000];
      for (let r = 0; r < rules.length; r += 1) keys[r] = `s${subject.length}:${subject}`;
      if (store.decide(rules, keys)[0].outcome === 0) admitted += 1;
    }
  };
  run(Math.min(1_000_000, iterations)); // JIT warm-up
  const [started, cpu] = [process.hrtime.bigint(), process.cpuUsage()];
  run(iterations);
  const wallNs = Number(process.hrtime.bigint() - started) / iterations;
  const used = process.cpuUsage(cpu);
  // CPU time, not wall time: on a shared machine the wall clock also counts other processes' turns.
  const cpuNs = ((used.user + used.system) * 1000) / iterations;
  return { cpuNs, wallNs, admitted };
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

async function redisThroughput(store, inFlight, seconds) {
  let done = 0;
  const until = performance.now() + seconds * 1000;
  const worker = async (w) => {
    for (let i = 0; performance.now() < until; i += 1) {
      await store.decide([perPrincipal], [`bench-${w}-${i % 1000}`]);
      done += 1;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: inFlight }, (_, w) => worker(w)));
  return done / ((performance.now() - started) / 1000);
}

async function redisLatency(store, rate, seconds) {
  const latencies = [];
  const pending = [];
  const interval = 1000 / rate;
  const started = performance.now();
  for (let i = 0; performance.now() - started < seconds * 1000; i += 1) {
    const due = started + i * interval;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    const t0 = performance.now();
    pending.push(
      store.decide([perPrincipal], [`lat-${i % 1000}`]).then(() => latencies.push(performance.now() - t0)),
    );
  }
  await Promise.all(pending);
  latencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), n: latencies.length };
}

const iterations = Number(opt.iterations);
console.log(`limiter bench — node ${process.version}; ${iterations} decisions per memory case`);
for (const [name, rules] of [
  ['memory, 1 rule ', [perPrincipal]],
  ['memory, 2 rules', [perPrincipal, perOperation]],
]) {
  const { cpuNs, wallNs, admitted } = memoryBench(rules, iterations);
  console.log(
    `  ${name}: ${cpuNs.toFixed(0)} CPU ns/decision (wall ${wallNs.toFixed(0)} ns; ${admitted} admitted)`,
  );
}

if (opt.redis === '') {
  console.log('  redis: skipped (give --redis URL or set REDIS_URL)');
} else {
  const store = new RedisStore(
    { url: opt.redis, timeoutMs: 1000, keyPrefix: `bench-${process.pid}:` },
    {
      down: (reason) => console.error(`  redis down: ${reason}`),
      up: () => undefined,
    },
  );
  if (!(await store.ready(2000))) {
    console.error(`  redis: cannot reach ${opt.redis}`);
    process.exit(1);
  }
  const seconds = Number(opt.seconds);
  const inFlight = Number(opt['in-flight']);
  await redisThroughput(store, inFlight, 1); // warm-up: connection, script cache, JIT
  const perSecond = await redisThroughput(store, inFlight, seconds);
  console.log(`  redis, ${inFlight} in flight: ${perSecond.toFixed(0)} decisions/s from one process`);
  const rate = Number(opt.rate);
  const { p50, p99, n } = await redisLatency(store, rate, seconds);
  console.log(
    `  redis at ${rate} decisions/s: added latency p50 ${p50.toFixed(3)} ms, p99 ${p99.toFixed(3)} ms (${n} decisions)`,
  );
  await store.close();
}
