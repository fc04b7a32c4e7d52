import { parseStoreUrl, productOf, storeEndpoint, type StoreKind } from './store-url.js';

/** Why a configured store cannot be used, in the words of a configuration issue. */
export interface StoreFailure {
  /** What is wrong: names the address, never the URL (it may hold a password). */
  readonly reason: string;
  /** What to change. */
  readonly hint: string;
}

/**
 * A configured store could not be opened (the key store at start, or for `gatehouse keys`):
 * names the configuration key, the cause and the fix, in one line. The client's error is kept
 * as `cause` for GATEHOUSE_DEBUG=1.
 */
export class StoreUnavailable extends Error {
  readonly code = 'GH_STORE_UNAVAILABLE';
  /** The configuration key, e.g. `keys.store.postgres.url`. */
  readonly path: string;
  readonly reason: string;
  readonly hint: string;

  constructor(path: string, failure: StoreFailure, cause: unknown) {
    super(`${path}: ${failure.reason} — ${failure.hint}`, { cause });
    this.name = 'StoreUnavailable';
    this.path = path;
    this.reason = failure.reason;
    this.hint = failure.hint;
  }
}

interface ClientError {
  readonly code: string;
  readonly message: string;
}

const unresolved = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_FAIL']);
const unreachable = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'EHOSTDOWN']);
const closed =
  /^(?:Connection terminated unexpectedly|Connection is closed\.?)$|ECONNRESET|EPIPE|socket hang up/;
const timedOut = /timeout|timed out|ETIMEDOUT/i;

/**
 * Turns what node-postgres or ioredis threw while connecting into a reason and a fix. Server
 * messages (SQLSTATE errors) name users and databases, never passwords; any other text has the
 * URL and its password taken out.
 */
export function describeStoreFailure(
  kind: StoreKind,
  url: string,
  err: unknown,
  timeoutMs: number,
): StoreFailure {
  const endpoint = storeEndpoint(kind, url);
  const at = endpoint?.address ?? 'the server';
  const product = productOf(kind);
  const { code, message } = clientError(err, kind, url);
  if (code === 'ECONNREFUSED') {
    return {
      reason: `cannot connect to ${at} (ECONNREFUSED)`,
      hint: `check host and port, and that ${product} runs`,
    };
  }
  if (unresolved.has(code)) {
    return {
      reason: `cannot resolve the host of ${at} (${code})`,
      hint: 'check the host name, and DNS on this machine',
    };
  }
  if (unreachable.has(code)) {
    return {
      reason: `cannot reach ${at} (${code})`,
      hint: 'check the host, the network and any firewall between',
    };
  }
  const specific =
    kind === 'postgres'
      ? postgresFailure(code, message, at, endpoint?.database ?? null)
      : redisFailure(message);
  if (specific !== null) return specific;
  if (code === 'EPROTO' || /wrong version number|SSL routines|ssl3_get_record/i.test(message)) {
    return { reason: `TLS with ${at} failed (${code || 'EPROTO'})`, hint: tlsOffHint(kind) };
  }
  if (code.startsWith('ERR_TLS') || /certificate/i.test(message)) {
    return {
      reason: `TLS with ${at} failed: ${message}`,
      hint: 'the server must present a certificate for its host name that this machine trusts (a private CA: NODE_EXTRA_CA_CERTS=ca.pem)',
    };
  }
  if (timedOut.test(code) || timedOut.test(message)) {
    return {
      reason: `no answer from ${at} within ${timeoutMs / 1000} s`,
      hint: `check host, port and any firewall, and that ${product} runs there${endpoint?.tls ? `; if it does not take TLS, ${tlsDropHint(kind)}` : ''}`,
    };
  }
  if (closed.test(code) || closed.test(message)) {
    return {
      reason: `${at} closed the connection before ${product} answered`,
      hint: `check that ${at} is a ${product} server; if it takes TLS only, ${tlsOnHint(kind)}`,
    };
  }
  return { reason: `cannot use ${at}: ${message}`, hint: `check the URL, and that ${product} runs there` };
}

