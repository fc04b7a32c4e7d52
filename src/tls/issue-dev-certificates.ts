import 'reflect-metadata';
import { KeyObject, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import {
  CA_VALIDITY_DAYS,
  DAY_MS,
  DEV_CA_NAME,
  DEV_CLIENT_NAME,
  DEV_SERVER_HOST,
  DEV_SERVER_IPS,
  LEAF_VALIDITY_DAYS,
  type CertificateSet,
} from './dev-certificate-profile.js';

/** Backdated so a set is usable at once despite whole-second X.509 times and small clock skew. */
const BACKDATE_MS = 60_000;

const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;

// The library signs through its default provider, which on Node is `globalThis.crypto`: the same
// WebCrypto as `webcrypto` here, so no `x509.cryptoProvider.set` is needed.
type KeyPair = webcrypto.CryptoKeyPair;

interface LeafProfile {
  readonly subject: string;
  readonly usage: x509.ExtendedKeyUsage;
  readonly extra: readonly x509.Extension[];
}

/** Creates a fresh CA, server and client certificate, valid from `now`. */
export async function issueDevCertificates(now: Date): Promise<CertificateSet> {
  const [caKeys, serverKeys, clientKeys] = await Promise.all([newKeyPair(), newKeyPair(), newKeyPair()]);
  const ca = await issueCa(caKeys, now);
  const [server, client] = await Promise.all([
    issueLeaf(serverProfile(), serverKeys, ca, caKeys, now),
    issueLeaf(clientProfile(), clientKeys, ca, caKeys, now),
  ]);
  return {
    caCert: ca.toString('pem'),
    caKey: toPkcs8Pem(caKeys),
    serverCert: server.toString('pem'),
    serverKey: toPkcs8Pem(serverKeys),
    clientCert: client.toString('pem'),
    clientKey: toPkcs8Pem(clientKeys),
  };
}

function newKeyPair(): Promise<KeyPair> {
  return webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']);
}

function toPkcs8Pem(keys: KeyPair): string {
  return KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }) as string;
}

function validity(now: Date, days: number): { notBefore: Date; notAfter: Date } {
  return {
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + days * DAY_MS),
  };
}

// The serial number is left to the library: 16 random octets, made a positive DER INTEGER
// (RFC 5280 §4.1.2.2).
async function issueCa(keys: KeyPair, now: Date): Promise<x509.X509Certificate> {
  const usages = x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign;
  return x509.X509CertificateGenerator.createSelfSigned({
    name: DEV_CA_NAME,
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    ...validity(now, CA_VALIDITY_DAYS),
    extensions: [
      // pathLen 0: this CA signs leafs only, never another CA (RFC 5280 §4.2.1.9).
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(usages, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
}

function serverProfile(): LeafProfile {
  const names: x509.JsonGeneralNames = [
    { type: 'dns', value: DEV_SERVER_HOST },
    ...DEV_SERVER_IPS.map((value) => ({ type: 'ip' as const, value })),
  ];
  return {
    subject: `CN=${DEV_SERVER_HOST}`,
    usage: x509.ExtendedKeyUsage.serverAuth,
    extra: [new x509.SubjectAlternativeNameExtension(names, false)],
  };
}

function clientProfile(): LeafProfile {
  return { subject: DEV_CLIENT_NAME, usage: x509.ExtendedKeyUsage.clientAuth, extra: [] };
}

async function issueLeaf(
  profile: LeafProfile,
  keys: KeyPair,
  ca: x509.X509Certificate,
  caKeys: KeyPair,
  now: Date,
): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.create({
    subject: profile.subject,
    issuer: ca.subjectName,
    publicKey: keys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    ...validity(now, LEAF_VALIDITY_DAYS),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([profile.usage], false),
      ...profile.extra,
      await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
}
