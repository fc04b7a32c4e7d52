import { configDefaults as d } from './defaults.js';
import { durationSchema } from './duration.js';
import { monitoringSchema, type MonitoringEntry } from './monitoring-schema.js';
import type {
  ConcurrencyConfig,
  CorsConfig,
  LimitsConfig,
  LogConfig,
  PreAuthLimitConfig,
  RateLimitsConfig,
  RedisConfig,
  SecurityRequirement,
  UpstreamConfig,
  ValidationConfig,
} from './types.js';

/**
 * The JSON Schema (draft 2020-12) of the YAML configuration file. Every object is closed
 * (`additionalProperties: false`) so a misspelt key is an error, never a silently ignored setting.
 *
 * Two annotation keywords, read by the issue translator (ajv-issues.ts), make messages useful:
 * - `hint`: what to write instead, shown when a value is refused (pattern, const, enum, length);
 * - `examples`: a sample value, shown when a required key is missing.
 *
 * What a schema cannot say (https-only upstreams, unique names, files that exist, secret
 * references) is checked after it, in checks.ts and secrets.ts.
 */

const positiveInt = (fallback: number) => ({ type: 'integer', minimum: 1, default: fallback }) as const;
// Minimum 1: in node:http and undici a 0 disables the timeout, which invites slow-client attacks.
const timeoutMs = (fallback: number) =>
  ({ ...positiveInt(fallback), hint: 'give milliseconds; a timeout cannot be disabled' }) as const;

const nameHint = 'use 1 to 63 letters, digits, ".", "_" or "-", starting with a letter or digit';
const pathField = { type: 'string', minLength: 1, hint: 'give a file path' } as const;
const secretField = {
  type: 'string',
  minLength: 1,
  examples: ['file:./tls/key.pem'],
  hint: 'write env:NAME (an environment variable) or file:PATH (a file holding the PEM key)',
} as const;

const serverTlsHint = 'write tls: dev for development certificates, or a mapping with cert and key';
const serverTls = {
  type: ['string', 'object'],
  examples: ['dev'],
  hint: serverTlsHint,
  if: { type: 'string' },
  then: { const: 'dev', hint: serverTlsHint },
  else: {
    type: 'object',
    required: ['cert', 'key'],
    additionalProperties: false,
    properties: { cert: pathField, key: secretField, ca: pathField },
  },
} as const;

const upstreamTlsHint = 'write tls: dev for the development CA, or a mapping with ca, cert, key, serverName';
const upstreamTls = {
  type: ['string', 'object'],
  default: {},
  hint: upstreamTlsHint,
  if: { type: 'string' },
  then: { const: 'dev', hint: upstreamTlsHint },
  else: {
    type: 'object',
    additionalProperties: false,
    // Mutual TLS needs the certificate and its key together (RFC 8446 §4.4.2).
    dependentRequired: { cert: ['key'], key: ['cert'] },
    properties: {
      ca: pathField,
      cert: pathField,
      key: secretField,
      serverName: {
        type: 'string',
        pattern: '^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$',
        hint: 'give the DNS name in the upstream certificate, e.g. bank.internal',
      },
    },
  },
} as const;

const listener = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'port', 'tls'],
  properties: {
    name: {
      type: 'string',
      pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$',
      hint: nameHint,
      examples: ['public'],
    },
    host: { type: 'string', minLength: 1, maxLength: 253, default: d.listener.host },
    port: { type: 'integer', minimum: 0, maximum: 65_535, examples: [8443] },
    tls: serverTls,
  },
} as const;

const limits = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    maxHeaderBytes: positiveInt(d.limits.maxHeaderBytes),
    maxBodyBytes: positiveInt(d.limits.maxBodyBytes),
    maxPathBytes: positiveInt(d.limits.maxPathBytes),
    headersTimeoutMs: timeoutMs(d.limits.headersTimeoutMs),
    requestTimeoutMs: timeoutMs(d.limits.requestTimeoutMs),
    idleTimeoutMs: timeoutMs(d.limits.idleTimeoutMs),
    maxConnections: positiveInt(d.limits.maxConnections),
    maxConnectionsPerAddress: positiveInt(d.limits.maxConnectionsPerAddress),
    maxHandshakesPerAddressPerSecond: positiveInt(d.limits.maxHandshakesPerAddressPerSecond),
  },
} as const;

