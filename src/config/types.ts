import type { KeyObject } from 'node:crypto';

/**
 * The validated, frozen shape of a Gatehouse configuration. The YAML file is checked against
 * `configSchema` (schema.ts); defaults are applied there, so every field here is present.
 * Secret fields (private keys) arrive as `env:NAME` or `file:PATH` references and are resolved
 * to their contents by the loader: nothing secret is ever written inline in the YAML.
 */

/** PEM material for a TLS identity. `dev` means: use the development CA's certificates in stateDir. */
export type ServerTls =
  | { readonly dev: true }
  | { readonly dev: false; readonly cert: string; readonly key: string; readonly ca: string | null };

export interface ListenerConfig {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly tls: ServerTls;
}

export interface LimitsConfig {
  /** Total bytes of the request line and headers (431 beyond). */
  readonly maxHeaderBytes: number;
  /** Request body bytes (413 beyond), counted as they stream, not trusted from Content-Length. */
  readonly maxBodyBytes: number;
  /** Request target length in bytes (414 beyond). */
  readonly maxPathBytes: number;
  /** Time allowed to receive the complete header block (408 / connection closed beyond). */
  readonly headersTimeoutMs: number;
  /** Time allowed to receive the complete request, body included. */
  readonly requestTimeoutMs: number;
  /** A kept-alive connection with no request in flight is closed after this. */
  readonly idleTimeoutMs: number;
  /** Open client connections per listener; more are refused at accept. */
  readonly maxConnections: number;
  /** Open connections from one client address (an IPv6 /64); more are closed at accept. */
  readonly maxConnectionsPerAddress: number;
  /** New connections (TLS handshakes) a second from one address, with a burst of twice that. */
  readonly maxHandshakesPerAddressPerSecond: number;
}

/** How Gatehouse trusts the upstream and proves itself to it (mTLS). */
export type UpstreamTls =
  | { readonly dev: true }
  | {
      readonly dev: false;
      /** PEM of the CA bundle that signs the upstream's certificate; null = the system roots. */
      readonly ca: string | null;
      /** PEM client certificate and key for mTLS; both or neither. */
      readonly cert: string | null;
      readonly key: string | null;
      /** Name to verify in the upstream's certificate, when it differs from the URL's host. */
      readonly serverName: string | null;
    };

export interface UpstreamConfig {
  /** https://, or http:// to a sidecar on a loopback address or a Unix socket (refused elsewhere). */
  readonly url: string;
  /** The Unix socket to connect to instead of the URL's host and port (absolute), else null. */
  readonly socketPath: string | null;
  /** null for a plain http:// sidecar upstream. */
  readonly tls: UpstreamTls | null;
  readonly connectTimeoutMs: number;
  /** Time from the request being sent to the response headers arriving (504 beyond). */
  readonly responseTimeoutMs: number;
  /** Largest upstream response body relayed (502 beyond). */
  readonly maxResponseBytes: number;
  /** Kept-alive connections in the pool to this upstream. */
  readonly connections: number;
}

/** An OpenAPI Security Requirement Object: scheme name → scopes (or roles) it needs. */
export interface SecurityRequirement {
  readonly [scheme: string]: readonly string[];
}

export interface ApiConfig {
  readonly name: string;
  /** Path of the OpenAPI 3.0/3.1 document, resolved against the config file's folder. */
  readonly openapi: string;
  /** OpenAPI Overlay 1.0 files applied in order to the document before it is compiled; absolute. */
  readonly overlays?: readonly string[];
  /** The document's top-level `security` when it (after overlays) declares none (src/contract). */
  readonly defaultSecurity?: readonly SecurityRequirement[];
  /** Prefix under which the API is served at the gateway ("/" for the root). */
  readonly basePath: string;
  readonly upstream: UpstreamConfig;
  /** Undeclared properties in a response: removed (`strip`) or the response replaced by a 502 (`reject`). */
  readonly responseContract?: 'strip' | 'reject';
  /** The client's verified credential goes on to the upstream too (it checks it itself); default false. */
  readonly forwardCredentials?: boolean;
}

