import type { Logger } from 'pino';
import { errorCatalogue } from '../../errors/catalogue.js';
import { upstreamLoginOutcome } from '../../limits/note.js';
import { newJourney } from '../../observe/journey.js';
import type { Monitor } from '../../observe/monitor.js';
import type { TransportRefusal } from '../listener.js';
import type { RequestContext } from '../request-context.js';

/** Status logged for a request whose client went away before the response was complete. */
const CLIENT_CLOSED = 499;

/**
 * The record stage: one access-log line per request, and its journey handed to the monitor
 * (journey buffer, metrics, security events, detectors). Only the route template is logged,
 * never the raw path or query (either may carry identifiers or a key a client misplaced), never
 * a header value; the caller is named by consumer, subject and credential id, never the secret.
 */
export function recordJourney(
  ctx: RequestContext,
  logger: Logger,
  monitor: Monitor,
  access: boolean,
  loginFailureStatuses: ReadonlySet<number>,
): void {
  if (ctx.recorded) return;
  ctx.recorded = true;
  const journey = ctx.journey;
  journey.status = ctx.res.sent ? ctx.res.statusCode : CLIENT_CLOSED;
  journey.durationMs = Math.round((performance.now() - ctx.startedAt) * 1000) / 1000;
  if (journey.status === CLIENT_CLOSED) journey.reason ??= 'client closed the connection';
  const principal = ctx.principal;
  if (principal !== null) {
    journey.consumer = principal.consumer;
    journey.subject = principal.subject;
    journey.credentialKind = principal.credential.kind;
    journey.credentialId = principal.credential.id;
  }
  journey.bytesIn = ctx.req.bodyBytes;
  journey.bytesOut = ctx.res.bytesSent;
  const login = loginOutcome(ctx, loginFailureStatuses);
  const username = login === null ? null : (ctx.limits?.loginUsernameKey ?? null);
  monitor.request(ctx.route?.operation ?? null, journey, login, username, probedPath(ctx));
  if (!access) return;
  logger.info({
    msg: 'request',
    reqId: journey.requestId,
    method: journey.method,
    route: journey.route,
    api: journey.api,
    status: journey.status,
    stage: journey.decidedBy,
    code: journey.code,
    reason: journey.reason,
    durationMs: journey.durationMs,
    upstreamMs: journey.upstreamMs,
    client: journey.clientAddress,
    consumer: journey.consumer,
    subject: journey.subject,
    credential: journey.credentialKind,
    credentialId: journey.credentialId,
    bytesIn: journey.bytesIn,
    bytesOut: journey.bytesOut,
    contract: journey.contract,
  });
}

/**
 * On a login-marked operation: a failure when the upstream's response says so (a failure status,
 * or a 2xx that meets a `failedWhen` test) or the login limits refused the attempt; a success on
 * another 2xx; null otherwise (another refusal, or not a login).
 */
function loginOutcome(
  ctx: RequestContext,
  failureStatuses: ReadonlySet<number>,
): 'failure' | 'success' | null {
  if (ctx.limits === null || ctx.limits.loginAddressKey === null) return null;
  const outcome = upstreamLoginOutcome(ctx.limits, failureStatuses, ctx.journey.code);
  if (outcome !== null) return outcome;
  const { code, decidedBy } = ctx.journey;
  return decidedBy === 'pre-auth-limit' && code?.startsWith('GH_LIMIT_') === true ? 'failure' : null;
}

/** The reason the authorize stage gives a failed claim condition (`path.userId == principal.sub`). */
const CONDITION_REFUSED = 'authorize.condition:';

/**
 * The path of a request for an object (a template with parameters) that the upstream answered
 * 403 or 404, or that a claim condition refused: a probe for ids. A missing scope or role is
 * not one (the caller asked for something it may never have, not for someone else's object).
 */
function probedPath(ctx: RequestContext): string | null {
  const { status, code, reason } = ctx.journey;
  if ((status !== 404 && status !== 403) || ctx.route === null) return null;
  if (code !== null && (code !== 'GH_AUTH_FORBIDDEN' || reason?.startsWith(CONDITION_REFUSED) !== true))
    return null;
  return ctx.route.operation.template.includes('{') ? ctx.route.path : null;
}

export function recordTransportRefusal(refusal: TransportRefusal, logger: Logger, monitor: Monitor): void {
  const journey = newJourney(refusal.requestId, '', refusal.clientAddress);
  journey.decidedBy = 'transport';
  journey.code = refusal.code;
  journey.reason = refusal.reason;
  journey.status = errorCatalogue[refusal.code].status;
  monitor.request(null, journey);
  if (refusal.exposed !== null)
    monitor.exposedCredential(journey, refusal.exposed.keyId, refusal.exposed.kind);
  logger.info({
    msg: 'request',
    reqId: refusal.requestId,
    status: journey.status,
    stage: 'transport',
    code: refusal.code,
    reason: refusal.reason,
    client: refusal.clientAddress,
  });
}
