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
  /** https:// only: plaintext upstreams are refused at start-up. */
  readonly url: string;
  readonly tls: UpstreamTls;
  readonly connectTimeoutMs: number;
  /** Time from the request being sent to the response headers arriving (504 beyond). */
  readonly responseTimeoutMs: number;
  /** Largest upstream answer body relayed (502 beyond). */
  readonly maxResponseBytes: number;
  /** Kept-alive connections in the pool to this upstream. */
  readonly connections: number;
}

export interface ApiConfig {
  readonly name: string;
  /** Path of the OpenAPI 3.0/3.1 document, resolved against the config file's folder. */
  readonly openapi: string;
  /** Prefix under which the API is served at the gateway ("/" for the root). */
  readonly basePath: string;
  readonly upstream: UpstreamConfig;
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
}
