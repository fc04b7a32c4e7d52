/**
 * Every default of the configuration file, in one place. The schema (schema.ts) refers to these, so
 * a default is written once; a field absent from the YAML takes the value here.
 */
export const configDefaults = {
  stateDir: '.gatehouse',
  journeyBufferSize: 1000,
  listener: {
    // Loopback: exposing the gateway on other interfaces is a choice the operator writes down.
    host: '127.0.0.1',
  },
  limits: {
    maxHeaderBytes: 16_384,
    maxBodyBytes: 1_048_576,
    maxPathBytes: 2048,
    headersTimeoutMs: 10_000,
    requestTimeoutMs: 30_000,
    idleTimeoutMs: 60_000,
    maxConnections: 10_000,
    // A browser opens six; an office behind one NAT address, or a load balancer in front, many
    // more: one address may hold a tenth of maxConnections, and open 256 a second (burst 512).
    maxConnectionsPerAddress: 1000,
    maxHandshakesPerAddressPerSecond: 256,
  },
  api: {
    basePath: '/',
  },
  upstream: {
    connectTimeoutMs: 2000,
    responseTimeoutMs: 15_000,
    maxResponseBytes: 8_388_608,
    connections: 64,
  },
  log: {
    level: 'info',
    access: true,
    destination: 'stdout',
  },
  keys: {
    /** Relative to stateDir. */
    sqliteFile: 'keys.db',
    postgresSchema: 'public',
    // ≤ 500 ms: a revocation reaches every process within a second even without Redis.
    pollMs: 250,
    lastUsedFlushMs: 10_000,
  },
  admin: {
    host: '127.0.0.1',
    port: 9443,
  },
  redis: {
    // A Redis that hangs costs a decision at most this, then the policy's failure policy applies.
    // 100, not 25: on a 2-core machine with both cores kept busy, healthy Redis on loopback still
    // answered later than 25 ms for up to 0.4% of decisions (2 and 4 CPU burners), later than 100 ms
    // for at most 0.03% (`node bench/limiter.mjs --loaded`, 2026-12-07; bench/README.md). While the
    // breaker is closed a hung Redis costs each request this much, for about 5 × this until it opens.
    timeoutMs: 100,
    keyPrefix: 'gatehouse:',
    breaker: {
      // A store that fails this many times in a row is given up on; a stall that times out many
      // requests at once counts once (src/limits/breaker.ts), so only a store that keeps failing opens it.
      failuresToOpen: 5,
      // Then every decision goes to its failure policy at once, and a probe goes after this.
      openMs: 1000,
      successesToClose: 3,
    },
  },
  rateLimits: {
    replicas: 1,
    maxKeys: 100_000,
    maxDelayed: 1000,
  },
  preAuthLimit: {
    // A scan of random keys: 30 failures at once, then one every 2 s.
    failedAuth: { limit: 30, window: '1m', burst: 30 },
    login: {
      perAddress: { limit: 20, window: '1m', burst: 10 },
      perUsername: { limit: 10, window: '1m', burst: 5 },
      backoff: { freeFailures: 3, initialDelay: '1s', maxDelay: '15m', forgetAfter: '1d' },
      failureStatuses: [401, 403],
      // A browser that logged in before keeps its own login budget while its username is locked.
      deviceCookie: { enabled: true, maxAgeDays: 30 },
    },
  },
  concurrency: {
    maxInFlight: 4096,
    perClientMaxInFlight: 256,
    maxEventLoopDelayMs: 250,
    shedClientsAbove: 8,
  },
  auth: {
    realm: 'gatehouse',
    issuer: 'urn:gatehouse',
    // Bearer tokens are a few hundred bytes to a few KiB; beyond this one is refused undecoded.
    maxTokenBytes: 8192,
    verifiedTokenCacheSize: 10_000,
    jwksTimeoutMs: 2000,
    jwksCooldownSec: 30,
    jwksMaxAgeSec: 600,
    clockSkewSec: 30,
    scopeClaim: 'scope',
    rolesClaim: 'roles',
    consumerClaim: 'client_id',
    tokenAudience: 'gatehouse',
    tokenLifetimeSec: 300,
    apiKeyHeader: 'X-API-Key',
    identityHeader: 'Gatehouse-Identity',
    identityLifetimeSec: 60,
    identityReuseSec: 30,
    // Longer than the JWKS's Cache-Control max-age (60 s), so a cached set has a new key first.
    signingKeyPublishAheadSec: 90,
    signingKeyRetireMarginSec: 60,
  },
  validation: {
    maxJsonDepth: 32,
    maxJsonKeys: 1000,
  },
  monitoring: {
    /** Relative to stateDir. */
    eventsFile: 'security-events.log',
    eventBufferSize: 10_000,
    probeInterval: '5s',
    maxTracked: 10_000,
    upstreamErrorsMinRequests: 20,
    // Each detector: what makes it fire, over which window, and how long its ban lasts. Every
    // detector writes an event when it fires; actions (alert, ban) are the operator's choice.
    detectors: {
      failedLoginsPerAddress: { threshold: 20, window: '5m', banFor: '15m' },
      failedLoginsPerUsername: { threshold: 10, window: '5m', banFor: '15m' },
      credentialStuffing: { threshold: 10, window: '10m', banFor: '1h' },
      enumeration: { threshold: 20, window: '1m', banFor: '15m' },
      keyManyAddresses: { threshold: 20, window: '10m', banFor: '1h' },
      plaintextCredential: { threshold: 1, window: '1m', banFor: '1d' },
      upstreamErrors: { threshold: 50, window: '1m', banFor: '1m' },
    },
    alerts: { timeout: '5s', retries: 4, maxPerMinute: 30, dedup: '10m' },
  },
  cors: {
    allowCredentials: false,
    allowedHeaders: ['authorization', 'content-type', 'idempotency-key'],
    exposedHeaders: ['x-request-id', 'retry-after', 'ratelimit', 'ratelimit-policy'],
    maxAgeSeconds: 600,
  },
} as const;
