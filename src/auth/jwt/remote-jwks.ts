import { createLocalJWKSet, errors, type JWTVerifyGetKey } from 'jose';
import { Agent, request } from 'undici';
import { publicSigningKeys } from '../../config/public-jwks.js';

export interface RemoteJwksOptions {
  /** https:// only (checked at load): a key set fetched in clear could be replaced on the way. */
  readonly url: string;
  /** PEM CA bundle for the JWKS server; null = the system roots. */
  readonly ca: string | null;
  /** Bound on one fetch, connect to last byte: a request waits at most this long for keys. */
  readonly timeoutMs: number;
  /** Least time between two fetches triggered by an unknown `kid` or a failure. */
  readonly cooldownMs: number;
  /** Keys older than this are refreshed in the background while still being used. */
  readonly maxAgeMs: number;
}

/** A JWK Set larger than this is not a key set. */
const MAX_JWKS_BYTES = 256 * 1024;

/** The key set could not be had (never fetched successfully, or fetching failed within the bound). */
export class KeySetUnavailable extends Error {
  override readonly name = 'KeySetUnavailable';
}

/**
 * An issuer's JWKS endpoint, cached. One fetch at a time, bounded by `timeoutMs`; an unknown
 * `kid` triggers at most one refetch per `cooldownMs` (so a stream of forged `kid`s cannot make
 * the gateway hammer the issuer), which is how a rotated key set is picked up without a restart.
 * A known key never waits for the network: a stale set is refreshed in the background. The
 * `jku`/`x5u` a token names are never fetched (the verifier refuses such tokens): only this URL.
 */
export class RemoteJwks {
  readonly #options: RemoteJwksOptions;
  readonly #agent: Agent;
  #keys: JWTVerifyGetKey | null = null;
  #fetchedAt = -Infinity;
  #attemptedAt = -Infinity;
  #pending: Promise<void> | null = null;
  #lastFailure = 'not fetched yet';

  constructor(options: RemoteJwksOptions) {
    this.#options = options;
    this.#agent = new Agent({
      connect: {
        timeout: options.timeoutMs,
        rejectUnauthorized: true,
        ...(options.ca === null ? {} : { ca: options.ca }),
      },
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      keepAliveTimeout: 2_000,
      connections: 2,
    });
  }

  /** Fetches the set in the background, so the first token does not have to wait for it. */
  prefetch(): void {
    void this.#refresh();
  }

  /** The jose key resolver; an arrow so it can be handed to jwtVerify as it is. */
  readonly resolveKey: JWTVerifyGetKey = async (header, token) => {
    if (this.#keys === null) {
      await this.#refreshUnlessCoolingDown();
      if (this.#keys === null) {
        throw new KeySetUnavailable(`JWKS ${this.#options.url} unavailable: ${this.#lastFailure}`);
      }
    } else if (Date.now() - this.#fetchedAt > this.#options.maxAgeMs) {
      void this.#refreshUnlessCoolingDown();
    }
    try {
      return await this.#keys(header, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
      // Perhaps the issuer rotated its keys: look again, unless that was done a moment ago.
      if (!(await this.#refreshUnlessCoolingDown())) throw err;
      return this.#keys(header, token);
    }
  };

  async close(): Promise<void> {
    await this.#agent.close();
  }

  /** Resolves true once a fetch (started now or already running) has settled; false when cooling down. */
  async #refreshUnlessCoolingDown(): Promise<boolean> {
    if (this.#pending === null && Date.now() - this.#attemptedAt < this.#options.cooldownMs) return false;
    await this.#refresh();
    return true;
  }

  #refresh(): Promise<void> {
    if (this.#pending !== null) return this.#pending;
    this.#attemptedAt = Date.now();
    this.#pending = this.#fetchKeySet()
      .then(
        (keys) => {
          this.#keys = keys;
          this.#fetchedAt = Date.now();
          this.#lastFailure = '';
        },
        (err: unknown) => {
          this.#lastFailure = describeFailure(err, this.#options.timeoutMs);
        },
      )
      .finally(() => {
        this.#pending = null;
      });
    return this.#pending;
  }

  async #fetchKeySet(): Promise<JWTVerifyGetKey> {
    const res = await request(this.#options.url, {
      dispatcher: this.#agent,
      method: 'GET',
      headers: { accept: 'application/jwk-set+json, application/json' },
      signal: AbortSignal.timeout(this.#options.timeoutMs),
    });
    if (res.statusCode !== 200) {
      res.body.destroy();
      throw new Error(`the JWKS server answered ${res.statusCode}`);
    }
    const chunks: Buffer[] = [];
    let received = 0;
    for await (const chunk of res.body) {
      received += (chunk as Buffer).length;
      if (received > MAX_JWKS_BYTES) {
        res.body.destroy();
        throw new Error(`the JWKS document is over ${MAX_JWKS_BYTES} bytes`);
      }
      chunks.push(chunk as Buffer);
    }
    const document: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    return createLocalJWKSet(publicSigningKeys(document));
  }
}

function describeFailure(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return `no answer within ${timeoutMs} ms`;
  }
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  return typeof code === 'string' ? `${code}: ${message}` : message;
}
