/**
 * Who is calling, as established by the authenticate stage. Later stages (rate limit,
 * authorize, forward's identity assertion) read it; nothing else creates one.
 */
export interface Principal {
  /** Stable subject: the consumer of an API key, or the `sub` of a JWT. */
  readonly subject: string;
  /** The consumer (application or user account) the credential belongs to. */
  readonly consumer: string;
  readonly scopes: ReadonlySet<string>;
  readonly roles: readonly string[];
  /** Which credential proved it: never the secret itself. */
  readonly credential: {
    /** client-secret: a client of the token endpoint authenticated by its secret (RFC 6749 §2.3.1). */
    readonly kind: 'api-key' | 'jwt' | 'client-secret';
    readonly id: string;
    readonly issuer: string | null;
  };
  /** Verified claims (JWT) or key metadata, for claim conditions such as `path.userId == principal.sub`. */
  readonly claims: Readonly<Record<string, unknown>>;
  /** Seconds since the epoch when the credential stops being valid, when it has an end. */
  readonly expiresAt: number | null;
  /** The API key a token of the gateway's own was minted from (its `key_id`): a ban of that key refuses the token too. */
  readonly mintedFrom?: string;
}
