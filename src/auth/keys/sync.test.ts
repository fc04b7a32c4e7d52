import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyLifecycle } from './lifecycle.js';
import type { KeyStore } from './store.js';
import { createRedisNotifier, encodeKeyChange, KeySync, revokedIn, type KeyChangeNotifier } from './sync.js';
import { postgresFixture, REDIS_URL, DATABASE_URL, sqliteFixture, type StoreFixture } from './testing.js';
import { ApiKeyVerifier } from './verifier.js';

const silent = pino({ level: 'silent' });

/** One gateway process's view: its own store handle, verifier and sync. */
interface Process {
  readonly store: KeyStore;
  readonly verifier: ApiKeyVerifier;
  readonly sync: KeySync;
}

async function startProcess(
  fixture: StoreFixture,
  redisUrl: string | null,
  pollMs: number,
): Promise<Process> {
  const store = await fixture.open();
  const verifier = new ApiKeyVerifier();
  const sync = await KeySync.start({
    store,
    verifier,
    logger: silent,
    pollMs,
    lastUsedFlushMs: 60_000,
    redisUrl,
  });
  return { store, verifier, sync };
}

async function stopProcess(p: Process | undefined): Promise<void> {
  await p?.sync.close();
  await p?.store.close();
}

/** Milliseconds until `check` holds on every process (polled every 5 ms), or Infinity after 3 s. */
async function timeUntil(check: () => boolean): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < 3_000) {
    if (check()) return performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return Infinity;
}

async function waitFor(check: () => boolean): Promise<void> {
  expect(await timeUntil(check)).toBeLessThan(3_000);
}

function propagationSuite(
  name: string,
  make: () => Promise<StoreFixture>,
  redisUrl: string | null,
  pollMs: number,
  redisReachable = redisUrl !== null,
): void {
  describe(name, () => {
    let fixture: StoreFixture;
    let admin: KeyStore;
    let notifier: KeyChangeNotifier | null = null;
    let lifecycle: KeyLifecycle;
    let a: Process;
    let b: Process;

    beforeAll(async () => {
      fixture = await make();
      admin = await fixture.open();
      notifier = redisReachable ? await createRedisNotifier(admin, redisUrl!, null) : null;
      // The CLI's position: writes to the store, announces on Redis, holds no index itself.
      lifecycle = new KeyLifecycle(admin, async (change) => notifier?.notify(change));
      a = await startProcess(fixture, redisUrl, pollMs);
      b = await startProcess(fixture, redisUrl, pollMs);
      if (redisReachable) await waitFor(() => a.sync.subscribed && b.sync.subscribed);
    });
    afterAll(async () => {
      await stopProcess(a);
      await stopProcess(b);
      await notifier?.close();
      await admin?.close();
      await fixture?.remove();
    });

    it('loads existing keys at start, and a new key reaches both processes within a second', async () => {
      const { key } = await lifecycle.create({
        consumer: 'alice',
        scopes: ['r'],
        env: 'live',
        lifetimeMs: null,
      });
      const ms = await timeUntil(() => a.verifier.verify(key).ok && b.verifier.verify(key).ok);
      expect(ms).toBeLessThan(1_000);
      const late = await startProcess(fixture, null, pollMs);
      try {
        expect(late.verifier.verify(key).ok).toBe(true);
      } finally {
        await stopProcess(late);
      }
    });

    it('a key revoked elsewhere is refused by both processes within a second', async () => {
      const { key, record } = await lifecycle.create({
        consumer: 'bob',
        scopes: [],
        env: 'live',
        lifetimeMs: null,
      });
      await waitFor(() => a.verifier.verify(key).ok && b.verifier.verify(key).ok);
      await lifecycle.revoke(record.id);
      const ms = await timeUntil(() => !a.verifier.verify(key).ok && !b.verifier.verify(key).ok);
      expect(ms).toBeLessThan(1_000);
      expect(a.verifier.verify(key)).toEqual({ ok: false, reason: 'revoked' });
      expect(b.verifier.verify(key)).toEqual({ ok: false, reason: 'revoked' });
    });

    it('a rotation reaches both: old and new work during the overlap, the old is refused after', async () => {
      const old = await lifecycle.create({ consumer: 'carol', scopes: ['w'], env: 'test', lifetimeMs: null });
      await waitFor(() => a.verifier.verify(old.key).ok && b.verifier.verify(old.key).ok);
      const rotation = await lifecycle.rotate(old.record.id, { overlapMs: 1_500 });
      if (!rotation.ok) throw new Error(`rotation refused: ${rotation.reason}`);
      const fresh = rotation.rotated.key;
      const ms = await timeUntil(() => a.verifier.verify(fresh).ok && b.verifier.verify(fresh).ok);
      expect(ms).toBeLessThan(1_000);
      expect(a.verifier.verify(old.key).ok).toBe(true);
      expect(b.verifier.verify(old.key).ok).toBe(true);
      await waitFor(() => !a.verifier.verify(old.key).ok && !b.verifier.verify(old.key).ok);
      expect(a.verifier.verify(old.key)).toEqual({ ok: false, reason: 'expired' });
      expect(b.verifier.verify(fresh).ok).toBe(true);
    });

    it('writes last-use times back in a batch', async () => {
      const { key, record } = await lifecycle.create({
        consumer: 'dan',
        scopes: [],
        env: 'live',
        lifetimeMs: null,
      });
      await waitFor(() => a.verifier.verify(key).ok);
      expect((await admin.get(record.id))!.lastUsedAt).toBeNull();
      await a.sync.flushLastUsed();
      expect((await admin.get(record.id))!.lastUsedAt).toBeGreaterThan(Date.now() - 5_000);
    });
  });
}

propagationSuite('change propagation: SQLite + polling (250 ms)', sqliteFixture, null, 250);

// Redis down: polling takes over at pollMs, so the one-second promise still holds.
propagationSuite(
  'change propagation: SQLite + an unreachable Redis (fallback to polling)',
  sqliteFixture,
  'redis://127.0.0.1:1',
  250,
  false,
);

const pgRedisSkip =
  DATABASE_URL === null || REDIS_URL === null
    ? 'DATABASE_URL and REDIS_URL are not both set (CI sets them)'
    : null;
if (pgRedisSkip === null) {
  // The store is still polled every 500 ms, but only on a 5 s safety interval while subscribed:
  // arriving within a second shows the Redis notice did the work.
  propagationSuite(
    'change propagation: PostgreSQL + Redis pub/sub',
    () => postgresFixture(DATABASE_URL!),
    REDIS_URL,
    500,
  );
} else {
  describe.skip(`change propagation: PostgreSQL + Redis pub/sub (skipped: ${pgRedisSkip})`, () => {
    it('needs PostgreSQL and Redis', () => undefined);
  });
}

describe('change notices', () => {
  it('carry a revoked key id, and nothing else is taken from them', () => {
    const id = '0123456789abcdef';
    expect(revokedIn(encodeKeyChange({ version: 7, revoked: id }))).toBe(id);
    expect(encodeKeyChange({ version: 7 })).toBe('{"version":7}');
    for (const message of [
      '{"version":7}',
      '7', // a notice of an older gateway: the version only
      '{"revoked":"not-a-key-id"}',
      `{"revoked":"${id}0"}`,
      '{"revoked":["0123456789abcdef"]}',
      'null',
      '{',
      `{"revoked":"${id}","pad":"${'x'.repeat(300)}"}`,
    ]) {
      expect(revokedIn(message)).toBeNull();
    }
  });
});