const upstream = {
  type: 'object',
  additionalProperties: false,
  required: ['url'],
  properties: {
    url: { type: 'string', minLength: 1, examples: ['https://127.0.0.1:8444'] },
    socket: {
      ...pathField,
      examples: ['./run/notes.sock'],
      hint: 'give the path of the Unix socket the service on this host listens on; url still names its Host',
    },
    tls: upstreamTls,
    connectTimeoutMs: timeoutMs(d.upstream.connectTimeoutMs),
    responseTimeoutMs: timeoutMs(d.upstream.responseTimeoutMs),
    maxResponseBytes: positiveInt(d.upstream.maxResponseBytes),
    connections: positiveInt(d.upstream.connections),
  },
} as const;

const api = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'openapi', 'upstream'],
  properties: {
    name: {
      type: 'string',
      pattern: '^[a-z][a-z0-9-]{0,62}$',
      hint: 'use 1 to 63 lowercase letters, digits or "-", starting with a letter, e.g. bank',
      examples: ['bank'],
    },
    openapi: { ...pathField, examples: ['./openapi.yaml'] },
    overlays: {
      type: 'array',
      items: pathField,
      hint: 'list OpenAPI Overlay 1.0 files, e.g. [./overlays/security.yaml]; they apply in order to the openapi document',
    },
    // No default: absent means the document's own top-level security stands (src/contract).
    defaultSecurity: {
      type: 'array',
      minItems: 1,
      hint: "list security requirements, e.g. [{ apiKey: [] }], or remove defaultSecurity to keep the document's own",
      items: {
        type: 'object',
        minProperties: 1,
        additionalProperties: {
          type: 'array',
          items: { type: 'string', minLength: 1 },
          hint: 'give the scopes as a list, e.g. [notes:read], or [] for none',
        },
        hint: 'name at least one scheme, e.g. { apiKey: [] }: an empty requirement {} lets requests in without credentials',
      },
    },
    basePath: {
      type: 'string',
      pattern: '^/$|^(/[^/?#\\s]+)+$',
      default: d.api.basePath,
      hint: 'start with "/" and end without one, e.g. /bank (or / for the root)',
    },
    upstream,
    // No default written into the file: absent means strip (src/contract/validation).
    forwardCredentials: {
      type: 'boolean',
      hint: 'true passes the credential the gateway verified on to an upstream that checks it itself; default false',
    },
    responseContract: {
      enum: ['strip', 'reject'],
      hint: 'strip removes undeclared properties from answers; reject replaces such an answer with a 502',
    },
  },
} as const;

const log = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    level: { enum: ['debug', 'info', 'warn', 'error'], default: d.log.level },
    access: { type: 'boolean', default: d.log.access },
    destination: {
      type: 'string',
      minLength: 1,
      default: d.log.destination,
      hint: 'write stdout, stderr or a file path',
    },
  },
} as const;

/** A store URL: inline without a password, else a secret reference (src/config/store-url.ts). */
const storeUrl = (example: string, plain: string) =>
  ({
    type: 'string',
    minLength: 1,
    examples: [example],
    hint: `write env:NAME, file:PATH or ${plain} (a URL with a password only as env: or file:)`,
  }) as const;