/** SQLSTATE codes (PostgreSQL, appendix A) and node-postgres's own login errors. */
function postgresFailure(
  code: string,
  message: string,
  at: string,
  database: string | null,
): StoreFailure | null {
  switch (code) {
    case '3D000':
      return {
        reason: message,
        hint: `create it (createdb ${database ?? 'NAME'}) or correct the database name at the end of the URL`,
      };
    case '28P01':
      return { reason: message, hint: 'check the user name and password in the URL' };
    case '28000':
      return /no encryption|SSL off/i.test(message)
        ? { reason: message, hint: `the server takes this login over TLS only: ${tlsOnHint('postgres')}` }
        : { reason: message, hint: "check the user name in the URL, and the server's pg_hba.conf" };
    case '42501':
      return {
        reason: message,
        hint: 'grant the user CREATE on the database, or create the schema for it (CREATE SCHEMA name AUTHORIZATION user)',
      };
    case '57P03':
      return { reason: message, hint: 'the server is starting or stopping: try again in a moment' };
    case '53300':
      return { reason: message, hint: "raise the server's max_connections, or close other clients" };
  }
  if (/client password must be/.test(message)) {
    return {
      reason: 'the server asks for a password and the URL has none',
      hint: 'add the password to the URL, and give the URL by reference (url: env:DATABASE_URL)',
    };
  }
  if (/does not support SSL/.test(message)) {
    return { reason: `${at} does not take TLS`, hint: tlsOffHint('postgres') };
  }
  return null;
}

function redisFailure(message: string): StoreFailure | null {
  if (message.startsWith('NOAUTH')) {
    return {
      reason: 'the server asks for a password and the URL has none',
      hint: 'write redis://:PASSWORD@host:6379 in an environment variable and env:REDIS_URL here',
    };
  }
  if (message.startsWith('WRONGPASS')) {
    return { reason: 'login refused (WRONGPASS)', hint: 'check the user name and password in the URL' };
  }
  return null;
}

function tlsOnHint(kind: StoreKind): string {
  return kind === 'postgres' ? 'add ?sslmode=verify-full to the URL' : 'write rediss:// instead of redis://';
}

function tlsDropHint(kind: StoreKind): string {
  return kind === 'postgres' ? 'remove sslmode/ssl from the URL' : 'write redis:// instead of rediss://';
}

function tlsOffHint(kind: StoreKind): string {
  return `the server does not speak TLS there: ${tlsDropHint(kind)}, or enable TLS on the server`;
}

/** The code and message of what a client threw, with the URL and its password taken out. */
function clientError(err: unknown, kind: StoreKind, url: string): ClientError {
  // Node reports a connection tried on several addresses (localhost: ::1, then 127.0.0.1) as one AggregateError.
  const first = err instanceof AggregateError && err.errors.length > 0 ? (err.errors[0] as unknown) : err;
  const raw = first instanceof Error ? first : new Error(String(first));
  const code = (raw as { code?: unknown }).code ?? (err as { code?: unknown } | null)?.code;
  return { code: typeof code === 'string' ? code : '', message: redact(oneLine(raw.message), kind, url) };
}

function redact(message: string, kind: StoreKind, url: string): string {
  let out = message.split(url).join('[url]');
  for (const secret of passwordsOf(kind, url)) out = out.split(secret).join('[redacted]');
  return out.length > 300 ? `${out.slice(0, 300)}…` : out;
}

/** The password as written and as decoded, and a password= parameter. */
function passwordsOf(kind: StoreKind, url: string): string[] {
  const parsed = parseStoreUrl(kind, url);
  if (parsed === null) return [];
  let decoded = parsed.password;
  try {
    decoded = decodeURIComponent(parsed.password);
  } catch {
    // a malformed escape: the password as written is all there is to take out
  }
  const param = parsed.searchParams.get('password') ?? '';
  return [parsed.password, decoded, param].filter((secret) => secret !== '');
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
