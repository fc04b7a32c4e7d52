import { createPrivateKey, X509Certificate } from 'node:crypto';
import {
  DEV_SERVER_HOST,
  DEV_SERVER_IPS,
  RENEW_WITHIN_MS,
  type CertificateSet,
} from './dev-certificate-profile.js';

/**
 * Whether a set read from disk can be reused at `now`: every part parses, the CA is a CA, both
 * leafs chain to *this* CA, each key belongs to its certificate, the server names still match,
 * and every certificate is valid from now until more than seven days on. Uses node:crypto only,
 * so a normal start does not load the certificate generator.
 */
export function isUsableCertificateSet(set: CertificateSet, now: Date): boolean {
  try {
    const ca = new X509Certificate(set.caCert);
    const server = new X509Certificate(set.serverCert);
    const client = new X509Certificate(set.clientCert);
    return (
      isCertificateAuthority(ca) &&
      isIssuedBy(server, ca) &&
      isIssuedBy(client, ca) &&
      [ca, server, client].every((cert) => isCurrent(cert, now)) &&
      holdsKey(ca, set.caKey) &&
      holdsKey(server, set.serverKey) &&
      holdsKey(client, set.clientKey) &&
      servesDevNames(server)
    );
  } catch {
    // Corrupt PEM or key: not usable, the caller issues a new set.
    return false;
  }
}

function isCertificateAuthority(ca: X509Certificate): boolean {
  return ca.ca && ca.checkIssued(ca) && ca.verify(ca.publicKey);
}

function isIssuedBy(leaf: X509Certificate, ca: X509Certificate): boolean {
  return leaf.checkIssued(ca) && leaf.verify(ca.publicKey);
}

function isCurrent(cert: X509Certificate, now: Date): boolean {
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  return from <= now.getTime() && to - now.getTime() > RENEW_WITHIN_MS;
}

function holdsKey(cert: X509Certificate, keyPem: string): boolean {
  return cert.checkPrivateKey(createPrivateKey(keyPem));
}

function servesDevNames(server: X509Certificate): boolean {
  return (
    server.checkHost(DEV_SERVER_HOST) !== undefined &&
    DEV_SERVER_IPS.every((ip) => server.checkIP(ip) !== undefined)
  );
}