/** src/auth/keys: the key store, and how every gateway process learns of changes within a second. */
const keys = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    store: {
      type: 'object',
      additionalProperties: false,
      default: {},
      maxProperties: 1,
      hint: 'give either sqlite: { path: ./keys.db } or postgres: { url: env:DATABASE_URL }, not both',
      properties: {
        sqlite: { type: 'object', additionalProperties: false, properties: { path: pathField } },
        postgres: {
          type: 'object',
          additionalProperties: false,
          required: ['url'],
          properties: {
            url: storeUrl('env:DATABASE_URL', 'postgres://host:5432/database'),
            schema: {
              type: 'string',
              pattern: '^[a-z_][a-z0-9_]{0,62}$',
              default: d.keys.postgresSchema,
              hint: 'use 1 to 63 lowercase letters, digits or "_", e.g. gatehouse',
            },
          },
        },
      },
    },
    sync: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        redisUrl: storeUrl('env:REDIS_URL', 'redis://host:port'),
        pollMs: {
          type: 'integer',
          minimum: 10,
          maximum: 500,
          default: d.keys.pollMs,
          hint: 'at most 500 ms, so a revoked key is refused everywhere within a second',
        },
      },
    },
    lastUsedFlushMs: { type: 'integer', minimum: 1000, maximum: 3_600_000, default: d.keys.lastUsedFlushMs },
  },
} as const;

const loopbackHint =
  'the admin API listens on loopback only: use 127.0.0.1 or ::1 (reach it from elsewhere through an SSH tunnel)';

/** src/admin: present = an admin listener, which never starts without its credential. */
const admin = {
  type: 'object',
  additionalProperties: false,
  required: ['token'],
  properties: {
    host: {
      type: 'string',
      pattern: '^(?:127(?:\\.(?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])){3}|::1|localhost)$',
      default: d.admin.host,
      hint: loopbackHint,
    },
    port: { type: 'integer', minimum: 0, maximum: 65_535, default: d.admin.port },
    token: {
      type: 'string',
      minLength: 1,
      examples: ['env:GATEHOUSE_ADMIN_TOKEN'],
      hint: 'write env:NAME or file:PATH holding a random token of at least 32 characters (e.g. openssl rand -hex 32)',
    },
    tls: { ...serverTls, default: 'dev' },
  },
} as const;

const duration = durationSchema;
const policyNamePattern = '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$';
const failurePolicy = (fallback: string) =>
  ({
    enum: ['fallback', 'closed', 'open'],
    default: fallback,
    hint: 'fallback: a local limiter at this process share; closed: 503; open: no limit',
  }) as const;
const simpleRate = {
  type: 'object',
  additionalProperties: false,
  required: ['limit', 'window'],
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: 1_000_000_000, examples: [100] },
    window: duration('1m'),
    burst: { type: 'integer', minimum: 1, maximum: 1_000_000_000 },
  },
} as const;

/**
 * One rate-limit policy (src/limits), in `rateLimits.policies` and, with a `name`, inline in an
 * operation's `x-gatehouse-rate-limit`.
 */
export const rateLimitPolicySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['limit'],
  properties: {
    type: { enum: ['rate', 'quota'], default: 'rate' },
    key: {
      type: 'array',
      minItems: 1,
      maxItems: 4,
      default: ['principal'],
      items: {
        type: 'string',
        pattern:
          "^(address|principal|consumer|apiKey|operation|header:[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}|param:[A-Za-z0-9_.-]{1,64}|body:[A-Za-z0-9_-]{1,64})$",
        hint: 'use address, principal, consumer, apiKey, operation, header:NAME, param:NAME or body:FIELD',
      },
    },
    limit: { type: 'integer', minimum: 1, maximum: 1_000_000_000, examples: [100] },
    window: duration('1m'),
    period: { enum: ['hour', 'day', 'month'] },
    burst: { type: 'integer', minimum: 1, maximum: 1_000_000_000 },
    mode: { enum: ['reject', 'delay'], default: 'reject' },
    maxDelay: duration('2s'),
    onStoreFailure: failurePolicy('fallback'),
    shadow: { type: 'boolean', default: false },
  },
  if: { properties: { type: { const: 'quota' } }, required: ['type'] },
  then: { required: ['period'] },
  else: { required: ['window'] },
} as const;

/** src/limits: Redis shared by every gateway process; absent = each process limits in memory. */
const redis = {
  type: 'object',
  additionalProperties: false,
  required: ['url'],
  properties: {
    url: storeUrl('env:REDIS_URL', 'redis://host:port'),
    timeoutMs: timeoutMs(d.redis.timeoutMs),
    keyPrefix: { type: 'string', pattern: '^[A-Za-z0-9:_.-]{0,64}$', default: d.redis.keyPrefix },
    breaker: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        failuresToOpen: positiveInt(d.redis.breaker.failuresToOpen),
        openMs: timeoutMs(d.redis.breaker.openMs),
        successesToClose: positiveInt(d.redis.breaker.successesToClose),
      },
    },
  },
} as const;

