#!/usr/bin/env node
// Cost of one rate-limit decision (src/limits), built code from dist/ (run `npm run build` first):
//   memory: CPU ns per decision of the in-process store, 1000 keys round robin (a hot map, as in
//           nginx's 1000-key limit_req bench), one rule and two rules (per principal + per
//           operation), key string built per decision as the stage does;
//   redis:  decisions per second from this one process with N decisions in flight (the store
//           sends each turn's decisions as one script call), and the latency a decision adds at
//           a fixed rate (p50/p99).
//   --loaded: with Redis healthy and every core kept busy by a CPU burner child process, the share
//           of decisions (through the Limiter, as the stages ask) that fell back to the failure
//           policy, and how often the store was reported down, for each Redis timeout given and
//           each build given (--compare): one limiter each, all taking decisions in turn.
// Usage: node bench/limiter.mjs [--iterations 5000000] [--redis redis://127.0.0.1:6379]
//        [--seconds 5] [--in-flight 64] [--rate 5000]
//        node bench/limiter.mjs --loaded --redis URL [--timeouts 25,100] [--seconds 20]
//        [--rate 2000] [--work-us 50] [--burners <cores>] [--dist DIR] [--compare DIR ...]
import { spawn } from 'node:child_process';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';

const { values: opt } = parseArgs({
  options: {
    iterations: { type: 'string', default: '5000000' },
    redis: { type: 'string', default: process.env.REDIS_URL ?? '' },
    seconds: { type: 'string' },
    'in-flight': { type: 'string', default: '64' },
    rate: { type: 'string' },
    loaded: { type: 'boolean', default: false },
    timeouts: { type: 'string', default: '25,100' },
    'work-us': { type: 'string', default: '50' },
    burners: { type: 'string', default: String(os.availableParallelism()) },
    dist: { type: 'string', default: new URL('../dist/', import.meta.url).pathname },
    // --loaded: other builds (e.g. of an earlier commit) measured in the same run, in turn.
    compare: { type: 'string', multiple: true },
  },
});

