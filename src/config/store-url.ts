import type { LoadContext } from './files.js';
import type { ConfigPath, IssueList } from './issues.js';
import { stringIn, type RawRecord } from './raw.js';
import { readSecretRef } from './secrets.js';
import type { GatehouseConfig } from './types.js';

/** The stores the configuration names by URL: the PostgreSQL key store and Redis. */
export type StoreKind = 'postgres' | 'redis';

interface UrlRule {
  readonly product: string;
  readonly schemes: readonly string[];
  readonly example: string;
  /** The environment variable suggested when the URL must move out of the file. */
  readonly envName: string;
  readonly defaultPort: number;
}

const rules: Readonly<Record<StoreKind, UrlRule>> = {
  postgres: {
    product: 'PostgreSQL',
    schemes: ['postgres:', 'postgresql:'],
    example: 'postgres://user@host:5432/database',
    envName: 'DATABASE_URL',
    defaultPort: 5432,
  },
  redis: {
    product: 'Redis',
    schemes: ['redis:', 'rediss:'],
    example: 'redis://host:6379 (rediss:// for TLS)',
    envName: 'REDIS_URL',
    defaultPort: 6379,
  },
};

export function productOf(kind: StoreKind): string {
  return rules[kind].product;
}

const reference = /^(?:env|file):/;
const urlShape = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

/**
 * Reads a store URL (`keys.store.postgres.url`, `keys.sync.redisUrl`, `redis.url`), one rule for
 * all three: a plain URL without a password may be written inline; a URL that holds a password
 * only through an env:NAME or file:PATH reference (DESIGN.md, "Security defaults"). Returns the
 * URL, or null when it is absent or wrong, in which case the issue is added at `at`. No message
 * repeats the URL: it may hold a password.
 */
export async function readStoreUrl(
  section: RawRecord,
  at: ConfigPath,
  kind: StoreKind,
  ctx: LoadContext,
  issues: IssueList,
): Promise<string | null> {
  const raw = stringIn(section, String(at[at.length - 1]));
  if (raw === undefined || raw === '') return null; // absent, or the schema reported it
  const rule = rules[kind];
  if (reference.test(raw)) {
    const read = await readSecretRef(raw, ctx);
    if ('message' in read) {
      issues.add(at, read.message, read.hint);
      return null;
    }
    const url = read.secret.trim();
    return urlProblem(kind, url, read.source, at, issues) ? null : url;
  }
  if (!urlShape.test(raw)) {
    issues.add(
      at,
      'is neither a URL nor a secret reference (env:NAME or file:PATH)',
      `write ${rule.example}, or env:${rule.envName} when the URL holds a password`,
    );
    return null;
  }
  if (urlProblem(kind, raw, null, at, issues)) return null;
  if (!hasPassword(parseStoreUrl(kind, raw)!)) return raw;
  issues.add(
    at,
    'holds a password inline',
    `put the URL in an environment variable or a file and write env:${rule.envName} (or file:PATH) here; a URL without a password may stay inline`,
  );
  return null;
}

/**
 * Adds the issue and returns true when `url` does not parse or names another scheme; `source`
 * names the variable or file it was read from, null when it is written inline.
 */
function urlProblem(
  kind: StoreKind,
  url: string,
  source: string | null,
  at: ConfigPath,
  issues: IssueList,
): boolean {
  const rule = rules[kind];
  const parsed = parseStoreUrl(kind, url);
  if (parsed === null) {
    issues.add(
      at,
      source === null ? 'is not a valid URL' : `${source} holds no valid URL`,
      `write ${rule.example}; percent-encode reserved characters in the user name and password (@ as %40, # as %23, / as %2F) and keep the port within 1-65535`,
    );
    return true;
  }
  if (rule.schemes.includes(parsed.protocol)) return false;
  const scheme = /^[a-z][a-z0-9+.-]*:$/i.test(parsed.protocol) ? parsed.protocol : 'another scheme';
  const instead = `${scheme}// instead of ${rule.schemes.map((s) => `${s}//`).join(' or ')}`;
  issues.add(
    at,
    source === null ? `uses ${instead}` : `${source} holds a URL with ${instead}`,
    `write ${rule.example}`,
  );
  return true;
}

/**
 * Parses a store URL as its client will. node-postgres also takes "user@/db" (no host: the
 * default one), so that form is read with localhost in its place.
 */
export function parseStoreUrl(kind: StoreKind, url: string): URL | null {
  const parsed = parseUrl(url);
  if (parsed !== null || kind !== 'postgres') return parsed;
  return parseUrl(url.replace('@/', '@localhost/'));
}

function parseUrl(url: string): URL | null {
  try {
    return new URL(url);
  } catch {
    return null;
  }
}

function hasPassword(url: URL): boolean {
  return url.password !== '' || url.searchParams.has('password');
}

/** A store the configuration names, with the key it is named at. */
export interface ConfiguredStore {
  readonly at: ConfigPath;
  readonly kind: StoreKind;
  readonly url: string;
}

/** Every store URL of a configuration: the PostgreSQL key store, the Redis of key sync, of the limits and bans. */
export function configuredStores(config: GatehouseConfig): ConfiguredStore[] {
  const stores: ConfiguredStore[] = [];
  const keyStore = config.keys.store;
  if (keyStore.kind === 'postgres') {
    stores.push({ at: ['keys', 'store', 'postgres', 'url'], kind: 'postgres', url: keyStore.url });
  }
  const syncUrl = config.keys.sync.redisUrl;
  if (syncUrl !== null) stores.push({ at: ['keys', 'sync', 'redisUrl'], kind: 'redis', url: syncUrl });
  if (config.redis !== null) stores.push({ at: ['redis', 'url'], kind: 'redis', url: config.redis.url });
  return stores;
}

/** Where a store URL points, for messages and the log: never its user name or password. */
export interface StoreEndpoint {
  /** host:port, or the Unix socket. */
  readonly address: string;
  /** The PostgreSQL database, or the Redis database number; null when the URL names none. */
  readonly database: string | null;
  readonly tls: boolean;
}

export function storeEndpoint(kind: StoreKind, url: string): StoreEndpoint | null {
  const parsed = parseStoreUrl(kind, url);
  if (parsed === null) return null;
  const params = parsed.searchParams;
  const host =
    (kind === 'postgres' ? params.get('host') : null) ?? decode(parsed.hostname.replace(/^\[(.*)\]$/, '$1'));
  const port =
    (kind === 'postgres' ? params.get('port') : null) ?? (parsed.port || String(rules[kind].defaultPort));
  const database = decode(parsed.pathname.slice(1)) || null;
  const tls =
    kind === 'redis'
      ? parsed.protocol === 'rediss:'
      : ['require', 'verify-ca', 'verify-full'].includes(params.get('sslmode') ?? '') ||
        params.get('ssl') === 'true';
  return { address: addressOf(host || 'localhost', port), database, tls };
}

function addressOf(host: string, port: string): string {
  if (host.startsWith('/')) return `${host}/.s.PGSQL.${port}`;
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