export interface LogConfig {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  /** One JSON access-log line per request. */
  readonly access: boolean;
  /** Where log lines go: "stdout", "stderr" or a file path. */
  readonly destination: string;
}

export interface GatehouseConfig {
  /** Folder for generated state (development CA and certificates); absolute after loading. */
  readonly stateDir: string;
  readonly listeners: readonly ListenerConfig[];
  readonly limits: LimitsConfig;
  readonly apis: readonly ApiConfig[];
  readonly log: LogConfig;
  /** How many journey records are kept in memory for inspection. */
  readonly journeyBufferSize: number;
  /** The API key store and how gateway processes learn of changes (src/auth/keys). */
  readonly keys: KeysConfig;
  /** The admin API listener; null when the file has no `admin:` section (no admin listener). */
  readonly admin: AdminConfig | null;
  /** Redis shared by every gateway process for rate limits (src/limits); null = in-process memory. */
  readonly redis: RedisConfig | null;
  /** Named rate-limit policies and the ones every operation gets (src/limits). */
  readonly rateLimits: RateLimitsConfig;
  /** Per-address limits before authentication: floods, failed credentials, login brute force. */
  readonly preAuthLimit: PreAuthLimitConfig;
  /** Requests in flight at once, and load shedding when the gateway is saturated. */
  readonly concurrency: ConcurrencyConfig;
  /** JWT issuers, the gateway's own token endpoint and signing keys, the identity assertion (src/auth). */
  readonly auth: AuthConfig;
  /** Bounds of request validation (src/contract/validation). */
  readonly validation: ValidationConfig;
  /** Cross-origin access for browsers; null when the file has no `cors:` section (no CORS headers at all). */
  readonly cors: CorsConfig | null;
  /** Metrics, health, security events, detectors, alerts and bans (src/observe). */
  readonly monitoring: MonitoringConfig;
}

/** What a detector does when it fires, besides writing a `detector.fired` event (always). */
export type DetectorAction = 'alert' | 'ban';

export interface DetectorConfig {
  readonly enabled: boolean;
  /** Fires (event, metric) but takes no action. */
  readonly shadow: boolean;
  /** Events, distinct values or (upstream errors) a percentage that make it fire. */
  readonly threshold: number;
  readonly windowMs: number;
  readonly actions: readonly DetectorAction[];
  /** How long a ban set by this detector lasts. */
  readonly banMs: number;
}

export interface DetectorsConfig {
  readonly failedLoginsPerAddress: DetectorConfig;
  readonly failedLoginsPerUsername: DetectorConfig;
  readonly credentialStuffing: DetectorConfig;
  readonly enumeration: DetectorConfig;
  readonly keyManyAddresses: DetectorConfig;
  readonly plaintextCredential: DetectorConfig;
  readonly upstreamErrors: DetectorConfig;
  /** Requests in the window before the upstream error percentage counts. */
  readonly upstreamErrorsMinRequests: number;
  /** Subjects (addresses, usernames, keys) each detector tracks at once; the oldest give way. */
  readonly maxTracked: number;
}

/** An alert webhook: each detection POSTed as JSON, signed with HMAC-SHA256 (src/observe/alerts.ts). */
export interface AlertWebhookConfig {
  /** https://, or http:// to a loopback address. */
  readonly url: string;
  /** The HMAC key, resolved from its secret reference. */
  readonly secret: string;
  /** PEM CA bundle for the receiver; null = the system roots. */
  readonly ca: string | null;
  readonly timeoutMs: number;
  /** Attempts after the first, with doubling waits. */
  readonly retries: number;
  /** Alerts sent per minute at most; beyond, they are logged and counted, not sent. */
  readonly maxPerMinute: number;
  /** The same detector and subject alert once within this. */
  readonly dedupMs: number;
}

