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
} as const;
