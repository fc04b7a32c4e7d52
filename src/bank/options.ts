import type { JSONWebKeySet } from 'jose';
import type { LoginBackoff } from './auth/login-backoff.js';
import type { PasswordHashing } from './auth/passwords.js';
import type { TokenIssuerOptions } from './auth/token-issuer.js';
import type { MoneyRules } from './money/rules.js';
import type { BankDatabase } from './store/open-store.js';
import { DEFAULT_IDENTITY_HEADER, createGatewayIdentityVerifier } from './trust/gateway-identity.js';

/** Everything `startBank` takes; only `tls`, `gateway` and `database` have no default. */
export interface BankOptions {
  /** Loopback by default; the bank is reached through the gateway only. */
  readonly host?: string;
  /** 8444 by default; 0 picks a free port. */
  readonly port?: number;
  /** The bank's server certificate and key, and the CA that signed the gateway's client certificate. */
  readonly tls: { readonly key: string; readonly cert: string; readonly ca: string };
  readonly gateway: {
    /** The gateway's `auth.issuer`. */
    readonly issuer: string;
    /** The bank's API name in the gateway's configuration (the assertion's `aud`); default `bank`. */
    readonly audience?: string;
    /** The gateway's assertion-signing public keys (JWK Set or PEM). */
    readonly keys: JSONWebKeySet | readonly string[];
    /** Default `gatehouse-identity`. */
    readonly identityHeader?: string;
    /** CN of the gateway's client certificate; default `gatehouse-gateway`. */
    readonly certificateName?: string;
  };
  readonly database: BankDatabase;
  /** The bank's own access tokens; `issuer` defaults to the bank's URL, `audience` to `bank-api`. */
  readonly tokens?: Partial<TokenIssuerOptions>;
  readonly money?: MoneyRules;
  readonly passwordHashing?: PasswordHashing;
  readonly loginBackoff?: LoginBackoff;
  /** A pino logger configuration for fastify; false (default) logs nothing. */
  readonly logger?: false | { readonly level: string };
}

export const DEFAULT_BANK_PORT = 8444;
export const DEFAULT_BANK_AUDIENCE = 'bank';
export const DEFAULT_TOKEN_AUDIENCE = 'bank-api';
export const DEFAULT_GATEWAY_CERTIFICATE_NAME = 'gatehouse-gateway';

/** Options with every default filled in and the trust check built. */
export function resolveBankOptions(options: BankOptions) {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? DEFAULT_BANK_PORT;
  const identityHeader = options.gateway.identityHeader ?? DEFAULT_IDENTITY_HEADER;
  return {
    host,
    port,
    tls: options.tls,
    database: options.database,
    logger:
      options.logger === undefined || options.logger === false ? false : { level: options.logger.level },
    gate: {
      gatewayCertificateName: options.gateway.certificateName ?? DEFAULT_GATEWAY_CERTIFICATE_NAME,
      identityHeader,
      verifyIdentity: createGatewayIdentityVerifier({
        issuer: options.gateway.issuer,
        audience: options.gateway.audience ?? DEFAULT_BANK_AUDIENCE,
        keys: options.gateway.keys,
      }),
    },
    tokens: {
      issuer: options.tokens?.issuer ?? `https://${host}:${port === 0 ? DEFAULT_BANK_PORT : port}`,
      audience: options.tokens?.audience ?? DEFAULT_TOKEN_AUDIENCE,
      lifetimeSec: options.tokens?.lifetimeSec ?? 900,
      rotateAfterMs: options.tokens?.rotateAfterMs ?? 24 * 60 * 60_000,
      refreshMs: options.tokens?.refreshMs ?? 30_000,
    } satisfies TokenIssuerOptions,
  };
}
