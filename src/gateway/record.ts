import type { Logger } from 'pino';
import { NONE_PASSED, type JourneyBuffer } from '../observe/journey.js';
import { errorCatalogue } from '../errors/catalogue.js';
import type { TransportRefusal } from './listener.js';
import type { RequestContext } from './request-context.js';

/** Status logged for a request whose client went away before the answer was complete. */
const CLIENT_CLOSED = 499;

/**
 * The record stage: one access-log line and one journey record per request. Only the route
 * template is logged, never the raw path or query (either may carry identifiers or a key a
 * client misplaced), and never a header value.
 */
export function recordJourney(
  ctx: RequestContext,
  logger: Logger,
  journeys: JourneyBuffer,
  access: boolean,
): void {
  if (ctx.finished) return;
  ctx.finished = true;
  const journey = ctx.journey;
  journey.status = ctx.res.finished ? ctx.res.statusCode : CLIENT_CLOSED;
  journey.durationMs = Math.round((performance.now() - ctx.startedAt) * 1000) / 1000;
  if (journey.status === CLIENT_CLOSED) journey.reason ??= 'client closed the connection';
  journeys.push(journey);
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
    client: journey.clientAddress,
    contract: journey.contract,
  });
}

export function recordTransportRefusal(
  refusal: TransportRefusal,
  logger: Logger,
  journeys: JourneyBuffer,
): void {
  const status = errorCatalogue[refusal.code].status;
  journeys.push({
    requestId: refusal.requestId,
    startedAt: Date.now(),
    method: '',
    clientAddress: refusal.clientAddress,
    route: null,
    api: null,
    passed: NONE_PASSED,
    decidedBy: 'transport',
    code: refusal.code,
    reason: refusal.reason,
    status,
    durationMs: 0,
    contract: null,
  });
  logger.info({
    msg: 'request',
    reqId: refusal.requestId,
    status,
    stage: 'transport',
    code: refusal.code,
    reason: refusal.reason,
    client: refusal.clientAddress,
  });
}