export interface MonitoringConfig {
  /**
   * false: journeys and the access log only; no metrics beyond the process's, no security events,
   * no detectors (for deployments monitored by other means, and to measure what monitoring costs).
   */
  readonly enabled: boolean;
  /** A read-only credential for `GET /metrics` besides the admin token; null = the admin token only. */
  readonly scrapeToken: string | null;
  readonly events: {
    /** Where security events are written: "stdout", "stderr" or a file path. */
    readonly destination: string;
    /** Events kept in memory for `GET /events`. */
    readonly bufferSize: number;
  };
  /** How often each upstream is probed for readiness (a TLS handshake). */
  readonly probeIntervalMs: number;
  readonly detectors: DetectorsConfig;
  readonly alerts: AlertWebhookConfig | null;
}

export interface ValidationConfig {
  /** Deepest nesting of objects and arrays in a JSON request body (400 beyond). */
  readonly maxJsonDepth: number;
  /** Object members in a JSON request body, all objects together (400 beyond). */
  readonly maxJsonKeys: number;
}

/** Fetch standard CORS (https://fetch.spec.whatwg.org/#http-cors-protocol), as the gateway applies it. */
export interface CorsConfig {
  /** Exact origins ("https://app.example.com"), lowercase, or "*" (only without credentials). */
  readonly allowedOrigins: readonly string[];
  readonly allowCredentials: boolean;
  /** Request headers a preflight may ask for (lowercase). */
  readonly allowedHeaders: readonly string[];
  /** Response headers scripts may read (lowercase). */
  readonly exposedHeaders: readonly string[];
  readonly maxAgeSeconds: number;
}

/** Where API key records live: a SQLite file (default `<stateDir>/keys.db`) or PostgreSQL. */
export type KeyStoreConfig =
  | { readonly kind: 'sqlite'; readonly path: string }
  | { readonly kind: 'postgres'; readonly url: string; readonly schema: string };

export interface KeysConfig {
  readonly store: KeyStoreConfig;
  readonly sync: {
    /** Redis for change notices (pub/sub), resolved from its secret reference; null = poll only. */
    readonly redisUrl: string | null;
    /** How often the store is polled for changes when Redis is not there (≤ 500 ms). */
    readonly pollMs: number;
  };
  /** How often the last-use times gathered in memory are written back to the store. */
  readonly lastUsedFlushMs: number;
}

export interface AdminConfig {
  /** A loopback address only (127.0.0.0/8, ::1, localhost). */
  readonly host: string;
  readonly port: number;
  /** The admin credential (a bearer token), resolved from its secret reference. */
  readonly token: string;
  readonly tls: ServerTls;
}

/** What a limit does when its store (Redis) cannot answer in time (DESIGN.md, "Security defaults"). */
export type StoreFailurePolicy = 'fallback' | 'closed' | 'open';

/**
 * One rate-limit policy as written (in `rateLimits.policies` or inline in an operation's
 * `x-gatehouse-rate-limit`); src/limits/policy.ts compiles it. Durations are text such as "1m".
 */
export interface RateLimitPolicyConfig {
  /** rate: GCRA, smooth; quota: a count per calendar period (UTC). */
  readonly type: 'rate' | 'quota';
  /** address, principal, consumer, apiKey, operation, header:NAME, param:NAME, body:FIELD: joined into one key. */
  readonly key: readonly string[];
  readonly limit: number;
  /** rate: `limit` requests per window. */
  readonly window?: string;
  /** quota: the calendar period the count covers. */
  readonly period?: 'hour' | 'day' | 'month';
  /** rate: the most admitted at once (default: limit). */
  readonly burst?: number;
  /** delay: a request over the limit waits for its turn (up to maxDelay) instead of a 429. */
  readonly mode: 'reject' | 'delay';
  readonly maxDelay?: string;
  readonly onStoreFailure: StoreFailurePolicy;
  /** Counts and logs what it would refuse, refuses nothing. */
  readonly shadow: boolean;
}

