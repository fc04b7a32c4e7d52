#!/usr/bin/env node
// API key store benchmark (issue 3): how long a gateway takes to load N keys from SQLite into its
// in-memory index, and what one verify costs. Runs on dist/ (npm run build first).
// Usage: npm run build && node --expose-gc bench/keys.mjs [--keys 1000000] [--verifies 1000000]
// Times are CPU time of this process (process.cpuUsage) unless named otherwise.
//
// Most rows get a random 32-byte hash (the index cannot tell: it stores hashes); a sample of
// 10,000 are real generated keys, so the lookups below run on keys the store really holds.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { Buffer } from 'node:buffer';
import { performance } from 'node:perf_hooks';
import { hash, randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { generateApiKey, hashApiKey, keyIdOf } from '../dist/auth/keys/key-format.js';
import { SqliteKeyStore } from '../dist/auth/keys/sqlite-store.js';
import { availableSqliteDrivers, openSqlite } from '../dist/sqlite/database.js';
import { KeySync } from '../dist/auth/keys/sync.js';
import { ApiKeyVerifier } from '../dist/auth/keys/verifier.js';

const { values: opt } = parseArgs({
  options: { keys: { type: 'string', default: '1000000' }, verifies: { type: 'string', default: '1000000' } },
});
const KEYS = Number(opt.keys);
const VERIFIES = Number(opt.verifies);
const SAMPLE = Math.min(10_000, KEYS);
const CONSUMERS = 5_000;
const SCOPE_SETS = [
  ['accounts:read'],
  ['accounts:read', 'transfers:write'],
  [],
  ['reports:read', 'admin:keys'],
];

const dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-keys-'));
const file = path.join(dir, 'keys.db');
try {
  await new SqliteKeyStore(file).close(); // migrations
  const sample = fill(file);
  const { seconds, cpuSeconds, heapMb, rssMb, verifier, sync, store } = await load(file);
  const figures = {
    node: process.versions.node,
    sqliteDriver: availableSqliteDrivers()[0],
    keys: verifier.size,
    loadSeconds: round(seconds, 2),
    loadCpuSeconds: round(cpuSeconds, 2),
    heapMbAfterLoad: heapMb,
    rssMbAfterLoad: rssMb,
    nsPerVerify: {
      valid: timeVerify(verifier, sample),
      unknownWellFormed: timeVerify(
        verifier,
        Array.from({ length: 1000 }, () => flat(generateApiKey('live'))),
      ),
      badChecksum: timeVerify(
        verifier,
        sample.map((k) => flat(k.slice(0, 10) + (k[10] === 'a' ? 'b' : 'a') + k.slice(11))),
      ),
      malformed: timeVerify(
        verifier,
        sample.map((k) => flat(k.slice(0, 30))),
      ),
    },
    nsPerSha256Alone: timeSha256(sample),
    // Other work on a shared machine inflates wall and CPU times alike: read the figures with this.
    loadAverage1m: round(os.loadavg()[0], 2),
    cpus: os.cpus().length,
  };
  await sync.close();
  await store.close();
  console.log(JSON.stringify(figures, null, 2));
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/** Inserts KEYS rows in one transaction, straight through the SQLite driver; returns the real sample keys. */
function fill(file) {
  const started = performance.now();
  const db = openSqlite(file);
  db.exec('PRAGMA journal_mode = WAL');
  const insert = db.prepare(
    `INSERT INTO gatehouse_api_keys (id, hash, consumer, scopes, env, status, created_at, expires_at, updated_at, version)
     VALUES (?, ?, ?, ?, 'live', 'active', ?, ?, ?, ?)`,
  );
  const sample = [];
  const now = Date.now();
  db.immediate(() => {
    for (let i = 0; i < KEYS; i += 1) {
      let hash;
      if (i < SAMPLE) {
        const key = flat(generateApiKey('live'));
        sample.push(key);
        hash = hashApiKey(key);
      } else hash = randomBytes(32);
      const scopes = SCOPE_SETS[i % SCOPE_SETS.length].join(' ');
      insert.run(
        keyIdOf(hash),
        hash,
        `consumer-${i % CONSUMERS}`,
        scopes,
        now,
        i % 2 ? null : now + 9e10,
        now,
        i + 1,
      );
    }
  });
  db.close();
  process.stderr.write(`filled ${KEYS} keys in ${round((performance.now() - started) / 1000, 1)} s\n`);
  return sample;
}

/** What a gateway does at start: open the store, KeySync.start (pages of changesSince into the verifier). */
async function load(file) {
  globalThis.gc?.();
  const started = performance.now();
  const cpu = process.cpuUsage();
  const store = new SqliteKeyStore(file);
  const verifier = new ApiKeyVerifier();
  const sync = await KeySync.start({
    store,
    verifier,
    logger: pino({ level: 'silent' }),
    pollMs: 250,
    lastUsedFlushMs: 60_000,
    redisUrl: null,
  });
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const cpuSeconds = (used.user + used.system) / 1e6;
  globalThis.gc?.();
  const memory = process.memoryUsage();
  return {
    seconds,
    cpuSeconds,
    heapMb: Math.round(memory.heapUsed / 1e6),
    rssMb: Math.round(memory.rss / 1e6),
    verifier,
    sync,
    store,
  };
}

function timeVerify(verifier, keys) {
  let sink = 0;
  for (let i = 0; i < 20_000; i += 1) sink += verifier.verify(keys[i % keys.length]).ok ? 1 : 0; // warm-up
  const started = process.cpuUsage();
  for (let i = 0; i < VERIFIES; i += 1) sink += verifier.verify(keys[i % keys.length]).ok ? 1 : 0;
  const ns = cpuNs(started) / VERIFIES;
  if (sink < 0) console.log(sink);
  return Math.round(ns);
}

function timeSha256(keys) {
  let sink = 0;
  const started = process.cpuUsage();
  for (let i = 0; i < VERIFIES; i += 1) sink += hash('sha256', keys[i % keys.length], 'binary').length;
  const ns = cpuNs(started) / VERIFIES;
  if (sink < 0) console.log(sink);
  return Math.round(ns);
}

/** A flat copy of a string, as a header value arrives (a freshly concatenated one is not flat). */
function flat(text) {
  return Buffer.from(text, 'latin1').toString('latin1');
}

/** CPU time of this process since `started` (process.cpuUsage), in ns: less skewed by other processes than wall time. */
function cpuNs(started) {
  const used = process.cpuUsage(started);
  return (used.user + used.system) * 1000;
}

function round(value, digits) {
  return Math.round(value * 10 ** digits) / 10 ** digits;
}
