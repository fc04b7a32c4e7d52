import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { JSONWebKeySet } from 'jose';
import { ensureDevCertificates } from '../tls/dev-certs.js';
import type { BankOptions } from './options.js';
import type { BankDatabase } from './store/open-store.js';

/**
 * The bank's configuration from the environment (for `node dist/bank/main.js`):
 *
 * | variable | default | meaning |
 * |---|---|---|
 * | BANK_STATE_DIR | .gatehouse | dev certificates (`certs/`) and the SQLite file (`bank/bank.db`) |
 * | BANK_HOST, BANK_PORT | 127.0.0.1, 8444 | where it listens (HTTPS, loopback) |
 * | DATABASE_URL | — | PostgreSQL instead of SQLite when set |
 * | BANK_DATABASE_SCHEMA | bank | PostgreSQL schema |
 * | BANK_SQLITE_PATH | $BANK_STATE_DIR/bank/bank.db | SQLite file |
 * | BANK_GATEWAY_KEYS | (required to serve) | file with the gateway's assertion keys: a JWK Set, or PEM public keys |
 * | BANK_GATEWAY_ISSUER | urn:gatehouse | the gateway's `auth.issuer` |
 * | BANK_AUDIENCE | bank | the bank's API name in the gateway config (assertion `aud`) |
 * | BANK_IDENTITY_HEADER | gatehouse-identity | assertion header |
 * | BANK_TOKEN_ISSUER, BANK_TOKEN_AUDIENCE | https://127.0.0.1:8444, bank-api | `iss` / `aud` of the bank's access tokens |
 * | BANK_TLS_CERT, BANK_TLS_KEY, BANK_TLS_CA | dev certificates | PEM files: server certificate, key, CA of the gateway's client certificate |
 * | BANK_LOG_LEVEL | warn | pino level, or `silent` |
 */
export type Env = Readonly<Record<string, string | undefined>>;

export function databaseFromEnv(env: Env): BankDatabase {
  const url = env['DATABASE_URL'];
  if (url !== undefined && url !== '') {
    return { kind: 'postgres', url, schema: env['BANK_DATABASE_SCHEMA'] ?? 'bank' };
  }
  return {
    kind: 'sqlite',
    path: env['BANK_SQLITE_PATH'] ?? path.join(stateDirFromEnv(env), 'bank', 'bank.db'),
  };
}

export function stateDirFromEnv(env: Env): string {
  return path.resolve(env['BANK_STATE_DIR'] ?? '.gatehouse');
}

export async function bankOptionsFromEnv(env: Env): Promise<BankOptions> {
  const keysFile = env['BANK_GATEWAY_KEYS'];
  if (keysFile === undefined || keysFile === '') {
    throw new Error("BANK_GATEWAY_KEYS must name a file with the gateway's public keys (JWK Set or PEM)");
  }
  const host = env['BANK_HOST'] ?? '127.0.0.1';
  const port = Number(env['BANK_PORT'] ?? '8444');
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new Error('BANK_PORT must be a port number');
  const level = env['BANK_LOG_LEVEL'] ?? 'warn';
  return {
    host,
    port,
    tls: await tlsFromEnv(env),
    gateway: {
      issuer: env['BANK_GATEWAY_ISSUER'] ?? 'urn:gatehouse',
      audience: env['BANK_AUDIENCE'] ?? 'bank',
      keys: readGatewayKeys(keysFile),
      ...(env['BANK_IDENTITY_HEADER'] === undefined ? {} : { identityHeader: env['BANK_IDENTITY_HEADER'] }),
    },
    database: databaseFromEnv(env),
    tokens: {
      issuer: env['BANK_TOKEN_ISSUER'] ?? `https://127.0.0.1:8444`,
      audience: env['BANK_TOKEN_AUDIENCE'] ?? 'bank-api',
    },
    logger: level === 'silent' ? false : { level },
  };
}

async function tlsFromEnv(env: Env): Promise<BankOptions['tls']> {
  const [cert, key, ca] = [env['BANK_TLS_CERT'], env['BANK_TLS_KEY'], env['BANK_TLS_CA']];
  if (cert !== undefined && key !== undefined && ca !== undefined) {
    return { cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8'), ca: readFileSync(ca, 'utf8') };
  }
  const dev = await ensureDevCertificates(stateDirFromEnv(env));
  return { cert: dev.serverCert, key: dev.serverKey, ca: dev.caCert };
}

/** A JWK Set (JSON) or one or more PEM public keys / certificates, one after the other. */
export function readGatewayKeys(file: string): JSONWebKeySet | string[] {
  const text = readFileSync(file, 'utf8').trim();
  if (text.startsWith('{')) return JSON.parse(text) as JSONWebKeySet;
  const blocks = text.match(/-----BEGIN [A-Z ]+-----[\s\S]+?-----END [A-Z ]+-----/g);
  if (blocks === null) throw new Error(`${file}: neither a JWK Set nor PEM`);
  return blocks;
}