const rateLimits = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    replicas: positiveInt(d.rateLimits.replicas),
    maxKeys: positiveInt(d.rateLimits.maxKeys),
    maxDelayed: positiveInt(d.rateLimits.maxDelayed),
    apply: {
      type: 'array',
      default: [],
      items: { type: 'string', pattern: policyNamePattern, hint: 'name a policy of rateLimits.policies' },
    },
    policies: {
      type: 'object',
      default: {},
      propertyNames: { pattern: policyNamePattern, hint: nameHint },
      additionalProperties: rateLimitPolicySchema,
    },
  },
} as const;

const preAuthLimit = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    perAddress: { ...simpleRate, type: ['object', 'null'], default: null },
    failedAuth: { ...simpleRate, default: d.preAuthLimit.failedAuth },
    login: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        perAddress: { ...simpleRate, default: d.preAuthLimit.login.perAddress },
        perUsername: { ...simpleRate, default: d.preAuthLimit.login.perUsername },
        backoff: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            freeFailures: {
              type: 'integer',
              minimum: 0,
              maximum: 100,
              default: d.preAuthLimit.login.backoff.freeFailures,
            },
            initialDelay: { ...duration('1s'), default: d.preAuthLimit.login.backoff.initialDelay },
            maxDelay: { ...duration('15m'), default: d.preAuthLimit.login.backoff.maxDelay },
            forgetAfter: { ...duration('1d'), default: d.preAuthLimit.login.backoff.forgetAfter },
          },
        },
        failureStatuses: {
          type: 'array',
          uniqueItems: true,
          default: d.preAuthLimit.login.failureStatuses,
          items: {
            type: 'integer',
            minimum: 300,
            maximum: 599,
            hint: 'list the HTTP statuses the service answers a failed login with (300–599); for a 2xx with a message, mark the login with failedWhen',
          },
        },
        deviceCookie: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            enabled: { type: 'boolean', default: d.preAuthLimit.login.deviceCookie.enabled },
            maxAgeDays: {
              type: 'integer',
              minimum: 1,
              // RFC 6265bis §5.6.2: browsers cap Max-Age at 400 days.
              maximum: 400,
              default: d.preAuthLimit.login.deviceCookie.maxAgeDays,
              hint: 'give whole days from 1 to 400 (browsers keep a cookie 400 days at most)',
            },
          },
        },
      },
    },
    onStoreFailure: failurePolicy('fallback'),
  },
} as const;

const concurrency = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    maxInFlight: positiveInt(d.concurrency.maxInFlight),
    perClientMaxInFlight: positiveInt(d.concurrency.perClientMaxInFlight),
    maxEventLoopDelayMs: positiveInt(d.concurrency.maxEventLoopDelayMs),
    shedClientsAbove: positiveInt(d.concurrency.shedClientsAbove),
  },
} as const;

/** src/auth: JWS algorithms (RFC 7518 §3, RFC 8037); an issuer is HMAC or asymmetric, never both. */
const jwtAlgorithmHint =
  'list asymmetric algorithms (ES256, ES384, ES512, RS256, PS256, EdDSA…) with jwksUrl or keys, or HMAC ones (HS256, HS384, HS512) with a secret: never both, as an HMAC checked against a public key is the algorithm-confusion attack';
const headerNamePattern = "^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$";
const scopeItem = {
  type: 'string',
  pattern: '^[\\x21\\x23-\\x5B\\x5D-\\x7E]{1,128}$',
  hint: 'a scope is printable characters without spaces, quotes or backslashes (RFC 6749 §3.3)',
} as const;
const claimName = (fallback: string) =>
  ({ type: 'string', minLength: 1, maxLength: 128, default: fallback }) as const;

