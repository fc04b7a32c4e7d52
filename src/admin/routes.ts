import type { IncomingMessage } from 'node:http';
import { DURATION_HINT, parseDuration } from '../auth/keys/duration.js';
import { KeyRequestError, type KeyLifecycle } from '../auth/keys/lifecycle.js';
import { keyRequestProblem, type KeyRequest } from '../auth/keys/record.js';
import { GatehouseError } from '../errors/gatehouse-error.js';
import type { Monitor } from '../observe/monitor.js';
import { expectFields, methodNotAllowed, type AdminResponse } from './responses.js';
import { readJsonBody } from './body.js';
import { routeMonitoring } from './monitoring-routes.js';
import type { AdminServices } from './services.js';

/** The overlap a rotation gets when the caller names none: a day to roll the new key out. */
export const DEFAULT_OVERLAP = '24h';
const MAX_OVERLAP_MS = 30 * 86_400_000;
const MAX_LIFETIME_MS = 3650 * 86_400_000;
const MAX_PAGE = 1000;
const KEY_ROUTE = /^\/keys\/([0-9a-f]{16})(?:\/(revoke|rotate))?$/;

/**
 * The admin routes, for a caller already authenticated (monitoring-routes.ts has the rest):
 *   POST /keys               create; the response holds the key, the only time it is ever shown
 *   GET  /keys               list (never a secret), ?consumer=&after=&limit= (keyset paging)
 *   GET  /keys/{id}          one record
 *   POST /keys/{id}/revoke   revoke
 *   POST /keys/{id}/rotate   new key, old one kept for `overlap` (default 24h)
 */
export async function routeAdminRequest(
  req: IncomingMessage,
  services: AdminServices,
  client: string,
): Promise<AdminResponse> {
  const url = new URL(req.url ?? '/', 'https://admin.invalid');
  const response = await routeKeys(req, url, services.lifecycle);
  if (response !== null) {
    if (response.status === 201 || response.route.endsWith('/revoke'))
      keyEvent(response, services.monitor, client);
    return response;
  }
  const monitoring = await routeMonitoring(req, url, services, client);
  if (monitoring !== null) return monitoring;
  throw new GatehouseError('GH_ADMIN_NOT_FOUND', 'no admin route at this path');
}

/** key.created / key.rotated / key.revoked: who (the admin's address) changed which key (its id, never the key). */
function keyEvent(response: AdminResponse, monitor: Monitor, client: string): void {
  const body = response.body as { record: { id: string; consumer: string }; replaced?: { id: string } };
  const type =
    response.route === 'POST /keys'
      ? 'key.created'
      : response.route.endsWith('/rotate')
        ? 'key.rotated'
        : 'key.revoked';
  monitor.emit(type, {
    address: client,
    consumer: body.record.consumer,
    credentialId: body.record.id,
    reason: `${type.slice(4)} through the admin API`,
    data: body.replaced === undefined ? null : { replaced: body.replaced.id },
  });
}

async function routeKeys(
  req: IncomingMessage,
  url: URL,
  lifecycle: KeyLifecycle,
): Promise<AdminResponse | null> {
  const method = req.method ?? '';
  if (url.pathname === '/keys') {
    if (method === 'GET') return listKeys(url.searchParams, lifecycle);
    if (method === 'POST') return createKey(await readJsonBody(req), lifecycle);
    throw methodNotAllowed('GET, POST', '/keys');
  }
  const match = KEY_ROUTE.exec(url.pathname);
  if (match === null) return null;
  const [, id, action] = match as unknown as [string, string, 'revoke' | 'rotate' | undefined];
  if (action === undefined) {
    if (method !== 'GET') throw methodNotAllowed('GET', '/keys/{id}');
    return getKey(id, lifecycle);
  }
  if (method !== 'POST') throw methodNotAllowed('POST', `/keys/{id}/${action}`);
  const body = await readJsonBody(req);
  return action === 'revoke' ? revokeKey(id, body, lifecycle) : rotateKey(id, body, lifecycle);
}

