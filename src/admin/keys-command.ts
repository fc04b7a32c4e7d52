import { DURATION_HINT, parseDuration } from '../auth/keys/duration.js';
import { KeyLifecycle, KeyRequestError, type CreatedKey } from '../auth/keys/lifecycle.js';
import type { ApiKeyRecord } from '../auth/keys/record.js';
import { openKeyStore } from '../auth/keys/services.js';
import { createRedisNotifier, type KeyChangeNotifier } from '../auth/keys/sync.js';
import { loadKeysCommandConfig } from '../config/index.js';
import { DEFAULT_OVERLAP } from './routes.js';

/**
 * `gatehouse keys create|list|revoke|rotate`: the key lifecycle from the command line, straight
 * on the configured store (no gateway needs to run). A change is announced on Redis when the
 * configuration names one; otherwise gateways see it at their next poll (≤ 500 ms).
 * Nothing here writes a key anywhere but stdout, once, at creation or rotation.
 */
export interface CommonOptions {
  readonly config: string;
  readonly json?: boolean;
}

export async function keysCreate(
  options: CommonOptions & { consumer: string; scopes?: string; expires?: string; env?: string },
): Promise<number> {
  const lifetimeMs = options.expires === undefined ? null : parseDuration(options.expires);
  if (lifetimeMs === null && options.expires !== undefined) return fail(`--expires: ${DURATION_HINT}`);
  const env = options.env ?? 'live';
  if (env !== 'live' && env !== 'test') return fail('--env: use live or test');
  const scopes = (options.scopes ?? '').split(',').filter((scope) => scope !== '');
  return withLifecycle(options.config, async (lifecycle) => {
    const created = await lifecycle.create({ consumer: options.consumer, scopes, env, lifetimeMs });
    print(options.json ? JSON.stringify(created) : describeCreated(created, 'Created'));
    return 0;
  });
}

export async function keysList(options: CommonOptions & { consumer?: string }): Promise<number> {
  return withLifecycle(options.config, async (lifecycle) => {
    if (!options.json) print(['ID', 'ENV', 'STATE', 'CONSUMER', 'SCOPES', 'EXPIRES', 'LAST USED'].join('\t'));
    let after: string | null = null;
    for (;;) {
      const page: ApiKeyRecord[] = await lifecycle.list({
        after,
        consumer: options.consumer ?? null,
        limit: 1000,
      });
      for (const record of page) print(options.json ? JSON.stringify(record) : describeRow(record));
      if (page.length < 1000) return 0;
      after = page[page.length - 1]!.id;
    }
  });
}

export async function keysRevoke(id: string, options: CommonOptions): Promise<number> {
  return withLifecycle(options.config, async (lifecycle) => {
    const record = await lifecycle.revoke(id);
    if (record === null) return fail(`no key with id ${id} (see: gatehouse keys list)`);
    print(options.json ? JSON.stringify(record) : `Revoked key ${record.id} of ${record.consumer}.`);
    return 0;
  });
}

export async function keysRotate(
  id: string,
  options: CommonOptions & { overlap?: string; expires?: string },
): Promise<number> {
  const overlapMs = parseDuration(options.overlap ?? DEFAULT_OVERLAP);
  if (overlapMs === null) return fail(`--overlap: ${DURATION_HINT}`);
  const lifetimeMs = options.expires === undefined ? undefined : parseDuration(options.expires);
  if (lifetimeMs === null) return fail(`--expires: ${DURATION_HINT}`);
  return withLifecycle(options.config, async (lifecycle) => {
    const outcome = await lifecycle.rotate(
      id,
      lifetimeMs === undefined ? { overlapMs } : { overlapMs, lifetimeMs },
    );
    if (!outcome.ok) {
      return fail(
        outcome.reason === 'not-found'
          ? `no key with id ${id} (see: gatehouse keys list)`
          : `key ${id} cannot be rotated: it is ${outcome.reason === 'rotated' ? 'already rotated (rotate its replacement)' : outcome.reason}`,
      );
    }
    const { replaced } = outcome.rotated;
    print(
      options.json
        ? JSON.stringify(outcome.rotated)
        : `${describeCreated(outcome.rotated, 'Rotated')}\nThe old key ${replaced.id} keeps working until ${iso(replaced.overlapUntil)}.`,
    );
    return 0;
  });
}

async function withLifecycle(
  configFile: string,
  work: (lifecycle: KeyLifecycle) => Promise<number>,
): Promise<number> {
  const config = await loadKeysCommandConfig(configFile);
  const store = await openKeyStore(config.keys, null);
  let notifier: KeyChangeNotifier | null = null;
  try {
    const redisUrl = config.keys.sync.redisUrl;
    notifier = redisUrl === null ? null : await createRedisNotifier(store, redisUrl, null);
    const announce = notifier;
    const lifecycle = new KeyLifecycle(store, async (change) => {
      await announce
        ?.notify(change)
        .catch((err: unknown) =>
          process.stderr.write(
            `warning: the change is saved, but its notice could not be published on Redis (${String(err)}); ` +
              'gateways pick it up at their next safety poll (5 s)\n',
          ),
        );
    });
    return await work(lifecycle);
  } catch (err) {
    if (err instanceof KeyRequestError) return fail(err.message);
    throw err;
  } finally {
    await notifier?.close();
    await store.close();
  }
}

function describeCreated(created: CreatedKey, verb: string): string {
  const r = created.record;
  const scopes = r.scopes.length === 0 ? 'none' : r.scopes.join(' ');
  return [
    `${verb} API key ${r.id} for ${r.consumer} (env ${r.env}; scopes: ${scopes}; expires: ${iso(r.expiresAt)})`,
    '',
    `  ${created.key}`,
    '',
    'This is the only time the key is shown: store it now (a secret manager, not a chat or a ticket).',
  ].join('\n');
}

function describeRow(r: ApiKeyRecord): string {
  return [
    r.id,
    r.env,
    stateOf(r),
    r.consumer,
    r.scopes.join(' ') || '-',
    iso(r.expiresAt),
    iso(r.lastUsedAt),
  ].join('\t');
}

function stateOf(r: ApiKeyRecord, now = Date.now()): string {
  if (r.status === 'revoked') return 'revoked';
  if (r.expiresAt !== null && r.expiresAt <= now) return 'expired';
  if (r.replacedBy !== null) {
    return r.overlapUntil !== null && r.overlapUntil <= now
      ? `replaced by ${r.replacedBy}`
      : `rotating to ${r.replacedBy} until ${iso(r.overlapUntil)}`;
  }
  return 'active';
}

function iso(ms: number | null): string {
  return ms === null ? 'never' : new Date(ms).toISOString();
}

function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

function fail(message: string): number {
  process.stderr.write(`${message}\n`);
  return 1;
}
