import type { IssueList } from './issues.js';
import type { LoadContext } from './files.js';
import { isRecord } from './raw.js';
import { readSecretAt } from './secrets.js';
import { readStoreUrl } from './store-url.js';
import { loadServerTls } from './tls-material.js';
import type { ServerTls } from './types.js';

/** The store URLs of the `keys:` section. */
export interface KeysStoreUrls {
  readonly postgresUrl: string | null;
  readonly redisUrl: string | null;
}

/** The secrets of the `keys:` and `admin:` sections, read from their references. */
export interface KeysAdminSecrets extends KeysStoreUrls {
  readonly adminToken: string | null;
  readonly adminTls: ServerTls | null;
}

/** Shorter than this, an admin token is a password someone chose, not a random secret. */
export const MIN_ADMIN_TOKEN_CHARS = 32;

/**
 * Reads the store URLs of `keys:` (inline without a password, else a secret reference: see
 * store-url.ts) and resolves the secret references of `admin:` (its token and TLS identity).
 * Every problem is added to `issues` with its path; no message repeats a secret.
 */
export async function loadKeysAdminSecrets(
  data: unknown,
  ctx: LoadContext,
  issues: IssueList,
): Promise<KeysAdminSecrets> {
  const { postgresUrl, redisUrl } = await loadKeysStoreUrls(data, ctx, issues);
  if (!isRecord(data) || !isRecord(data.admin)) {
    return { postgresUrl, redisUrl, adminToken: null, adminTls: null };
  }
  const admin = data.admin;
  const adminToken = await readSecretAt(admin, ['admin', 'token'], ctx, issues);
  if (adminToken !== null && adminToken.trim().length < MIN_ADMIN_TOKEN_CHARS) {
    issues.add(
      ['admin', 'token'],
      `names a token shorter than ${MIN_ADMIN_TOKEN_CHARS} characters`,
      'use a random token, e.g. the output of: openssl rand -hex 32',
    );
  }
  const adminTls = await loadServerTls(admin.tls ?? 'dev', ['admin', 'tls'], ctx, issues);
  return { postgresUrl, redisUrl, adminToken: adminToken?.trim() ?? null, adminTls };
}

/** The PostgreSQL and Redis URLs of `keys:` (inline without a password, else a reference: store-url.ts). */
export async function loadKeysStoreUrls(
  data: unknown,
  ctx: LoadContext,
  issues: IssueList,
): Promise<KeysStoreUrls> {
  const keys = isRecord(data) && isRecord(data.keys) ? data.keys : {};
  const store = isRecord(keys.store) ? keys.store : {};
  const sync = isRecord(keys.sync) ? keys.sync : {};
  const postgres = isRecord(store.postgres) ? store.postgres : {};
  return {
    postgresUrl: await readStoreUrl(postgres, ['keys', 'store', 'postgres', 'url'], 'postgres', ctx, issues),
    redisUrl: await readStoreUrl(sync, ['keys', 'sync', 'redisUrl'], 'redis', ctx, issues),
  };
}
