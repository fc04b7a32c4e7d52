import type { IncomingMessage } from 'node:http';
import { GatehouseError } from '../errors/gatehouse-error.js';
import { isIP } from 'node:net';
import { BAN_KINDS, normaliseAddress, type BanKind } from '../observe/bans.js';
import { SECURITY_EVENT_TYPES, type SecurityEventType } from '../observe/events.js';
import type { Monitor } from '../observe/monitor.js';
import type { AdminServices } from './services.js';
import { readJsonBody } from './body.js';
import { DURATION_HINT, parseDuration } from '../auth/keys/duration.js';
import { expectFields, methodNotAllowed, type AdminResponse } from './responses.js';

const MAX_EVENT_PAGE = 1000;
const MAX_BAN_PAGE = 1000;
const MAX_BAN_MS = 365 * 86_400_000;
const REQUEST_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const BAN_ROUTE = /^\/bans\/([0-9a-f]{16})$/;
const EVENT_TYPES: ReadonlySet<string> = new Set(SECURITY_EVENT_TYPES);

/**
 * The monitoring routes of the admin API, for a caller already authenticated:
 *   GET    /summary             totals, threat table, the last five minutes, top refused, detections
 *   GET    /events              security events, newest first (?before=) or following (?after=);
 *                               filters ?since= ?type= (comma list) ?address= ?consumer=; ?limit=
 *   GET    /journeys/{id}       the journey of one request, by its X-Request-Id
 *   GET    /bans                bans in force, newest first (?limit=, at most 1000; `total` counts them all)
 *   POST   /bans                { kind, value, duration, reason? }: ban an address, consumer or key
 *   DELETE /bans/{id}           lift a ban
 * Null when the path is none of these.
 */
export async function routeMonitoring(
  req: IncomingMessage,
  url: URL,
  services: AdminServices,
  client: string,
): Promise<AdminResponse | null> {
  const method = req.method ?? '';
  const path = url.pathname;
  const monitor = services.monitor;
  if (path === '/summary') {
    if (method !== 'GET') throw methodNotAllowed('GET', '/summary');
    return {
      status: 200,
      route: 'GET /summary',
      body: {
        ...(await (services.whole?.summary() ?? monitor.summary())),
        readiness: services.whole?.readiness() ?? services.readiness(),
      },
    };
  }
  if (path === '/events') {
    if (method !== 'GET') throw methodNotAllowed('GET', '/events');
    return listEvents(url.searchParams, monitor);
  }
  if (path.startsWith('/journeys/')) {
    if (method !== 'GET') throw methodNotAllowed('GET', '/journeys/{requestId}');
    return journeyOf(path.slice('/journeys/'.length), services);
  }
  if (path === '/bans') {
    if (method === 'GET') {
      const bans = monitor.bans.list();
      const limit = integerParam(url.searchParams, 'limit', MAX_BAN_PAGE, 1, MAX_BAN_PAGE);
      return {
        status: 200,
        route: 'GET /bans',
        body: { bans: bans.slice(0, limit).map(banView), total: bans.length },
      };
    }
    if (method === 'POST') return setBan(await readJsonBody(req), monitor, client);
    throw methodNotAllowed('GET, POST', '/bans');
  }
  const ban = BAN_ROUTE.exec(path);
  if (ban !== null) {
    if (method !== 'DELETE') throw methodNotAllowed('DELETE', '/bans/{id}');
    const lifted = monitor.lift(ban[1]!, `admin at ${client}`);
    if (lifted === null) throw new GatehouseError('GH_ADMIN_NOT_FOUND', `no ban with id ${ban[1]!}`);
    return { status: 200, route: 'DELETE /bans/{id}', body: { ban: banView(lifted) } };
  }
  return null;
}