const jwtIssuer = {
  type: 'object',
  additionalProperties: false,
  required: ['issuer', 'algorithms'],
  properties: {
    issuer: { type: 'string', minLength: 1, maxLength: 2048, examples: ['https://login.example.com'] },
    audience: {
      type: ['string', 'array'],
      minLength: 1,
      minItems: 1,
      items: { type: 'string', minLength: 1 },
      examples: ['gatehouse'],
      hint: 'give the aud value the tokens meant for this gateway carry, or a list of them',
    },
    algorithms: {
      type: 'array',
      minItems: 1,
      uniqueItems: true,
      examples: ['[ES256]'],
      hint: jwtAlgorithmHint,
      items: {
        enum: [
          'ES256',
          'ES384',
          'ES512',
          'RS256',
          'RS384',
          'RS512',
          'PS256',
          'PS384',
          'PS512',
          'EdDSA',
          'Ed25519',
          'HS256',
          'HS384',
          'HS512',
        ],
        hint: jwtAlgorithmHint,
      },
    },
    secret: {
      ...secretField,
      examples: ['env:NOTES_JWT_SECRET'],
      hint: 'write env:NAME or file:PATH: the shared HMAC secret is never written inline',
    },
    allowMissingClaims: {
      type: 'array',
      uniqueItems: true,
      default: [],
      items: {
        enum: ['iss', 'aud'],
        hint: 'list iss and/or aud, the claims tokens of this issuer may leave out',
      },
    },
    jwksUrl: { type: 'string', minLength: 1, examples: ['https://login.example.com/.well-known/jwks.json'] },
    jwksCa: pathField,
    jwksTimeoutMs: timeoutMs(d.auth.jwksTimeoutMs),
    jwksCooldownSec: positiveInt(d.auth.jwksCooldownSec),
    jwksMaxAgeSec: positiveInt(d.auth.jwksMaxAgeSec),
    keys: {
      type: 'array',
      minItems: 1,
      items: {
        ...secretField,
        hint: 'write file:PATH to a PEM public key, a certificate, a JWK or a JWK Set',
      },
    },
    requiredClaims: { type: 'array', default: [], items: { type: 'string', minLength: 1 } },
    clockSkewSec: {
      type: 'integer',
      minimum: 0,
      maximum: 300,
      default: d.auth.clockSkewSec,
      hint: 'a small allowance in seconds for clocks that differ, at most 300',
    },
    scopeClaim: claimName(d.auth.scopeClaim),
    rolesClaim: claimName(d.auth.rolesClaim),
    consumerClaim: claimName(d.auth.consumerClaim),
  },
} as const;

const oauthClient = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'secret', 'scopes'],
  properties: {
    id: {
      type: 'string',
      pattern: '^[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}$',
      examples: ['reporting'],
      hint: nameHint,
    },
    secret: {
      ...secretField,
      examples: ['env:REPORTING_CLIENT_SECRET'],
      hint: 'write env:NAME or file:PATH: a client secret is never written inline',
    },
    consumer: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}$', hint: nameHint },
    scopes: { type: 'array', items: scopeItem, examples: ['[reports:read]'] },
  },
} as const;

