import type { ServerResponse } from 'node:http';
import { problemBody } from '../errors/problem.js';
import type { GatehouseError } from '../errors/gatehouse-error.js';
import type { RequestContext } from './request-context.js';

/** RFC 6797: two years, subdomains included. Sent on every answer, refusals too. */
export const HSTS_VALUE = 'max-age=63072000; includeSubDomains';

/**
 * Headers Gatehouse adds to every answer. `Server` and `X-Powered-By` are never sent: Node
 * adds neither, and upstream copies are dropped in forward.ts.
 */
export function securityHeaders(requestId: string): string[] {
  return [
    'strict-transport-security',
    HSTS_VALUE,
    'x-content-type-options',
    'nosniff',
    'x-request-id',
    requestId,
  ];
}

/**
 * The one place a refusal becomes an answer: RFC 9457 problem+json with the generic title of
 * its code and the request id; the detail stays in the journey record.
 */
export function sendProblem(ctx: RequestContext, err: GatehouseError): void {
  ctx.journey.decidedBy ??= ctx.currentStage;
  ctx.journey.code = err.code;
  ctx.journey.reason = err.detail;
  const res = ctx.res;
  if (ctx.answered || res.headersSent) {
    // The upstream's answer already started: the only honest move left is to cut the connection.
    res.destroy();
    return;
  }
  ctx.answered = true;
  // A body we did not read could be large, or crafted to be taken as the next request: close.
  if (hasUnreadBody(ctx)) res.shouldKeepAlive = false;
  writeProblem(res, err, ctx.id, ctx.req.method === 'HEAD');
}

function hasUnreadBody(ctx: RequestContext): boolean {
  if (ctx.body !== null || ctx.req.complete) return false;
  const headers = ctx.req.headers;
  return headers['transfer-encoding'] !== undefined || (headers['content-length'] ?? '0') !== '0';
}

export function writeProblem(
  res: ServerResponse,
  err: GatehouseError,
  requestId: string,
  headOnly: boolean,
): void {
  const body = problemBody(err.code, requestId);
  const headers = securityHeaders(requestId);
  headers.push(
    'content-type',
    'application/problem+json',
    'cache-control',
    'no-store',
    'content-length',
    String(Buffer.byteLength(body)),
  );
  if (err.headers !== undefined) {
    for (const [name, value] of Object.entries(err.headers)) headers.push(name, value);
  }
  if (err.status === 408 || err.status === 413) res.shouldKeepAlive = false;
  res.writeHead(err.status, headers);
  res.end(headOnly ? undefined : body);
}
