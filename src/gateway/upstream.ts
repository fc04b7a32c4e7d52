import { createSecureContext } from 'node:tls';
import { BUILTIN_API_NAME, type BuiltinApi } from '../auth/oauth/builtin-api.js';
import type { ApiConfig, UpstreamTls } from '../config/types.js';
import type { DevCertificates } from '../tls/dev-certs.js';
import { InProcessPool } from './upstream-client/in-process-pool.js';
import { UpstreamPool } from './upstream-client/pool.js';
import type { UpstreamDispatcher } from './upstream-client/types.js';

/** Largest header section accepted in an upstream answer (Node's own default is 16 KiB). */
const UPSTREAM_MAX_HEADER_BYTES = 32_768;
/** Idle upstream connections close before the 5 s keep-alive most servers (Node's included) use. */
const UPSTREAM_KEEP_ALIVE_MS = 4_000;

/** One upstream, ready to be called: its connection pool and how public paths map onto it. */
export interface UpstreamTarget {
  readonly apiName: string;
  readonly pool: UpstreamDispatcher;
  /** Path of the upstream URL ("" for its root), prepended to every forwarded path. */
  readonly pathPrefix: string;
  /** Length of the API's public basePath, cut from the request path ("/" counts as 0). */
  readonly basePathLength: number;
  readonly maxResponseBytes: number;
}

/**
 * Builds the kept-alive TLS pool for an API's upstream. Certificates are verified against the
 * configured CA (or the development CA), and the gateway presents its client certificate when
 * one is configured: the hop to the upstream is mTLS. The one plaintext hop is to a sidecar on
 * the same host (a loopback address or a Unix socket), which configuration checks.
 */
export function createUpstreamTarget(api: ApiConfig, devCerts: DevCertificates | null): UpstreamTarget {
  const upstream = api.upstream;
  const url = new URL(upstream.url);
  const pool = new UpstreamPool({
    origin: url,
    // One context for every connection of the pool: parsing keys per connection is slow.
    secureContext:
      upstream.tls === null
        ? null
        : createSecureContext(upstreamTlsOptions(upstream.tls, api.name, devCerts)),
    socketPath: upstream.socketPath,
    servername: serverNameOf(api),
    connections: upstream.connections,
    connectTimeoutMs: upstream.connectTimeoutMs,
    responseTimeoutMs: upstream.responseTimeoutMs,
    keepAliveTimeoutMs: UPSTREAM_KEEP_ALIVE_MS,
    maxHeaderBytes: UPSTREAM_MAX_HEADER_BYTES,
  });
  return {
    apiName: api.name,
    pool,
    pathPrefix: url.pathname.replace(/\/+$/, ''),
    basePathLength: api.basePath === '/' ? 0 : api.basePath.length,
    maxResponseBytes: upstream.maxResponseBytes,
  };
}

function upstreamTlsOptions(
  tls: UpstreamTls,
  apiName: string,
  devCerts: DevCertificates | null,
): Record<string, string> {
  if (tls.dev) {
    if (devCerts === null) throw new TypeError(`api ${apiName}: development certificates were not prepared`);
    return { ca: devCerts.caCert, cert: devCerts.clientCert, key: devCerts.clientKey };
  }
  const options: Record<string, string> = {};
  if (tls.ca !== null) options['ca'] = tls.ca;
  if (tls.cert !== null && tls.key !== null) {
    options['cert'] = tls.cert;
    options['key'] = tls.key;
  }
  return options;
}

function serverNameOf(api: ApiConfig): string | null {
  const tls = api.upstream.tls;
  return tls !== null && !tls.dev && tls.serverName !== null ? tls.serverName : null;
}

/** The token endpoint and JWKS as an upstream answered in this process, without a network hop. */
export function createBuiltinTarget(builtin: BuiltinApi): UpstreamTarget {
  const pool = new InProcessPool((request) => builtin.respond(request.method, requestIdOf(request.headers)));
  return { apiName: BUILTIN_API_NAME, pool, pathPrefix: '', basePathLength: 0, maxResponseBytes: 65_536 };
}

/** The X-Request-Id the forward stage gives every request it hands on. */
function requestIdOf(headers: readonly string[]): string {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === 'x-request-id') return headers[i + 1]!;
  return '';
}
