import { readdir, readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GatehouseError } from '../errors/gatehouse-error.js';
import type { Monitor } from '../observe/monitor.js';
import { methodNotAllowed, type AdminResponse } from './responses.js';
import { readFormBody } from './body.js';
import { AdminSessions, csrfMatches, CSRF_HEADER, type AdminSession } from './sessions.js';

/** Where `npm run build` puts the dashboard (dashboard/build.mjs), from src/admin or dist/admin alike. */
const BUILT = fileURLToPath(new URL('../../dist/dashboard/', import.meta.url));

/**
 * The dashboard's pages: scripts and styles from this origin only, no inline code, data from this
 * origin's admin API only, never framed.
 */
export const DASHBOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const HTML = 'text/html; charset=utf-8';
const TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};
/** The one asset served before sign-in: the sign-in page's stylesheet (no data in it). */
const PUBLIC_ASSET = 'signin.css';
/** Failed sign-ins per client address per minute before the form answers 429. */
const MAX_FAILED_SIGN_INS = 5;

/** The built pages and assets, read once at start. */
export interface DashboardFiles {
  readonly app: Buffer;
  readonly signIn: Buffer;
  readonly signInFailed: Buffer;
  readonly assets: ReadonlyMap<string, { readonly type: string; readonly body: Buffer }>;
}

/** Reads dist/dashboard; null when it has not been built (the dashboard then answers 503). */
export async function loadDashboardFiles(root = BUILT): Promise<DashboardFiles | null> {
  try {
    const app = await readFile(path.join(root, 'index.html'));
    const signInText = await readFile(path.join(root, 'signin.html'), 'utf8');
    const assets = new Map<string, { type: string; body: Buffer }>();
    for (const name of await readdir(path.join(root, 'assets'))) {
      const type = TYPES[path.extname(name)];
      if (type !== undefined)
        assets.set(name, { type, body: await readFile(path.join(root, 'assets', name)) });
    }
    return {
      app,
      signIn: Buffer.from(signInText),
      signInFailed: Buffer.from(signInText.replace('class="error" hidden', 'class="error"')),
      assets,
    };
  } catch {
    return null;
  }
}

export interface DashboardContext {
  readonly files: DashboardFiles | null;
  readonly sessions: AdminSessions;
  /** Checks a token given in the sign-in form against the admin token (constant time). */
  readonly isAdminToken: (token: string) => boolean;
  readonly monitor: Monitor;
}

/**
 * Answers /dashboard and what lies under it:
 *   GET    /dashboard                 the app for a signed-in operator, else the sign-in page
 *   GET    /dashboard/assets/{name}   the app's script and styles (signed in only)
 *   POST   /dashboard/session         the sign-in form (field `token`): a session cookie, back to /dashboard
 *   GET    /dashboard/session         the session's CSRF token, for the page's state-changing calls
 *   DELETE /dashboard/session         sign out
 * Neither page holds admin data: the app reads it from the admin API with the session cookie.
 */
export async function routeDashboard(
  req: IncomingMessage,
  path: string,
  context: DashboardContext,
  client: string,
  failures: SignInFailures,
): Promise<AdminResponse> {
  const files = context.files;
  if (files === null) {
    throw new GatehouseError('GH_ADMIN_UNAVAILABLE', 'dashboard assets not built: run npm run build');
  }
  const method = req.method ?? '';
  const session = context.sessions.find(req.headers.cookie);
  if (path === '/dashboard' || path === '/dashboard/') {
    if (method !== 'GET' && method !== 'HEAD') throw methodNotAllowed('GET', '/dashboard');
    return page(session === null ? files.signIn : files.app, 'GET /dashboard');
  }
  if (path === '/dashboard/session') return routeSession(req, method, session, context, client, failures);
  const asset = path.startsWith('/dashboard/assets/') ? files.assets.get(path.slice(18)) : undefined;
  if (asset === undefined) throw new GatehouseError('GH_ADMIN_NOT_FOUND', 'no dashboard file at this path');
  if (method !== 'GET' && method !== 'HEAD') throw methodNotAllowed('GET', '/dashboard/assets/{name}');
  if (session === null && path.slice(18) !== PUBLIC_ASSET)
    throw unauthorized('dashboard asset before sign-in');
  return { status: 200, route: 'GET /dashboard/assets/{name}', body: asset.body, contentType: asset.type };
}

