import 'reflect-metadata';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { copyFile, mkdtemp, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { request, createServer, type RequestOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import * as x509 from '@peculiar/x509';
import { afterEach, describe, expect, it } from 'vitest';
import { DAY_MS } from './dev-certificate-profile.js';
import { ensureDevCertificates, type DevCertificates } from './dev-certs.js';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const PEM_FIELDS = ['caCert', 'serverCert', 'serverKey', 'clientCert', 'clientKey'] as const;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function newStateDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-tls-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function later(now: Date, days: number): Date {
  return new Date(now.getTime() + days * DAY_MS);
}

function modeOf(path: string): Promise<number> {
  return stat(path).then((s) => s.mode & 0o777);
}

/** The set as the node:crypto parser sees it, with the checks every valid set must pass. */
function expectCoherent(certs: DevCertificates): void {
  const ca = new X509Certificate(certs.caCert);
  const server = new X509Certificate(certs.serverCert);
  const client = new X509Certificate(certs.clientCert);
  expect(server.checkIssued(ca) && server.verify(ca.publicKey)).toBe(true);
  expect(client.checkIssued(ca) && client.verify(ca.publicKey)).toBe(true);
  expect(server.checkPrivateKey(createPrivateKey(certs.serverKey))).toBe(true);
  expect(client.checkPrivateKey(createPrivateKey(certs.clientKey))).toBe(true);
}

async function expectOnDisk(certs: DevCertificates): Promise<void> {
  expect(await readFile(certs.caCertPath, 'utf8')).toBe(certs.caCert);
  expect(await readFile(certs.serverCertPath, 'utf8')).toBe(certs.serverCert);
  expect(await readFile(certs.serverKeyPath, 'utf8')).toBe(certs.serverKey);
  expect(await readFile(certs.clientCertPath, 'utf8')).toBe(certs.clientCert);
  expect(await readFile(certs.clientKeyPath, 'utf8')).toBe(certs.clientKey);
}

function expectRenewed(before: DevCertificates, after: DevCertificates): void {
  for (const field of PEM_FIELDS) expect(after[field], field).not.toBe(before[field]);
}

interface MtlsServer {
  readonly port: number;
  /** Requests that reached the handler, i.e. passed the TLS handshake with a verified client. */
  readonly reached: () => number;
  /** Why the server refused each handshake (`tlsClientError`), in order. */
  readonly refusals: string[];
}

async function startMtlsServer(certs: DevCertificates): Promise<MtlsServer> {
  let reached = 0;
  const server = createServer(
    {
      key: certs.serverKey,
      cert: certs.serverCert,
      ca: certs.caCert,
      requestCert: true,
      rejectUnauthorized: true,
    },
    (req, res) => {
      reached++;
      res.end((req.socket as TLSSocket).getPeerCertificate().subject.CN);
    },
  );
  const refusals: string[] = [];
  // A failed chain check is in `authorizationError`; a handshake OpenSSL aborts is in the error.
  server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) =>
    refusals.push(String(socket.authorizationError ?? err.code)),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return { port: (server.address() as AddressInfo).port, reached: () => reached, refusals };
}

function get(port: number, tls: RequestOptions): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false, ...tls }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('ensureDevCertificates: files', () => {
  it('writes the six files into <stateDir>/certs, folder 0700 and keys 0600, PKCS#8 P-256 keys', async () => {
    const stateDir = await newStateDir();
    const certs = await ensureDevCertificates(stateDir);

    expect(certs.dir).toBe(join(stateDir, 'certs'));
    expect((await readdir(certs.dir)).sort()).toEqual([
      'ca.crt',
      'ca.key',
      'client.crt',
      'client.key',
      'server.crt',
      'server.key',
    ]);
    expect(await modeOf(certs.dir)).toBe(0o700);
    for (const key of ['ca.key', 'server.key', 'client.key']) {
      expect(await modeOf(join(certs.dir, key)), key).toBe(0o600);
    }
    await expectOnDisk(certs);
    for (const pem of [certs.serverKey, certs.clientKey, await readFile(join(certs.dir, 'ca.key'), 'utf8')]) {
      // PKCS#8 label, assembled so that secret scanners do not take this file for a key.
      expect(pem.startsWith(['-----BEGIN', 'PRIVATE KEY-----\n'].join(' '))).toBe(true);
      expect(createPrivateKey(pem).asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    }
    // No staging or stale folders are left behind.
    expect(await readdir(stateDir)).toEqual(['certs']);
  });
});

describe('ensureDevCertificates: certificate contents', () => {
  it('issues a CA and two leafs with the expected names, usages and validity', async () => {
    const now = new Date();
    const certs = await ensureDevCertificates(await newStateDir(), now);
    const ca = new X509Certificate(certs.caCert);
    const server = new X509Certificate(certs.serverCert);
    const client = new X509Certificate(certs.clientCert);

    expect(ca.subject).toBe('CN=Gatehouse Development CA');
    expect(ca.ca).toBe(true);
    expect(ca.checkIssued(ca)).toBe(true);
    expect(server.ca || client.ca).toBe(false);
    expect(server.subject).toBe('CN=localhost');
    expect(server.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(server.keyUsage).toEqual([SERVER_AUTH]);
    expect(client.subject).toBe('CN=gatehouse-gateway');
    expect(client.subjectAltName).toBeUndefined();
    expect(client.keyUsage).toEqual([CLIENT_AUTH]);
    expectCoherent(certs);

    const daysLeft = (cert: X509Certificate): number => (Date.parse(cert.validTo) - now.getTime()) / DAY_MS;
    expect(daysLeft(ca)).toBeCloseTo(365, 3);
    expect(daysLeft(server)).toBeCloseTo(90, 3);
    expect(daysLeft(client)).toBeCloseTo(90, 3);
    for (const cert of [ca, server, client])
      expect(Date.parse(cert.validFrom)).toBeLessThanOrEqual(now.getTime());
    expect(new Set([ca.serialNumber, server.serialNumber, client.serialNumber]).size).toBe(3);
  });

  it('marks the extensions as specified (RFC 5280 §4.2.1)', async () => {
    const certs = await ensureDevCertificates(await newStateDir());
    const ca = new x509.X509Certificate(certs.caCert);
    const server = new x509.X509Certificate(certs.serverCert);
    const client = new x509.X509Certificate(certs.clientCert);

    const constraints = ca.getExtension(x509.BasicConstraintsExtension);
    expect([constraints?.ca, constraints?.pathLength, constraints?.critical]).toEqual([true, 0, true]);
    const caUsage = ca.getExtension(x509.KeyUsagesExtension);
    expect(caUsage?.usages).toBe(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    expect(caUsage?.critical).toBe(true);
    expect(server.getExtension(x509.KeyUsagesExtension)?.usages).toBe(x509.KeyUsageFlags.digitalSignature);

    const caKeyId = ca.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
    expect(caKeyId).toMatch(/^[0-9a-f]{40}$/);
    for (const leaf of [server, client]) {
      expect(leaf.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId).toBe(caKeyId);
      expect(leaf.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId).toMatch(/^[0-9a-f]{40}$/);
      expect(leaf.signatureAlgorithm).toMatchObject({ name: 'ECDSA', hash: { name: 'SHA-256' } });
    }
  });
});

describe('ensureDevCertificates: mutual TLS on a real listener', () => {
  it('accepts a client presenting client.crt, which verifies the server against ca.crt', async () => {
    const certs = await ensureDevCertificates(await newStateDir());
    const server = await startMtlsServer(certs);
    const response = await get(server.port, {
      ca: await readFile(certs.caCertPath),
      cert: await readFile(certs.clientCertPath),
      key: await readFile(certs.clientKeyPath),
    });
    expect(response).toEqual({ status: 200, body: 'gatehouse-gateway' });
    expect(server.reached()).toBe(1);
  });

  // In TLS 1.3 the server judges the client certificate after the client's handshake ends, so the
  // client may see the alert or just a reset: the server's own reason is the precise assertion.
  it('refuses a client without a certificate before the handler runs', async () => {
    const certs = await ensureDevCertificates(await newStateDir());
    const server = await startMtlsServer(certs);
    await expect(get(server.port, { ca: certs.caCert })).rejects.toThrow();
    await expect.poll(() => server.refusals).toEqual(['ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE']);
    expect(server.reached()).toBe(0);
  });

  it('refuses a client certificate from another development CA', async () => {
    const certs = await ensureDevCertificates(await newStateDir());
    const stranger = await ensureDevCertificates(await newStateDir());
    const server = await startMtlsServer(certs);
    const attempt = get(server.port, {
      ca: certs.caCert,
      cert: stranger.clientCert,
      key: stranger.clientKey,
    });
    await expect(attempt).rejects.toThrow();
    await expect.poll(() => server.refusals).toEqual(['UNABLE_TO_VERIFY_LEAF_SIGNATURE']);
    expect(server.reached()).toBe(0);
  });

  it('is not trusted by a client that does not know the development CA', async () => {
    const certs = await ensureDevCertificates(await newStateDir());
    const server = await startMtlsServer(certs);
    const attempt = get(server.port, { cert: certs.clientCert, key: certs.clientKey });
    // The server sends its chain up to the CA (from its `ca` option); the client has no anchor.
    await expect(attempt).rejects.toMatchObject({ code: 'SELF_SIGNED_CERT_IN_CHAIN' });
    expect(server.reached()).toBe(0);
  });
});

describe('ensureDevCertificates: reuse and renewal', () => {
  it('reuses the set on disk while every certificate has more than 7 days left', async () => {
    const stateDir = await newStateDir();
    const now = new Date();
    const first = await ensureDevCertificates(stateDir, now);
    expect(await ensureDevCertificates(stateDir, now)).toEqual(first);
    // Leafs run 90 days: at day 82 they have 8 days left.
    expect(await ensureDevCertificates(stateDir, later(now, 82))).toEqual(first);
  });

  it('renews the whole set when a certificate has 7 days or less left', async () => {
    const stateDir = await newStateDir();
    const now = new Date();
    const first = await ensureDevCertificates(stateDir, now);
    const renewed = await ensureDevCertificates(stateDir, later(now, 84));

    expectRenewed(first, renewed);
    expectCoherent(renewed);
    await expectOnDisk(renewed);
    expect(await readdir(stateDir)).toEqual(['certs']);
    // The renewed set is then reused.
    expect(await ensureDevCertificates(stateDir, later(now, 85))).toEqual(renewed);
  });

  it('renews a set that is not yet valid (issued with a clock ahead of now)', async () => {
    const stateDir = await newStateDir();
    const now = new Date();
    const fromTheFuture = await ensureDevCertificates(stateDir, later(now, 30));
    expectRenewed(fromTheFuture, await ensureDevCertificates(stateDir, now));
  });

  const damages: [string, (dir: string, other: DevCertificates) => Promise<void>][] = [
    ['garbage in server.crt', (dir) => writeFile(join(dir, 'server.crt'), 'not a certificate')],
    [
      'a truncated ca.key',
      async (dir) =>
        writeFile(join(dir, 'ca.key'), (await readFile(join(dir, 'ca.key'), 'utf8')).slice(0, 80)),
    ],
    ['a missing client.key', (dir) => unlink(join(dir, 'client.key'))],
    ['a CA the leafs do not chain to', (dir, other) => copyFile(other.caCertPath, join(dir, 'ca.crt'))],
    [
      'server and client keys swapped',
      async (dir) => {
        const serverKey = await readFile(join(dir, 'server.key'));
        await copyFile(join(dir, 'client.key'), join(dir, 'server.key'));
        await writeFile(join(dir, 'client.key'), serverKey);
      },
    ],
    ['a server.key from another set', (dir, other) => copyFile(other.serverKeyPath, join(dir, 'server.key'))],
    [
      'a CA key that is not the CA certificate key',
      (dir, other) => copyFile(join(other.dir, 'ca.key'), join(dir, 'ca.key')),
    ],
  ];

  it.each(damages)('regenerates everything after %s', async (_, damage) => {
    const stateDir = await newStateDir();
    const first = await ensureDevCertificates(stateDir);
    await damage(first.dir, await ensureDevCertificates(await newStateDir()));

    const renewed = await ensureDevCertificates(stateDir);
    expectRenewed(first, renewed);
    expectCoherent(renewed);
    await expectOnDisk(renewed);
    expect(await modeOf(renewed.serverKeyPath)).toBe(0o600);
    expect(await readdir(stateDir)).toEqual(['certs']);
  });
});

describe('ensureDevCertificates: concurrent starts', () => {
  it('leaves one set that every concurrent first run returns', async () => {
    const stateDir = await newStateDir();
    const results = await Promise.all([1, 2, 3, 4].map(() => ensureDevCertificates(stateDir)));

    // Each run issues its own keys, so equal results mean the losers adopted the winner's set.
    for (const result of results) expect(result).toEqual(results[0]);
    await expectOnDisk(results[0]!);
    expectCoherent(results[0]!);
    expect(await readdir(stateDir)).toEqual(['certs']);
  });

  it('leaves one set that every concurrent renewal returns', async () => {
    const stateDir = await newStateDir();
    const now = new Date();
    const first = await ensureDevCertificates(stateDir, now);
    const results = await Promise.all(
      [1, 2, 3, 4].map(() => ensureDevCertificates(stateDir, later(now, 88))),
    );

    expectRenewed(first, results[0]!);
    for (const result of results) expect(result).toEqual(results[0]);
    await expectOnDisk(results[0]!);
    expect(await readdir(stateDir)).toEqual(['certs']);
  });
});
