import type { IssueList } from './issues.js';
import type { LoadContext } from './files.js';
import { isRecord } from './raw.js';
import { readSecretAt } from './secrets.js';
import { loadServerTls } from './tls-material.js';
import type { ServerTls } from './types.js';

/** The secrets of the `keys:` and `admin:` sections, read from their references. */
export interface KeysAdminSecrets {
  readonly postgresUrl: string | null;
  readonly redisUrl: string | null;
  readonly adminToken: string | null;
  readonly adminTls: ServerTls | null;
}

/** Shorter than this, an admin token is a password someone chose, not a random secret. */
export const MIN_ADMIN_TOKEN_CHARS = 32;

/**
 * Resolves the secret references of `keys:` (PostgreSQL and Redis URLs can carry passwords) and
 * `admin:` (its token and TLS identity). Every problem is added to `issues` with its path; no
 * message repeats a secret.
 */
export async function loadKeysAdminSecrets(
  data: unknown,
  ctx: LoadContext,
  issues: IssueList,
): Promise<KeysAdminSecrets> {
  const keys = isRecord(data) && isRecord(data.keys) ? data.keys : {};
  const store = isRecord(keys.store) ? keys.store : {};
  const sync = isRecord(keys.sync) ? keys.sync : {};
  const postgres = isRecord(store.postgres) ? store.postgres : {};
  const postgresUrl = await readSecretAt(postgres, ['keys', 'store', 'postgres', 'url'], ctx, issues);
  const redisUrl = await readSecretAt(sync, ['keys', 'sync', 'redisUrl'], ctx, issues);
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
