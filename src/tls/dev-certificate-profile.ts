/**
 * What a development certificate set is, shared by the code that issues it and the code that
 * decides whether one on disk can be reused. No dependencies, so reading it is cheap.
 */

/** PEM texts of one development set: a CA and the two leafs it signed. Keys are PKCS#8. */
export interface CertificateSet {
  readonly caCert: string;
  readonly caKey: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
}

export const DEV_CA_NAME = 'CN=Gatehouse Development CA';
export const DEV_SERVER_HOST = 'localhost';
export const DEV_SERVER_IPS: readonly string[] = ['127.0.0.1', '::1'];
/** The gateway's identity towards upstreams (mTLS client certificate). */
export const DEV_CLIENT_NAME = 'CN=gatehouse-gateway';

export const DAY_MS = 86_400_000;
export const CA_VALIDITY_DAYS = 365;
export const LEAF_VALIDITY_DAYS = 90;
/** A set with less than this left on any certificate is renewed rather than reused. */
export const RENEW_WITHIN_MS = 7 * DAY_MS;