const distUrl = (dir) => pathToFileURL(dir.endsWith('/') ? dir : `${dir}/`);
const load = async (module) => {
  try {
    return await import(new URL(`limits/${module}.js`, distUrl(opt.dist)).href);
  } catch (err) {
    console.error(
      `cannot load ${opt.dist}/limits/${module}.js (run \`npm run build\` first): ${err.message}`,
    );
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

/** Keeps a core busy until killed: the load of a busy host (other services, a build, a noisy neighbour). */
function startBurners(n) {
  return Array.from({ length: n }, () => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
}

/** The request's own work in the gateway process, done between decisions (a busy event loop). */
function spin(us) {
  const until = performance.now() + us / 1000;
  while (performance.now() < until);
}

/**
 * A Limiter on Redis as createLimits builds it, from the build in `dir`. Builds from before the
 * circuit breaker had the store report its own health (and skip Redis for a second after any
 * failure): both are supported, so one run compares them.
 */
async function sharedLimiter(dir, url, timeoutMs, keyPrefix) {
  const module = (name) => import(new URL(name, distUrl(dir)).href);
  const [{ Limiter }, { MemoryStore: Memory }, { RedisStore: Store }, { configDefaults }] = await Promise.all(
    ['limits/limiter.js', 'limits/memory-store.js', 'limits/redis-store.js', 'config/defaults.js'].map(
      module,
    ),
  );
  const breakerModule = await module('limits/breaker.js').catch(() => null);
  const config = { url, timeoutMs, keyPrefix, breaker: configDefaults.redis.breaker };
  const variant = { dir, timeoutMs, downs: 0, decided: 0, fellBack: 0, latencies: [], breaker: null };
  const down = () => (variant.downs += 1);
  const memory = new Memory(100_000);
  if (breakerModule === null) {
    variant.store = new Store(config, { down, up: () => undefined });
    variant.limiter = new Limiter(memory, variant.store);
    return variant;
  }
  // Builds before the Redis client was loaded on first use take no second argument.
  const store = (variant.store = new Store(config, Redis));
  const listener = { opened: down, closed: () => undefined };
  variant.breaker = new breakerModule.CircuitBreaker(config.breaker, listener, () => store.probe());
  variant.limiter = new Limiter(memory, { store, breaker: variant.breaker });
  return variant;
}

/**
 * Decisions at a fixed rate for `seconds`, each after `workUs` of work, as a server takes them:
 * those due are taken, then the event loop turns (responses are read) before the next ones. They
 * go to the variants in turn, so every variant meets the same load at the same moments.
 */
async function decideUnderLoad(variants, rate, seconds, workUs) {
  let issued = 0;
  let pending = 0;
  const interval = 1000 / rate;
  const started = performance.now();
  const total = Math.floor(seconds * rate);
  const onDecision = (variant, t0) => (decision) => {
    variant.latencies.push(performance.now() - t0);
    variant.decided += 1;
    if (decision.degraded !== null) variant.fellBack += 1;
    pending -= 1;
  };
  while (issued < total) {
    const due = Math.min(total, Math.floor((performance.now() - started) / interval) + 1);
    for (; issued < due; issued += 1) {
      spin(workUs);
      const variant = variants[issued % variants.length];
      const t0 = performance.now();
      pending += 1;
      void Promise.resolve(variant.limiter.decide([perPrincipal], [`loaded-${issued % 1000}`])).then(
        onDecision(variant, t0),
      );
    }
    const wait = started + issued * interval - performance.now();
    await (wait > 1 ? sleep(wait) : nextTurn());
  }
  while (pending > 0) await sleep(10);
}

async function loadedBench() {
  const seconds = Number(opt.seconds ?? 20);
  const rate = Number(opt.rate ?? 2000);
  const workUs = Number(opt['work-us']);
  const burners = Number(opt.burners);
  const dirs = [opt.dist, ...(opt.compare ?? [])];
  const timeouts = opt.timeouts.split(',').map(Number);
  console.log(
    `limiter fallback under load — node ${process.version}; ${os.availableParallelism()} cores, ${burners} CPU ` +
      `burners; ${rate} decisions/s for ${seconds} s, ${workUs} µs of work before each, in turn to ` +
      `${dirs.length * timeouts.length} limiters (loadavg before: ${os.loadavg()[0].toFixed(2)})`,
  );
  const variants = [];
  for (const dir of dirs) {
    for (const timeoutMs of timeouts) {
      const keyPrefix = `bench-${process.pid}-${variants.length}:`;
      variants.push(await sharedLimiter(dir, opt.redis, timeoutMs, keyPrefix));
    }
  }
  for (const { store } of variants) {
    if (!(await store.ready(2000))) {
      console.error(`  redis: cannot reach ${opt.redis}`);
      process.exit(1);
    }
  }
  await decideUnderLoad(variants, rate, 1, workUs); // warm-up, unloaded: connections, script cache, JIT
  for (const variant of variants)
    Object.assign(variant, { downs: 0, decided: 0, fellBack: 0, latencies: [] });
  const children = startBurners(burners);
  try {
    await sleep(500);
    await decideUnderLoad(variants, rate, seconds, workUs);
  } finally {
    for (const child of children) child.kill('SIGKILL');
  }
  for (const v of variants) {
    v.latencies.sort((a, b) => a - b);
    console.log(
      `  ${v.breaker === null ? 'before the breaker' : 'circuit breaker   '} timeoutMs ${String(v.timeoutMs).padStart(4)}: ` +
        `${((100 * v.fellBack) / v.decided).toFixed(2)}% fell back (${v.fellBack} of ${v.decided}); ` +
        `store reported down ${v.downs}× (${((v.downs * 60) / seconds).toFixed(1)}/min); ` +
        `p99 ${percentile(v.latencies, 0.99).toFixed(1)} ms  [${v.dir}]`,
    );
    v.breaker?.stop();
    await v.store.close();
  }
}

if (opt.loaded) {
  if (opt.redis === '') {
    console.error('--loaded needs --redis URL (or REDIS_URL)');
    process.exit(2);
  }
  await loadedBench();
  process.exit(0);
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
    Redis,
  );
  if (!(await store.ready(2000))) {
    console.error(`  redis: cannot reach ${opt.redis}`);
    process.exit(1);
  }
  const seconds = Number(opt.seconds ?? 5);
  const inFlight = Number(opt['in-flight']);
  await redisThroughput(store, inFlight, 1); // warm-up: connection, script cache, JIT
  const perSecond = await redisThroughput(store, inFlight, seconds);
  console.log(`  redis, ${inFlight} in flight: ${perSecond.toFixed(0)} decisions/s from one process`);
  const rate = Number(opt.rate ?? 5000);
  const { p50, p99, n } = await redisLatency(store, rate, seconds);
  console.log(
    `  redis at ${rate} decisions/s: added latency p50 ${p50.toFixed(3)} ms, p99 ${p99.toFixed(3)} ms (${n} decisions)`,
  );
  await store.close();
}
