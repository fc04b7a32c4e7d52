import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSigningKeyRing, rotationTimingOf } from '../auth/signing/signing-keys.js';
import { startBank, type Bank } from '../bank/server.js';
import { seedDemo, type SeededUser } from '../bank/seed.js';
import { loadConfig } from '../config/index.js';
import type { GatehouseConfig } from '../config/types.js';
import { startGatehouse, type Gatehouse } from '../process/gatehouse.js';
import { createLogger } from '../observe/logger.js';
import { ensureDevCertificates, type DevCertificates } from '../tls/dev-certs.js';
import type { DemoCredentials, DemoUser } from './file-shapes.js';
import { printGuide } from './guide.js';

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * `npm start`: the bank on SQLite (https://127.0.0.1:8444, mTLS only) behind Gatehouse
 * (https://127.0.0.1:8443), zero set-up. Certificates, the gateway's signing key and the admin
 * token are made on first run; users get new random passwords and API keys on every start, and
 * the keys of the previous start are revoked.
 */
export async function runDemo(): Promise<void> {
  const stateDir = path.join(packageRoot, '.gatehouse');
  const demoDir = path.join(stateDir, 'demo');
  await mkdir(demoDir, { recursive: true, mode: 0o700 });
  const adminToken = await ensureAdminToken(path.join(demoDir, 'admin-token'));
  // Before the configuration is read: it names the development CA as the bank JWKS's trust.
  const certs = await ensureDevCertificates(stateDir);
  const config = await loadConfig(path.join(packageRoot, 'examples', 'demo.yaml'));
  const bank = await startDemoBank(config, certs);
  let gateway: Gatehouse | null = null;
  try {
    gateway = await startGatehouse(config, createLogger(config.log));
    const users = await issueDemoKeys(gateway, await seedDemo(bank.store), demoDir);
    const credentials = await writeCredentials(demoDir, gateway, certs, adminToken, users);
    await printGuide(credentials, path.join(demoDir, 'credentials.json'));
  } catch (err) {
    await gateway?.close(500);
    await bank.close();
    throw err;
  }
  const running = gateway;
  const stop = (): void => {
    Promise.all([running.close(2_000), bank.close()]).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

async function ensureAdminToken(file: string): Promise<string> {
  const existing = await readFile(file, 'utf8').catch(() => '');
  if (existing.trim().length >= 32) return existing.trim();
  const token = randomBytes(32).toString('base64url');
  await writeFile(file, token + '\n', { mode: 0o600 });
  return token;
}

/** The bank trusts the gateway's signing keys (the same ring the gateway signs assertions with). */
async function startDemoBank(config: GatehouseConfig, certs: DevCertificates): Promise<Bank> {
  const ring = await loadSigningKeyRing(
    config.auth.signingKeys,
    config.stateDir,
    rotationTimingOf(config.auth),
  );
  const upstream = new URL(config.apis[0]!.upstream.url);
  return startBank({
    port: Number(upstream.port),
    tls: { key: certs.serverKey, cert: certs.serverCert, ca: certs.caCert },
    gateway: {
      issuer: config.auth.issuer,
      audience: config.apis[0]!.name,
      keys: { keys: [...ring.jwks.keys] },
    },
    database: { kind: 'sqlite', path: path.join(config.stateDir, 'bank', 'bank.db') },
    tokens: { issuer: upstream.origin },
    logger: false,
  });
}

async function issueDemoKeys(gateway: Gatehouse, users: SeededUser[], demoDir: string): Promise<DemoUser[]> {
  const lifecycle = gateway.keys.lifecycle;
  for (const id of await previousKeyIds(demoDir)) await lifecycle.revoke(id);
  const out: DemoUser[] = [];
  for (const user of users) {
    if (user.role !== 'customer') {
      out.push({ ...user, apiKeys: null, apiKeyIds: [] });
      continue;
    }
    const full = await lifecycle.create({
      ...keyRequest(user),
      scopes: ['accounts:read', 'transfers:write'],
    });
    const readOnly = await lifecycle.create({ ...keyRequest(user), scopes: ['accounts:read'] });
    out.push({
      ...user,
      apiKeys: { full: full.key, readOnly: readOnly.key },
      apiKeyIds: [full.record.id, readOnly.record.id],
    });
  }
  return out;
}

/** Demo keys carry the `test` environment tag and expire after a week. */
function keyRequest(user: SeededUser): { consumer: string; env: 'test'; lifetimeMs: number } {
  return { consumer: user.id, env: 'test', lifetimeMs: 7 * 24 * 3600 * 1000 };
}

async function previousKeyIds(demoDir: string): Promise<string[]> {
  try {
    const previous = JSON.parse(
      await readFile(path.join(demoDir, 'credentials.json'), 'utf8'),
    ) as DemoCredentials;
    return previous.users.flatMap((user) => user.apiKeyIds ?? []);
  } catch {
    return [];
  }
}

async function writeCredentials(
  demoDir: string,
  gateway: Gatehouse,
  certs: DevCertificates,
  adminToken: string,
  users: DemoUser[],
): Promise<DemoCredentials> {
  const address = gateway.addresses.get('public')!;
  const admin = gateway.adminAddress;
  const credentials: DemoCredentials = {
    gateway: `https://${address.address}:${address.port}`,
    ca: certs.caCertPath,
    admin: { url: admin === null ? '' : `https://${admin.address}:${admin.port}`, token: adminToken },
    users: users.map((user) => ({
      username: user.username,
      password: user.password,
      role: user.role,
      accounts: user.accounts,
      apiKeys: user.apiKeys,
      apiKeyIds: user.apiKeyIds,
    })),
  };
  await writeFile(path.join(demoDir, 'credentials.json'), JSON.stringify(credentials, null, 2) + '\n', {
    mode: 0o600,
  });
  return credentials;
}