const auth = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    realm: {
      type: 'string',
      pattern: '^[\\x20\\x21\\x23-\\x5B\\x5D-\\x7E]{1,64}$',
      default: d.auth.realm,
      hint: 'printable characters without quotes or backslashes',
    },
    issuer: { type: 'string', minLength: 1, maxLength: 2048, default: d.auth.issuer },
    signingKeys: {
      type: 'array',
      minItems: 1,
      items: { ...secretField, examples: ['file:./signing-key.pem'] },
      hint: 'list P-256 private keys as file:PATH or env:NAME, the signing one first; leave it out to keep generated keys in stateDir',
    },
    signingKeyRotation: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        publishAheadSec: {
          type: 'integer',
          minimum: 1,
          maximum: 86_400,
          default: d.auth.signingKeyPublishAheadSec,
          hint: 'a new key is published this long before it signs: longer than any JWKS cache (the JWKS says max-age=60)',
        },
        retireMarginSec: {
          type: 'integer',
          minimum: 0,
          maximum: 86_400,
          default: d.auth.signingKeyRetireMarginSec,
          hint: 'seconds a replaced key stays published after the last token it signed expired (clock skew)',
        },
      },
    },
    maxTokenBytes: { type: 'integer', minimum: 256, maximum: 65_536, default: d.auth.maxTokenBytes },
    verifiedTokenCacheSize: {
      type: 'integer',
      minimum: 0,
      maximum: 1_000_000,
      default: d.auth.verifiedTokenCacheSize,
    },
    issuers: { type: 'array', default: [], items: jwtIssuer },
    tokenEndpoint: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: false },
        basePath: {
          type: 'string',
          pattern: '^/$|^(/[^/?#\\s]+)+$',
          default: '/',
          hint: 'start with "/" and end without one, e.g. /gatehouse (or / for the root)',
        },
        audience: { type: 'string', minLength: 1, default: d.auth.tokenAudience },
        lifetimeSec: {
          type: 'integer',
          minimum: 1,
          maximum: 3600,
          default: d.auth.tokenLifetimeSec,
          hint: 'access tokens are short-lived: at most 3600 seconds',
        },
        apiKeyHeader: { type: 'string', pattern: headerNamePattern, default: d.auth.apiKeyHeader },
        clients: { type: 'array', default: [], items: oauthClient },
      },
    },
    identity: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: true },
        header: { type: 'string', pattern: headerNamePattern, default: d.auth.identityHeader },
        lifetimeSec: {
          type: 'integer',
          minimum: 1,
          maximum: 60,
          default: d.auth.identityLifetimeSec,
          hint: 'an identity assertion lives at most 60 seconds',
        },
        reuseSec: { type: 'integer', minimum: 0, maximum: 59, default: d.auth.identityReuseSec },
      },
    },
  },
} as const;

/** src/contract/validation: bounds on JSON request bodies. */
const validation = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    maxJsonDepth: { type: 'integer', minimum: 1, maximum: 256, default: d.validation.maxJsonDepth },
    maxJsonKeys: { type: 'integer', minimum: 1, maximum: 1_000_000, default: d.validation.maxJsonKeys },
  },
} as const;

const corsOriginHint =
  'write an origin such as https://app.example.com (scheme, host, optional port; lowercase, no path), or "*"';
const headerNameList = (fallback: readonly string[]) =>
  ({
    type: 'array',
    default: fallback,
    items: {
      type: 'string',
      pattern: "^[a-z0-9!#$%&'*+.^_`|~-]{1,64}$",
      hint: 'write a lowercase header name',
    },
  }) as const;

/**
 * Fetch standard CORS: absent = no CORS headers at all (browsers then refuse cross-origin reads).
 * "*" together with credentials is refused: it would let any site call the API as the user.
 */
const cors = {
  type: 'object',
  additionalProperties: false,
  required: ['allowedOrigins'],
  properties: {
    allowedOrigins: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'string',
        pattern: '^(\\*|https?://[a-z0-9.-]+(:[0-9]{1,5})?|https?://\\[[0-9a-f:.]+\\](:[0-9]{1,5})?)$',
        hint: corsOriginHint,
      },
      examples: [['https://app.example.com']],
    },
    allowCredentials: { type: 'boolean', default: d.cors.allowCredentials },
    allowedHeaders: headerNameList(d.cors.allowedHeaders),
    exposedHeaders: headerNameList(d.cors.exposedHeaders),
    maxAgeSeconds: { type: 'integer', minimum: 0, maximum: 86_400, default: d.cors.maxAgeSeconds },
  },
  if: { properties: { allowCredentials: { const: true } }, required: ['allowCredentials'] },
  then: {
    properties: {
      allowedOrigins: {
        type: 'array',
        items: {
          type: 'string',
          pattern: '^https?://',
          hint: 'with allowCredentials: true list each origin; "*" with credentials would let any site call the API as the user',
        },
      },
    },
  },
} as const;