/** A plain per-key rate: `limit` per `window`, at most `burst` at once (default: limit). */
export interface SimpleRateConfig {
  readonly limit: number;
  readonly window: string;
  readonly burst?: number;
}

export interface RedisConfig {
  /** redis:// or rediss:// URL, resolved from its secret reference when it was one. */
  readonly url: string;
  /** Longest a limit decision waits for Redis before its failure policy applies. */
  readonly timeoutMs: number;
  readonly keyPrefix: string;
  /** When Redis is given up on (every decision to the failure policies) and tried again. */
  readonly breaker: RedisBreakerConfig;
}

/** The circuit breaker in front of Redis (src/limits/breaker.ts). */
export interface RedisBreakerConfig {
  /** Failures (errors or answers later than timeoutMs) in a row that open it. */
  readonly failuresToOpen: number;
  /** How long it stays open before a probe may go. */
  readonly openMs: number;
  /** Probes answered in a row that close it. */
  readonly successesToClose: number;
}

export interface RateLimitsConfig {
  /** Gateway processes sharing the limits: a fallback admits limit / replicas locally. */
  readonly replicas: number;
  /**
   * Workers of one gateway splitting each limit in memory, without Redis (`gatehouse start
   * --workers`): each admits limit / localShare and says so in RateLimit-Policy. Set by the
   * process, never by the file; absent means 1.
   */
  readonly localShare?: number;
  /** Keys the in-memory store keeps per policy (least recently used evicted beyond). */
  readonly maxKeys: number;
  /** Throttled requests waiting at once in this process (429 beyond). */
  readonly maxDelayed: number;
  /** Policies applied to every operation, by name. */
  readonly apply: readonly string[];
  readonly policies: Readonly<Record<string, RateLimitPolicyConfig>>;
}

export interface PreAuthLimitConfig {
  /** Every request, per client address; null = off. */
  readonly perAddress: SimpleRateConfig | null;
  /** Failed authentications (401) per client address; past it the address is refused before authentication. */
  readonly failedAuth: SimpleRateConfig;
  /** Operations marked `x-gatehouse-login`. */
  readonly login: {
    readonly perAddress: SimpleRateConfig;
    readonly perUsername: SimpleRateConfig;
    readonly backoff: {
      /** Consecutive failures allowed before the first wait. */
      readonly freeFailures: number;
      readonly initialDelay: string;
      readonly maxDelay: string;
      /** Failures are forgotten after this long without one. */
      readonly forgetAfter: string;
    };
    /** Upstream statuses that mean "wrong credentials"; 2xx means success. */
    readonly failureStatuses: readonly number[];
    /** Device cookies (src/limits/device-cookie.ts): a device that logged in before is limited on its own. */
    readonly deviceCookie: { readonly enabled: boolean; readonly maxAgeDays: number };
  };
  readonly onStoreFailure: StoreFailurePolicy;
}

export interface ConcurrencyConfig {
  /** Requests in flight in this process; 503 beyond. */
  readonly maxInFlight: number;
  /** Requests in flight per client address; 429 beyond. */
  readonly perClientMaxInFlight: number;
  /** Event-loop delay beyond which the gateway counts as saturated. */
  readonly maxEventLoopDelayMs: number;
  /** While saturated, clients with this many requests in flight are refused (503) first. */
  readonly shedClientsAbove: number;
}

/** A JWKS endpoint an issuer publishes its keys at (src/auth/jwt/remote-jwks.ts). */
export interface JwksConfig {
  /** https:// only. */
  readonly url: string;
  /** PEM CA bundle for the JWKS server; null = the system roots. */
  readonly ca: string | null;
  /** Bound on one fetch: a request waits at most this long for keys, then gets a 401. */
  readonly timeoutMs: number;
  /** Least time between two fetches triggered by an unknown `kid` (or a failure). */
  readonly cooldownSec: number;
  /** Keys older than this are refreshed in the background. */
  readonly maxAgeSec: number;
}

