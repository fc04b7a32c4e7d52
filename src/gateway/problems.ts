import { problemBody } from '../errors/problem.js';
import type { GatehouseError } from '../errors/gatehouse-error.js';
import { BUILTIN_API_NAME, TOKEN_OPERATION } from '../auth/oauth/builtin-document.js';
import { oauthErrorFor } from '../auth/oauth/oauth-errors.js';
import type { RequestContext } from './request-context.js';

/** RFC 6797: two years, subdomains included. Sent on every response, refusals too. */
export const HSTS_VALUE = 'max-age=63072000; includeSubDomains';

/**
 * An API answer is data, never a page: nothing in it may load, run or be framed, even if a
 * browser is tricked into rendering it (CSP Level 3 `default-src`; `frame-ancestors` §6.4.2).
 */
export const CSP_VALUE = "default-src 'none'; frame-ancestors 'none'";

/**
 * Headers Gatehouse adds to every response. `Server` and `X-Powered-By` are never sent: Node
 * adds neither, and upstream copies are dropped in forward.ts.
 */
export function securityHeaders(requestId: string): string[] {
  return [
    'strict-transport-security',
    HSTS_VALUE,
    'x-content-type-options',
    'nosniff',
    'content-security-policy',
    CSP_VALUE,
    'x-request-id',
    requestId,
  ];
}

const SECURITY_BLOCK =
  `strict-transport-security: ${HSTS_VALUE}\r\nx-content-type-options: nosniff\r\n` +
  `content-security-policy: ${CSP_VALUE}\r\nx-request-id: `;

/**
 * securityHeaders as header-section text, for FrontResponse.writeHead: built from constants and
 * the gateway's own request id, so nothing in it needs checking per answer.
 */
export function securityPreamble(requestId: string): string {
  return `${SECURITY_BLOCK}${requestId}\r\n`;
}

/**
 * The one place a refusal becomes a response: RFC 9457 problem+json with the generic title of
 * its code and the request id; the detail stays in the journey record.
 */
const CLOSES_CONNECTION: ReadonlySet<string> = new Set([
  'GH_TRANSPORT_BAD_REQUEST',
  'GH_TRANSPORT_NOT_IMPLEMENTED',
  'GH_ROUTE_BAD_PATH',
]);

export function sendProblem(ctx: RequestContext, err: GatehouseError): void {
  ctx.journey.decidedBy ??= ctx.currentStage;
  ctx.journey.code = err.code;
  ctx.journey.reason = err.detail;
  const res = ctx.res;
  if (ctx.responseStarted || res.started) {
    // The upstream's response already started: the only honest move left is to cut the connection.
    res.destroy();
    return;
  }
  ctx.responseStarted = true;
  // A body we did not read could be large, or crafted to be taken as the next request: close.
  // So does a request whose framing or target another server could read otherwise (a repeated
  // Host, an unknown coding, a traversal): what follows it on the connection is not trusted.
  if (hasUnreadBody(ctx) || CLOSES_CONNECTION.has(err.code)) res.shouldKeepAlive = false;
  const oauth = ctx.route?.operation.operationId === TOKEN_OPERATION ? oauthErrorFor(err.code) : null;
  if (oauth !== null && ctx.route!.operation.apiName === BUILTIN_API_NAME) {
    writeOAuthError(res, oauth, err, ctx.id, ctx.responseHeaders);
    return;
  }
  writeProblem(res, err, ctx.id, ctx.req.method === 'HEAD', ctx.responseHeaders);
}

/** The token endpoint's refusal as RFC 6749 §5.2 words it: `{"error": code}`, never cached. */
function writeOAuthError(
  res: ResponseWriter,
  oauth: { readonly status: number; readonly error: string },
  err: GatehouseError,
  requestId: string,
  extraHeaders: readonly string[] | null,
): void {
  const body = JSON.stringify({ error: oauth.error });
  const headers = securityHeaders(requestId);
  headers.push('content-type', 'application/json', 'cache-control', 'no-store', 'pragma', 'no-cache');
  headers.push('content-length', String(Buffer.byteLength(body)));
  // The challenge of a 401 (RFC 6749 §5.2: invalid_client with the schemes the client may use).
  if (oauth.status === 401 && err.headers !== undefined) {
    for (const [name, value] of Object.entries(err.headers)) headers.push(name, value);
  }
  if (extraHeaders !== null) for (const value of extraHeaders) headers.push(value);
  res.writeHead(oauth.status, headers);
  res.end(body);
}

function hasUnreadBody(ctx: RequestContext): boolean {
  return ctx.body === null && !ctx.req.complete && ctx.req.hasBody;
}

/** What a problem is written to: the gateway's FrontResponse, or node:http's for the admin API. */
export interface ResponseWriter {
  shouldKeepAlive: boolean;
  writeHead(status: number, headers: string[]): unknown;
  end(body?: string): unknown;
}

export function writeProblem(
  res: ResponseWriter,
  err: GatehouseError,
  requestId: string,
  headOnly: boolean,
  extraHeaders: readonly string[] | null = null,
): void {
  const headers = securityHeaders(requestId);
  if (err.status === 204) {
    // A local answer with no content (an allowed CORS preflight): its headers are the response.
    writeEmptyResponse(res, headers, err, extraHeaders);
    return;
  }
  const body = problemBody(err.code, requestId, err.errors);
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
  // Headers earlier stages gathered for any response (RateLimit on a 403, say): RequestContext.responseHeaders.
  if (extraHeaders !== null) for (const item of extraHeaders) headers.push(item);
  if (err.status === 408 || err.status === 413) res.shouldKeepAlive = false;
  res.writeHead(err.status, headers);
  res.end(headOnly ? undefined : body);
}

function writeEmptyResponse(
  res: ResponseWriter,
  headers: string[],
  err: GatehouseError,
  extraHeaders: readonly string[] | null,
): void {
  headers.push('cache-control', 'no-store');
  if (err.headers !== undefined) {
    for (const [name, value] of Object.entries(err.headers)) headers.push(name, value);
  }
  if (extraHeaders !== null) for (const item of extraHeaders) headers.push(item);
  res.writeHead(err.status, headers);
  res.end();
}
