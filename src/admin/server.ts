import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { AdminConfig, LimitsConfig } from '../config/types.js';
import { GatehouseError, toGatehouseError } from '../errors/gatehouse-error.js';
import { Listener, type TlsMaterial, type TransportRefusal } from '../gateway/listener.js';
import { securityHeaders, writeProblem } from '../gateway/problems.js';
import type { AdminResponse } from './responses.js';
import { createAdminCredentialCheck, createTokenCheck } from './credential.js';
import {
  loadDashboardFiles,
  routeDashboard,
  sessionAllows,
  SignInFailures,
  type DashboardContext,
} from './dashboard.js';
import { AdminSessions } from './sessions.js';
import { isLoopbackHost } from './loopback.js';
import { routeAdminRequest } from './routes.js';
import type { AdminServices } from './services.js';

export interface AdminServer {
  readonly address: AddressInfo;
  close(graceMs?: number): Promise<void>;
}

export interface AdminServerOptions {
  readonly config: Pick<AdminConfig, 'host' | 'port' | 'token'>;
  readonly tls: TlsMaterial;
  readonly limits: LimitsConfig;
  readonly services: AdminServices;
  /** A read-only credential for `GET /metrics` besides the admin token; null = none. */
  readonly scrapeToken: string | null;
  readonly logger: Logger;
}

/**
 * Who may do what: the admin token everything, a dashboard session everything its CSRF token
 * goes with (any read), a scrape token only `GET /metrics`.
 */
interface AdminAccess {
  readonly isAdmin: (authorization: string | undefined) => boolean;
  readonly isScraper: (authorization: string | undefined) => boolean;
  readonly dashboard: DashboardContext;
  readonly signInFailures: SignInFailures;
}

/** Why the admin listener will not start: said in words an operator can act on. */
export class AdminStartRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AdminStartRefused';
  }
}

const UNAUTHORIZED_HEADERS = Object.freeze({ 'www-authenticate': 'Bearer realm="gatehouse-admin"' });

/**
 * The admin API on its own HTTPS listener (the gateway's Listener: same TLS settings, same
 * refusal of plaintext). It refuses to start on anything but loopback and without a credential.
 * `GET /livez` and `GET /readyz` answer anyone (a status word, nothing internal); `GET /metrics`
 * takes the admin or the scrape token; every other request is authenticated before routing, so
 * an unauthenticated caller learns nothing, not even which paths exist.
 */
export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const { config, logger } = options;
  if (!isLoopbackHost(config.host)) {
    throw new AdminStartRefused(
      `admin API: refusing to listen on ${config.host}: use a loopback address (127.0.0.1 or ::1)`,
    );
  }
  if (config.token.trim() === '') {
    throw new AdminStartRefused('admin API: refusing to start without an admin credential (admin.token)');
  }
  const isAdmin = createAdminCredentialCheck(config.token);
  const scrape = options.scrapeToken === null ? null : createAdminCredentialCheck(options.scrapeToken);
  const files = await loadDashboardFiles();
  if (files === null) logger.warn({ msg: 'dashboard not built (npm run build): /dashboard answers 503' });
  const access: AdminAccess = {
    isAdmin,
    isScraper: (authorization) => isAdmin(authorization) || (scrape !== null && scrape(authorization)),
    dashboard: {
      files,
      sessions: new AdminSessions(),
      isAdminToken: createTokenCheck(config.token),
      monitor: options.services.monitor,
    },
    signInFailures: new SignInFailures(),
  };
  const onRequest = function handleAdminRequest(req: IncomingMessage, res: ServerResponse): void {
    void respondToAdminRequest(req, res, access, options, logger);
  };
  const listener = new Listener({
    host: config.host,
    port: config.port,
    tls: options.tls,
    limits: options.limits,
    onRequest,
    onTransportRefusal: (refusal: TransportRefusal) =>
      logger.info({
        msg: 'admin request',
        reqId: refusal.requestId,
        code: refusal.code,
        reason: refusal.reason,
      }),
  });
  const address = await listener.listen();
  logger.info({ msg: 'admin API listening', url: `https://${address.address}:${address.port}` });
  return { address, close: (graceMs = 2_000) => listener.close(graceMs) };
}