/** One trusted JWT issuer (src/auth/jwt). */
export interface JwtIssuerConfig {
  /** Exact `iss` value (RFC 7519 §4.1.1). */
  readonly issuer: string;
  /**
   * Accepted `aud` values; a token must name one of them (RFC 7519 §4.1.3). Empty only when the
   * issuer's tokens carry no `aud` (allowMissing.aud), and then a token naming one is refused.
   */
  readonly audiences: readonly string[];
  /** All asymmetric, or all HMAC with `hmacSecret`: an HMAC checked against a public key is algorithm confusion. */
  readonly algorithms: readonly string[];
  /** The shared secret of an HMAC issuer (HS256/384/512), else null. */
  readonly hmacSecret: KeyObject | null;
  /** Claims this issuer's tokens may leave out, said explicitly in the configuration. */
  readonly allowMissing: { readonly iss: boolean; readonly aud: boolean };
  /** Where the keys come from: a JWKS endpoint, or null when `keys` are given. */
  readonly jwks: JwksConfig | null;
  /** Contents of the key files named (PEM public keys or certificates, a JWK, a JWK Set). */
  readonly keys: readonly string[];
  /** Claims a token must carry besides exp and sub, which are always required. */
  readonly requiredClaims: readonly string[];
  readonly clockSkewSec: number;
  readonly scopeClaim: string;
  readonly rolesClaim: string;
  readonly consumerClaim: string;
}

/** A client of the token endpoint that authenticates with a secret (RFC 6749 §2.3.1). */
export interface OAuthClientConfig {
  readonly id: string;
  readonly consumer: string;
  /** The most a token issued to it carries. */
  readonly scopes: readonly string[];
  /** SHA-256 of the secret, hex: the secret itself is not kept once loaded. */
  readonly secretSha256: string;
}

/** The OAuth2 client-credentials token endpoint the gateway serves itself (RFC 6749 §4.4). */
export interface TokenEndpointConfig {
  readonly enabled: boolean;
  /** Prefix of /oauth/token and /.well-known/jwks.json ("/" for the root). */
  readonly basePath: string;
  /** `aud` of the access tokens issued; the gateway accepts its own tokens for this audience. */
  readonly audience: string;
  readonly lifetimeSec: number;
  /** Header in which a client presents its API key to authenticate. */
  readonly apiKeyHeader: string;
  readonly clients: readonly OAuthClientConfig[];
}

/** The signed identity assertion sent to upstreams (src/auth/assertion). */
export interface IdentityConfig {
  readonly enabled: boolean;
  readonly header: string;
  /** ≤ 60 s. */
  readonly lifetimeSec: number;
  /** An assertion is reused for the same principal and upstream this long (0: one per request). */
  readonly reuseSec: number;
}

export interface AuthConfig {
  /** `realm` of WWW-Authenticate challenges (RFC 9110 §11.5). */
  readonly realm: string;
  /** Bearer tokens longer than this are refused before any decoding. */
  readonly maxTokenBytes: number;
  /** Verified tokens kept (least recently used evicted beyond). */
  readonly verifiedTokenCacheSize: number;
  /** `iss` of the tokens and assertions the gateway signs. */
  readonly issuer: string;
  /** PEM private keys (P-256) from secret references, the first signs; [] = keys kept in stateDir. */
  readonly signingKeys: readonly string[];
  /** How keys generated in stateDir take over from each other (signing-keys.ts). */
  readonly signingKeyRotation: { readonly publishAheadSec: number; readonly retireMarginSec: number };
  readonly issuers: readonly JwtIssuerConfig[];
  readonly tokenEndpoint: TokenEndpointConfig;
  readonly identity: IdentityConfig;
}