async function routeSession(
  req: IncomingMessage,
  method: string,
  session: AdminSession | null,
  context: DashboardContext,
  client: string,
  failures: SignInFailures,
): Promise<AdminResponse> {
  if (method === 'GET') {
    if (session === null) throw unauthorized('no dashboard session');
    const body = { csrf: session.csrf, expiresAt: new Date(session.expiresAt).toISOString() };
    return { status: 200, route: 'GET /dashboard/session', body };
  }
  if (method === 'DELETE') {
    if (session === null || !csrfMatches(session, req.headers[CSRF_HEADER]))
      throw unauthorized('sign-out without a session');
    context.sessions.end(req.headers.cookie);
    return {
      status: 200,
      route: 'DELETE /dashboard/session',
      body: { signedOut: true },
      headers: ['set-cookie', AdminSessions.clearedCookie()],
    };
  }
  if (method !== 'POST') throw methodNotAllowed('GET, POST, DELETE', '/dashboard/session');
  if (!fromThisOrigin(req)) throw unauthorized('dashboard sign-in posted from another site');
  if (failures.exceeded(client)) {
    throw new GatehouseError(
      'GH_ADMIN_TOO_MANY_SIGN_INS',
      'too many failed dashboard sign-ins from this address',
      {
        'retry-after': '60',
      },
    );
  }
  failures.add(client); // counted before the body is read: parallel attempts cannot slip past
  const token = (await readFormBody(req)).get('token') ?? '';
  if (!context.isAdminToken(token)) {
    context.monitor.emit('admin.refused', {
      address: client,
      code: 'GH_ADMIN_UNAUTHORIZED',
      reason: 'dashboard sign-in with a wrong token',
    });
    return { ...page(context.files!.signInFailed, 'POST /dashboard/session'), status: 401 };
  }
  failures.forget(client);
  const created = context.sessions.create();
  return {
    status: 303,
    route: 'POST /dashboard/session',
    body: '',
    contentType: 'text/plain; charset=utf-8',
    headers: ['location', '/dashboard', 'set-cookie', AdminSessions.cookie(created.id)],
  };
}

function page(body: Buffer, route: string): AdminResponse {
  return { status: 200, route, body, contentType: HTML, csp: DASHBOARD_CSP };
}

function unauthorized(detail: string): GatehouseError {
  return new GatehouseError('GH_ADMIN_UNAUTHORIZED', detail);
}

/** Failed sign-ins per client address over the current minute (bounded: a loopback listener sees few). */
export class SignInFailures {
  readonly #counts = new Map<string, { start: number; count: number }>();

  exceeded(address: string): boolean {
    const entry = this.#counts.get(address);
    return entry !== undefined && Date.now() - entry.start < 60_000 && entry.count >= MAX_FAILED_SIGN_INS;
  }

  forget(address: string): void {
    const entry = this.#counts.get(address);
    if (entry !== undefined) entry.count = Math.max(0, entry.count - 1);
  }

  add(address: string): void {
    const now = Date.now();
    const entry = this.#counts.get(address);
    if (entry === undefined || now - entry.start >= 60_000) {
      if (this.#counts.size >= 1000) this.#counts.clear();
      this.#counts.set(address, { start: now, count: 1 });
    } else entry.count += 1;
  }
}

/**
 * A request signed in through the dashboard: from the dashboard's own pages (a browser says so in
 * Sec-Fetch-Site; another port of the same host is another origin but the same site, and gets the
 * cookie too), any read, and a change only with the session's CSRF token.
 */
export function sessionAllows(session: AdminSession | null, req: IncomingMessage): boolean {
  if (session === null || !fromThisOrigin(req)) return false;
  const method = req.method ?? '';
  return method === 'GET' || method === 'HEAD' || csrfMatches(session, req.headers[CSRF_HEADER]);
}

/** Sec-Fetch-Site (Fetch Metadata) is absent from non-browser clients; a browser sends same-origin or none. */
function fromThisOrigin(req: IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site'];
  return site === undefined || site === 'same-origin' || site === 'none';
}