async function respondToAdminRequest(
  req: IncomingMessage,
  res: ServerResponse,
  access: AdminAccess,
  options: AdminServerOptions,
  logger: Logger,
): Promise<void> {
  const requestId = randomUUID();
  // Read now: after a refused body the socket may be gone by the time the refusal is logged.
  const client = req.socket.remoteAddress ?? '';
  const monitor = options.services.monitor;
  try {
    const response = await routeRequest(req, access, options, client);
    writeResponse(res, response, requestId);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      monitor.emit('admin.action', {
        requestId,
        address: client,
        reason: `${response.route} answered ${response.status}`,
      });
    }
    logger.info({
      msg: 'admin request',
      reqId: requestId,
      method: req.method,
      route: response.route,
      status: response.status,
    });
  } catch (err) {
    const problem = toGatehouseError(err);
    // A body we did not read could be large, or crafted to be taken as the next request: close.
    if (hasUnreadBody(req)) res.shouldKeepAlive = false;
    writeProblem(res, problem, requestId, req.method === 'HEAD');
    // A refused admin credential is a security event: logged (without what was presented).
    const level = problem.code === 'GH_ADMIN_UNAUTHORIZED' || problem.status >= 500 ? 'warn' : 'info';
    if (problem.code === 'GH_ADMIN_UNAUTHORIZED') {
      monitor.emit('admin.refused', {
        requestId,
        address: client,
        code: problem.code,
        reason: problem.detail,
      });
    }
    logger[level]({
      msg: 'admin request',
      reqId: requestId,
      method: req.method,
      status: problem.status,
      code: problem.code,
      reason: problem.detail,
      client,
    });
  }
}

/** Health first (no credential), then metrics (admin or scrape token), then everything else (admin token). */
async function routeRequest(
  req: IncomingMessage,
  access: AdminAccess,
  options: AdminServerOptions,
  client: string,
): Promise<AdminResponse> {
  const path = (req.url ?? '/').split('?', 1)[0]!;
  if (path === '/livez' || path === '/readyz') {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      throw new GatehouseError('GH_ADMIN_METHOD_NOT_ALLOWED', `method not allowed on ${path}`, {
        allow: 'GET, HEAD',
      });
    }
    if (path === '/livez') return { status: 200, route: 'GET /livez', body: { status: 'live' } };
    const { whole } = options.services;
    const readiness = whole === undefined ? options.services.readiness() : whole.readiness();
    return { status: readiness.status === 'not-ready' ? 503 : 200, route: 'GET /readyz', body: readiness };
  }
  if (path === '/dashboard' || path.startsWith('/dashboard/')) {
    return routeDashboard(req, path, access.dashboard, client, access.signInFailures);
  }
  const authorization = req.headers.authorization;
  const signedIn = sessionAllows(access.dashboard.sessions.find(req.headers.cookie), req);
  if (path === '/metrics' && (access.isScraper(authorization) || signedIn)) {
    if (req.method !== 'GET')
      throw new GatehouseError('GH_ADMIN_METHOD_NOT_ALLOWED', 'method not allowed on /metrics', {
        allow: 'GET',
      });
    const metrics = options.services.monitor.metrics;
    return {
      status: 200,
      route: 'GET /metrics',
      body: await (options.services.whole?.metrics() ?? metrics.text()),
      contentType: metrics.contentType,
    };
  }
  if (!access.isAdmin(authorization) && !signedIn) {
    throw new GatehouseError(
      'GH_ADMIN_UNAUTHORIZED',
      'missing or wrong admin credential',
      UNAUTHORIZED_HEADERS,
    );
  }
  return routeAdminRequest(req, options.services, client);
}

function writeResponse(res: ServerResponse, response: AdminResponse, requestId: string): void {
  const body =
    response.contentType === undefined
      ? JSON.stringify(response.body)
      : Buffer.isBuffer(response.body)
        ? response.body
        : String(response.body);
  const headers = securityHeaders(requestId);
  if (response.csp !== undefined) headers[headers.indexOf('content-security-policy') + 1] = response.csp;
  // The response to a create or rotate holds a key: nothing on the way may keep a copy.
  headers.push(
    'content-type',
    response.contentType ?? 'application/json',
    'cache-control',
    'no-store',
    'content-length',
    String(Buffer.byteLength(body)),
    ...(response.headers ?? []),
  );
  res.writeHead(response.status, headers);
  res.end(body);
}

function hasUnreadBody(req: IncomingMessage): boolean {
  if (req.complete || req.readableEnded) return false;
  const headers = req.headers;
  return headers['transfer-encoding'] !== undefined || (headers['content-length'] ?? '0') !== '0';
}