export const configSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://gatehouse.dev/schemas/config.json',
  type: 'object',
  additionalProperties: false,
  required: ['listeners', 'apis'],
  properties: {
    stateDir: { type: 'string', minLength: 1, default: d.stateDir },
    listeners: { type: 'array', minItems: 1, items: listener, hint: 'declare at least one listener' },
    limits,
    apis: { type: 'array', minItems: 1, items: api, hint: 'declare at least one API' },
    log,
    journeyBufferSize: { type: 'integer', minimum: 0, maximum: 100_000, default: d.journeyBufferSize },
    keys,
    admin,
    redis,
    rateLimits,
    preAuthLimit,
    concurrency,
    auth,
    validation,
    cors,
    monitoring: monitoringSchema,
  },
} as const;

/** The YAML file's shape once it has passed `configSchema`, defaults filled in (paths not yet resolved). */
export interface ConfigFile {
  readonly stateDir: string;
  readonly listeners: readonly ListenerEntry[];
  readonly limits: LimitsConfig;
  readonly apis: readonly ApiEntry[];
  readonly log: LogConfig;
  readonly journeyBufferSize: number;
  readonly keys: KeysEntry;
  readonly admin?: AdminEntry;
  readonly redis?: Omit<RedisConfig, 'url'> & { readonly url: string };
  readonly rateLimits: RateLimitsConfig;
  readonly preAuthLimit: PreAuthLimitConfig;
  readonly concurrency: ConcurrencyConfig;
  readonly auth: AuthEntry;
  readonly validation: ValidationConfig;
  readonly cors?: CorsConfig;
  readonly monitoring: MonitoringEntry;
}

export interface ListenerEntry {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly tls: 'dev' | { readonly cert: string; readonly key: string; readonly ca?: string };
}

export interface ApiEntry {
  readonly name: string;
  readonly openapi: string;
  readonly overlays?: readonly string[];
  readonly defaultSecurity?: readonly SecurityRequirement[];
  readonly basePath: string;
  readonly upstream: Omit<UpstreamConfig, 'tls' | 'socketPath'> & {
    readonly socket?: string;
    readonly tls:
      | 'dev'
      | { readonly ca?: string; readonly cert?: string; readonly key?: string; readonly serverName?: string };
  };
  readonly responseContract?: 'strip' | 'reject';
  readonly forwardCredentials?: boolean;
}

export interface KeysEntry {
  readonly store: {
    readonly sqlite?: { readonly path?: string };
    readonly postgres?: { readonly url: string; readonly schema: string };
  };
  readonly sync: { readonly redisUrl?: string; readonly pollMs: number };
  readonly lastUsedFlushMs: number;
}

export interface AdminEntry {
  readonly host: string;
  readonly port: number;
  readonly token: string;
  readonly tls: ListenerEntry['tls'];
}

export interface AuthEntry {
  readonly realm: string;
  readonly issuer: string;
  readonly signingKeys?: readonly string[];
  readonly signingKeyRotation: { readonly publishAheadSec: number; readonly retireMarginSec: number };
  readonly maxTokenBytes: number;
  readonly verifiedTokenCacheSize: number;
  readonly issuers: readonly {
    readonly issuer: string;
    readonly audience?: string | readonly string[];
    readonly algorithms: readonly string[];
    readonly secret?: string;
    readonly allowMissingClaims: readonly ('iss' | 'aud')[];
    readonly jwksUrl?: string;
    readonly jwksCa?: string;
    readonly jwksTimeoutMs: number;
    readonly jwksCooldownSec: number;
    readonly jwksMaxAgeSec: number;
    readonly keys?: readonly string[];
    readonly requiredClaims: readonly string[];
    readonly clockSkewSec: number;
    readonly scopeClaim: string;
    readonly rolesClaim: string;
    readonly consumerClaim: string;
  }[];
  readonly tokenEndpoint: {
    readonly enabled: boolean;
    readonly basePath: string;
    readonly audience: string;
    readonly lifetimeSec: number;
    readonly apiKeyHeader: string;
    readonly clients: readonly {
      readonly id: string;
      readonly secret: string;
      readonly consumer?: string;
      readonly scopes: readonly string[];
    }[];
  };
  readonly identity: {
    readonly enabled: boolean;
    readonly header: string;
    readonly lifetimeSec: number;
    readonly reuseSec: number;
  };
}
