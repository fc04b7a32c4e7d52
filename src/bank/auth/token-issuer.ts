import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWK } from 'jose';
import type { Role, UserRecord } from '../store/records.js';
import type { BankStore } from '../store/store.js';

export interface TokenIssuerOptions {
  /** `iss` of the access tokens: the gateway's issuer entry for the bank names the same value. */
  readonly issuer: string;
  /** `aud` of the access tokens: what the gateway accepts. */
  readonly audience: string;
  readonly lifetimeSec: number;
  /** A signing key older than this is replaced on the next login; the old one stays published. */
  readonly rotateAfterMs: number;
  /** How often keys are re-read from the store, so every bank process learns of a rotation. */
  readonly refreshMs: number;
}

export const SCOPES_BY_ROLE: Readonly<Record<Role, readonly string[]>> = {
  customer: ['accounts:read', 'transfers:write'],
  // Least privilege: an auditor reads everything and can never move money, whatever it asks for.
  auditor: ['accounts:read'],
};

/** A retired key stays in the JWKS this much longer than the tokens it signed can live (clock skew). */
const PUBLISH_MARGIN_MS = 60_000;
const ALG = 'ES256';

interface KeyRing {
  readonly loadedAt: number;
  readonly signer: { readonly kid: string; readonly key: CryptoKey; readonly createdAt: number } | undefined;
}

export interface IssuedToken {
  readonly accessToken: string;
  readonly expiresIn: number;
  readonly scope: string;
}

/**
 * The bank's own token issuer: ES256 access tokens (RFC 7519, RFC 7515) signed with keys kept in
 * the bank's database, published as a JWKS (RFC 7517). Rotation needs no restart: a new key is
 * added, the old one is retired but published until every token it signed has expired.
 */
export class TokenIssuer {
  readonly #store: BankStore;
  readonly #options: TokenIssuerOptions;
  #ring: KeyRing = { loadedAt: -Infinity, signer: undefined };

  constructor(store: BankStore, options: TokenIssuerOptions) {
    this.#store = store;
    this.#options = options;
  }

  async issue(user: UserRecord, now = Date.now()): Promise<IssuedToken> {
    const signer = await this.#currentSigner(now);
    const scopes = SCOPES_BY_ROLE[user.role];
    const iat = Math.floor(now / 1000);
    const accessToken = await new SignJWT({ scope: scopes.join(' '), roles: [user.role] })
      .setProtectedHeader({ alg: ALG, kid: signer.kid, typ: 'JWT' })
      .setIssuer(this.#options.issuer)
      .setAudience(this.#options.audience)
      .setSubject(user.id)
      .setJti(randomUUID())
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(iat + this.#options.lifetimeSec)
      .sign(signer.key);
    return { accessToken, expiresIn: this.#options.lifetimeSec, scope: scopes.join(' ') };
  }

  /** The public keys of every key whose tokens may still be valid. */
  async jwks(now = Date.now()): Promise<{ keys: JWK[] }> {
    // Read fresh, not from the ring: a key another bank process just made must be published at
    // once, or the gateway's refetch on an unknown `kid` would find it missing.
    const records = await this.#store.signingKeys();
    const oldestUseful = now - this.#options.lifetimeSec * 1000 - PUBLISH_MARGIN_MS;
    const keys = records
      .filter((record) => record.retiredAt === null || record.retiredAt > oldestUseful)
      .map((record) => JSON.parse(record.publicJwk) as JWK);
    return { keys };
  }

  /** Adds a fresh signing key and retires the current one. */
  async rotate(now = Date.now()): Promise<string> {
    const { publicKey, privateKey } = await generateKeyPair(ALG, { extractable: true });
    const kid = randomUUID();
    const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: ALG, use: 'sig' };
    const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: ALG };
    await this.#store.addSigningKey({
      kid,
      privateJwk: JSON.stringify(privateJwk),
      publicJwk: JSON.stringify(publicJwk),
      createdAt: now,
      retiredAt: null,
    });
    this.#ring = { ...this.#ring, loadedAt: -Infinity };
    return kid;
  }

  async #currentSigner(now: number): Promise<NonNullable<KeyRing['signer']>> {
    let ring = await this.#load(now);
    if (ring.signer === undefined || now - ring.signer.createdAt > this.#options.rotateAfterMs) {
      await this.rotate(now);
      ring = await this.#load(now);
    }
    if (ring.signer === undefined) throw new Error('bank token issuer: no signing key after rotation');
    return ring.signer;
  }

  async #load(now: number): Promise<KeyRing> {
    if (now - this.#ring.loadedAt < this.#options.refreshMs) return this.#ring;
    const records = await this.#store.signingKeys();
    const active = records.find((record) => record.retiredAt === null);
    const signer =
      active === undefined
        ? undefined
        : {
            kid: active.kid,
            key: (await importJWK(JSON.parse(active.privateJwk) as JWK, ALG)) as CryptoKey,
            createdAt: active.createdAt,
          };
    this.#ring = { loadedAt: now, signer };
    return this.#ring;
  }
}