async function createKey(body: unknown, lifecycle: KeyLifecycle): Promise<AdminResponse> {
  const request = parseCreateBody(body);
  try {
    const created = await lifecycle.create(request);
    return { status: 201, route: 'POST /keys', body: { key: created.key, record: created.record } };
  } catch (err) {
    if (err instanceof KeyRequestError) throw new GatehouseError('GH_ADMIN_BAD_REQUEST', err.message);
    throw err;
  }
}

async function listKeys(params: URLSearchParams, lifecycle: KeyLifecycle): Promise<AdminResponse> {
  const limitText = params.get('limit') ?? '100';
  const limit = /^[1-9][0-9]{0,3}$/.test(limitText) ? Math.min(Number(limitText), MAX_PAGE) : NaN;
  if (Number.isNaN(limit)) throw new GatehouseError('GH_ADMIN_BAD_REQUEST', `limit must be 1 to ${MAX_PAGE}`);
  const keys = await lifecycle.list({ after: params.get('after'), consumer: params.get('consumer'), limit });
  const next = keys.length === limit ? keys[keys.length - 1]!.id : null;
  return { status: 200, route: 'GET /keys', body: { keys, next } };
}

async function getKey(id: string, lifecycle: KeyLifecycle): Promise<AdminResponse> {
  const record = await lifecycle.get(id);
  if (record === null) throw keyNotFound(id);
  return { status: 200, route: 'GET /keys/{id}', body: { record } };
}

async function revokeKey(id: string, body: unknown, lifecycle: KeyLifecycle): Promise<AdminResponse> {
  expectFields(body, []);
  const record = await lifecycle.revoke(id);
  if (record === null) throw keyNotFound(id);
  return { status: 200, route: 'POST /keys/{id}/revoke', body: { record } };
}

async function rotateKey(id: string, body: unknown, lifecycle: KeyLifecycle): Promise<AdminResponse> {
  const fields = expectFields(body, ['overlap', 'expiresIn']);
  const overlapMs = durationField(fields.overlap ?? DEFAULT_OVERLAP, 'overlap', MAX_OVERLAP_MS);
  const options =
    fields.expiresIn === undefined
      ? { overlapMs }
      : { overlapMs, lifetimeMs: durationField(fields.expiresIn, 'expiresIn', MAX_LIFETIME_MS) };
  const outcome = await lifecycle.rotate(id, options);
  if (!outcome.ok) {
    if (outcome.reason === 'not-found') throw keyNotFound(id);
    throw new GatehouseError('GH_ADMIN_CONFLICT', `key ${id} cannot be rotated: ${outcome.reason}`);
  }
  const { key, record, replaced } = outcome.rotated;
  return { status: 201, route: 'POST /keys/{id}/rotate', body: { key, record, replaced } };
}

function parseCreateBody(body: unknown): KeyRequest {
  const fields = expectFields(body, ['consumer', 'scopes', 'expiresIn', 'env']);
  const problem = keyRequestProblem(fields.consumer, fields.scopes ?? []);
  if (problem !== null) throw new GatehouseError('GH_ADMIN_BAD_REQUEST', problem);
  const env = fields.env ?? 'live';
  if (env !== 'live' && env !== 'test')
    throw new GatehouseError('GH_ADMIN_BAD_REQUEST', 'env must be live or test');
  return {
    consumer: fields.consumer as string,
    scopes: (fields.scopes ?? []) as string[],
    env,
    lifetimeMs:
      fields.expiresIn === undefined || fields.expiresIn === null
        ? null
        : durationField(fields.expiresIn, 'expiresIn', MAX_LIFETIME_MS),
  };
}

function durationField(value: unknown, name: string, maxMs: number): number {
  const ms = parseDuration(value);
  if (ms === null || ms > maxMs)
    throw new GatehouseError('GH_ADMIN_BAD_REQUEST', `${name}: ${DURATION_HINT}`);
  return ms;
}

function keyNotFound(id: string): GatehouseError {
  return new GatehouseError('GH_ADMIN_NOT_FOUND', `no key with id ${id}`);
}
