import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { AdminConfig, LimitsConfig } from '../config/types.js';
import type { KeyLifecycle } from '../auth/keys/lifecycle.js';
import { GatehouseError, toGatehouseError } from '../errors/gatehouse-error.js';
import { Listener, type TlsMaterial, type TransportRefusal } from '../gateway/listener.js';
import { securityHeaders, writeProblem } from '../gateway/respond.js';
import { createAdminCredentialCheck } from './credential.js';
import { isLoopbackHost } from './loopback.js';
import { routeAdminRequest, type AdminAnswer } from './routes.js';

export interface AdminServer {
  readonly address: AddressInfo;
  close(graceMs?: number): Promise<void>;
}

export interface AdminServerOptions {
  readonly config: Pick<AdminConfig, 'host' | 'port' | 'token'>;
  readonly tls: TlsMaterial;
  readonly limits: LimitsConfig;
  readonly lifecycle: KeyLifecycle;
  readonly logger: Logger;
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
 * refusal of plaintext). It refuses to start on anything but loopback and without a credential;
 * every request is authenticated before routing, so an unauthenticated caller learns nothing,
 * not even which paths exist.
 */
export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const { config, lifecycle, logger } = options;
  if (!isLoopbackHost(config.host)) {
    throw new AdminStartRefused(
      `admin API: refusing to listen on ${config.host}: use a loopback address (127.0.0.1 or ::1)`,
    );
  }
  if (config.token.trim() === '') {
    throw new AdminStartRefused('admin API: refusing to start without an admin credential (admin.token)');
  }
  const isAdmin = createAdminCredentialCheck(config.token);
  const onRequest = function handleAdminRequest(req: IncomingMessage, res: ServerResponse): void {
    void answerAdminRequest(req, res, isAdmin, lifecycle, logger);
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

async function answerAdminRequest(
  req: IncomingMessage,
  res: ServerResponse,
  isAdmin: (authorization: string | undefined) => boolean,
  lifecycle: KeyLifecycle,
  logger: Logger,
): Promise<void> {
  const requestId = randomUUID();
  // Read now: after a refused body the socket may be gone by the time the refusal is logged.
  const client = req.socket.remoteAddress ?? '';
  try {
    if (!isAdmin(req.headers.authorization)) {
      throw new GatehouseError(
        'GH_ADMIN_UNAUTHORIZED',
        'missing or wrong admin credential',
        UNAUTHORIZED_HEADERS,
      );
    }
    const answer = await routeAdminRequest(req, lifecycle);
    writeJson(res, answer, requestId);
    logger.info({
      msg: 'admin request',
      reqId: requestId,
      method: req.method,
      route: answer.route,
      status: answer.status,
    });
  } catch (err) {
    const problem = toGatehouseError(err);
    // A body we did not read could be large, or crafted to be taken as the next request: close.
    if (hasUnreadBody(req)) res.shouldKeepAlive = false;
    writeProblem(res, problem, requestId, req.method === 'HEAD');
    // A refused admin credential is a security event: logged (without what was presented).
    const level = problem.code === 'GH_ADMIN_UNAUTHORIZED' || problem.status >= 500 ? 'warn' : 'info';
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

function writeJson(res: ServerResponse, answer: AdminAnswer, requestId: string): void {
  const body = JSON.stringify(answer.body);
  const headers = securityHeaders(requestId);
  // The answer to a create or rotate holds a key: nothing on the way may keep a copy.
  headers.push(
    'content-type',
    'application/json',
    'cache-control',
    'no-store',
    'content-length',
    String(Buffer.byteLength(body)),
  );
  res.writeHead(answer.status, headers);
  res.end(body);
}

function hasUnreadBody(req: IncomingMessage): boolean {
  if (req.complete || req.readableEnded) return false;
  const headers = req.headers;
  return headers['transfer-encoding'] !== undefined || (headers['content-length'] ?? '0') !== '0';
}