function listEvents(params: URLSearchParams, monitor: Monitor): AdminResponse {
  const limit = integerParam(params, 'limit', 100, 1, MAX_EVENT_PAGE);
  const after = params.has('after') ? integerParam(params, 'after', 0, 0, Number.MAX_SAFE_INTEGER) : null;
  const before = params.has('before') ? integerParam(params, 'before', 0, 1, Number.MAX_SAFE_INTEGER) : null;
  const sinceText = params.get('since');
  const since = sinceText === null ? null : Date.parse(sinceText);
  if (since !== null && Number.isNaN(since)) {
    throw new GatehouseError(
      'GH_ADMIN_BAD_REQUEST',
      'since must be an ISO 8601 time, e.g. 2026-12-07T10:00:00Z',
    );
  }
  const typeText = params.get('type');
  let types: Set<SecurityEventType> | null = null;
  if (typeText !== null) {
    const listed = typeText.split(',');
    const unknown = listed.find((type) => !EVENT_TYPES.has(type));
    if (unknown !== undefined) {
      throw new GatehouseError(
        'GH_ADMIN_BAD_REQUEST',
        `unknown event type: ${unknown.slice(0, 40)} (see docs/monitoring.md)`,
      );
    }
    types = new Set(listed as SecurityEventType[]);
  }
  const page = monitor.events.query({
    after,
    before,
    since,
    types,
    address: params.get('address'),
    consumer: params.get('consumer'),
    limit,
  });
  return {
    status: 200,
    route: 'GET /events',
    body: { events: page.events, next: page.next, lastId: monitor.events.lastId },
  };
}

async function journeyOf(id: string, services: AdminServices): Promise<AdminResponse> {
  if (!REQUEST_ID.test(id))
    throw new GatehouseError('GH_ADMIN_BAD_REQUEST', 'a request id is a lowercase UUID');
  const journey = services.monitor.journeys.find(id) ?? (await services.whole?.journey(id)) ?? undefined;
  if (journey === undefined) {
    throw new GatehouseError(
      'GH_ADMIN_NOT_FOUND',
      `no journey for request ${id} (it may have left the buffer)`,
    );
  }
  return { status: 200, route: 'GET /journeys/{requestId}', body: { journey } };
}

function setBan(body: unknown, monitor: Monitor, client: string): AdminResponse {
  const fields = expectFields(body, ['kind', 'value', 'duration', 'reason']);
  if (!BAN_KINDS.includes(fields.kind as BanKind)) {
    throw new GatehouseError('GH_ADMIN_BAD_REQUEST', 'kind must be address, consumer or key');
  }
  if (typeof fields.value !== 'string' || fields.value === '' || fields.value.length > 256) {
    throw new GatehouseError('GH_ADMIN_BAD_REQUEST', 'value must be 1 to 256 characters');
  }
  if (fields.kind === 'address' && isIP(normaliseAddress(fields.value)) === 0) {
    throw new GatehouseError(
      'GH_ADMIN_BAD_REQUEST',
      'an address ban takes an IPv4 or IPv6 address, e.g. 203.0.113.7',
    );
  }
  const durationMs = parseDuration(fields.duration);
  if (durationMs === null || durationMs > MAX_BAN_MS) {
    throw new GatehouseError('GH_ADMIN_BAD_REQUEST', `duration: ${DURATION_HINT}, at most 365d`);
  }
  const reason = fields.reason ?? 'set by an administrator';
  if (typeof reason !== 'string' || reason.length > 200) {
    throw new GatehouseError('GH_ADMIN_BAD_REQUEST', 'reason must be text of at most 200 characters');
  }
  const ban = monitor.ban(fields.kind as BanKind, fields.value, durationMs, reason, `admin at ${client}`);
  return { status: 201, route: 'POST /bans', body: { ban: banView(ban) } };
}

/** A ban as the admin API shows it: times as ISO 8601. */
function banView(ban: ReturnType<Monitor['bans']['list']>[number]): Record<string, string> {
  return {
    id: ban.id,
    kind: ban.kind,
    value: ban.value,
    reason: ban.reason,
    source: ban.source,
    createdAt: new Date(ban.createdAt).toISOString(),
    expiresAt: new Date(ban.expiresAt).toISOString(),
  };
}

function integerParam(
  params: URLSearchParams,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const text = params.get(name);
  if (text === null) return fallback;
  const value = /^[0-9]{1,16}$/.test(text) ? Number(text) : NaN;
  if (!(value >= min && value <= max)) {
    throw new GatehouseError('GH_ADMIN_BAD_REQUEST', `${name} must be a whole number from ${min} to ${max}`);
  }
  return value;
}
