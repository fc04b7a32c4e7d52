import { createHash, timingSafeEqual } from 'node:crypto';
import type { OAuthClientConfig } from '../../config/types.js';
import type { Principal } from '../principal.js';

interface Client {
  readonly secretSha256: Buffer;
  readonly principal: Principal;
}

const BASIC = /^basic +([A-Za-z0-9+/]+={0,2}) *$/i;
/** Compared when the client id is unknown, so that case takes the time a known one takes. */
const NO_SECRET = Buffer.alloc(32);

/**
 * Clients of the token endpoint that authenticate with a secret, HTTP Basic as RFC 6749 §2.3.1
 * says: client id and secret form-urlencoded, joined by ":", base64 (RFC 7617). Secrets are
 * compared as SHA-256 digests in constant time; only the digests are held.
 */
export class ClientSecrets {
  readonly #clients: ReadonlyMap<string, Client>;

  constructor(clients: readonly OAuthClientConfig[]) {
    this.#clients = new Map(
      clients.map((client) => [
        client.id,
        { secretSha256: Buffer.from(client.secretSha256, 'hex'), principal: principalOf(client) },
      ]),
    );
  }

  /** The client's principal, or why the Authorization header does not authenticate one. */
  verify(authorization: string): Principal | string {
    const encoded = BASIC.exec(authorization)?.[1];
    if (encoded === undefined) return 'client-secret.malformed: not an HTTP Basic header';
    const decoded = Buffer.from(encoded, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return 'client-secret.malformed: no ":" between client id and secret';
    const id = formDecode(decoded.slice(0, colon));
    const secret = formDecode(decoded.slice(colon + 1));
    if (id === null || secret === null) return 'client-secret.malformed: bad form-urlencoding';
    const client = this.#clients.get(id);
    const digest = createHash('sha256').update(secret).digest();
    const expected =
      client !== undefined && client.secretSha256.length === 32 ? client.secretSha256 : NO_SECRET;
    const matches = timingSafeEqual(digest, expected);
    if (client === undefined || expected === NO_SECRET || !matches) {
      return 'client-secret.unknown: no client with that id and secret';
    }
    return client.principal;
  }
}

/** application/x-www-form-urlencoded decoding (RFC 6749 Appendix B); null when malformed. */
function formDecode(text: string): string | null {
  try {
    return decodeURIComponent(text.replaceAll('+', ' '));
  } catch {
    return null;
  }
}

function principalOf(client: OAuthClientConfig): Principal {
  return Object.freeze({
    subject: client.id,
    consumer: client.consumer,
    scopes: Object.freeze(new Set(client.scopes)) as ReadonlySet<string>,
    roles: Object.freeze([]),
    credential: Object.freeze({ kind: 'client-secret' as const, id: client.id, issuer: null }),
    claims: Object.freeze({ client_id: client.id }),
    expiresAt: null,
  });
}
