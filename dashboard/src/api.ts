/**
 * The admin API as the dashboard reads it: same origin, the session cookie (sent by the browser),
 * and the session's CSRF token on every change. Only the documented routes (docs/monitoring.md,
 * docs/authentication.md, "The admin API").
 */

// One definition of what the admin API answers, shared with the server: type imports are erased,
// the threat list is data bundled with the page.
export { THREATS, type Threat } from '../../src/errors/catalogue.js';
export type { SecurityEvent } from '../../src/observe/events.js';
import type { Threat } from '../../src/errors/catalogue.js';
import type { SecurityEvent } from '../../src/observe/events.js';

export interface Summary {
  readonly time: string;
  readonly totals: { readonly requests: number; readonly refused: number; readonly served: number };
  readonly threats: Readonly<Record<Threat, number>>;
  readonly series: {
    readonly start: number;
    readonly step: number;
    readonly requests: number[];
    readonly refused: number[];
  };
  readonly topRefused: {
    readonly addresses: readonly { value: string; count: number }[];
    readonly consumers: readonly { value: string; count: number }[];
  };
  readonly detections: readonly SecurityEvent[];
  readonly bans: number;
  readonly lastEventId: number;
  readonly readiness: {
    readonly status: 'ready' | 'degraded' | 'not-ready';
    readonly checks: Readonly<Record<string, string>>;
  };
}

export interface Ban {
  readonly id: string;
  readonly kind: 'address' | 'consumer' | 'key';
  readonly value: string;
  readonly reason: string;
  readonly source: string;
  readonly createdAt: string;
  readonly expiresAt: string;
}

export interface KeyRecord {
  readonly id: string;
  readonly consumer: string;
  readonly scopes: readonly string[];
  readonly status: string;
  readonly createdAt: number;
  readonly expiresAt: number | null;
  readonly lastUsedAt: number | null;
}

export interface Journey {
  readonly requestId: string;
  readonly startedAt: number;
  readonly method: string;
  readonly clientAddress: string;
  readonly route: string | null;
  readonly api: string | null;
  readonly passed: readonly string[];
  readonly decidedBy: string | null;
  readonly code: string | null;
  readonly reason: string | null;
  readonly status: number;
  readonly durationMs: number;
  readonly contract: readonly string[] | null;
  readonly consumer: string | null;
  readonly credentialKind: string | null;
  readonly credentialId: string | null;
}

/** The session is gone (signed out elsewhere, expired): the page goes back to sign-in. */
export class SignedOut extends Error {}

export class AdminApi {
  readonly #csrf: string;

  private constructor(csrf: string) {
    this.#csrf = csrf;
  }

  /** Opens the API for this page's session; throws SignedOut when there is none. */
  static async open(): Promise<AdminApi> {
    const session = await call<{ csrf: string }>('GET', '/dashboard/session', null);
    return new AdminApi(session.csrf);
  }

  summary(): Promise<Summary> {
    return call('GET', '/summary', null);
  }

  async events(limit: number): Promise<readonly SecurityEvent[]> {
    return (await call<{ events: SecurityEvent[] }>('GET', `/events?limit=${limit}`, null)).events;
  }

  async bans(): Promise<readonly Ban[]> {
    return (await call<{ bans: Ban[] }>('GET', '/bans?limit=100', null)).bans;
  }

  async keys(): Promise<readonly KeyRecord[]> {
    return (await call<{ keys: KeyRecord[] }>('GET', '/keys?limit=200', null)).keys;
  }

  async journey(requestId: string): Promise<Journey | null> {
    try {
      return (await call<{ journey: Journey }>('GET', `/journeys/${encodeURIComponent(requestId)}`, null))
        .journey;
    } catch (err) {
      if (err instanceof ApiError && (err.status === 404 || err.status === 400)) return null;
      throw err;
    }
  }

  ban(kind: Ban['kind'], value: string, duration: string, reason: string): Promise<unknown> {
    return call('POST', '/bans', this.#csrf, { kind, value, duration, reason });
  }

  lift(id: string): Promise<unknown> {
    return call('DELETE', `/bans/${encodeURIComponent(id)}`, this.#csrf);
  }

  revoke(id: string): Promise<unknown> {
    return call('POST', `/keys/${encodeURIComponent(id)}/revoke`, this.#csrf, {});
  }

  signOut(): Promise<unknown> {
    return call('DELETE', '/dashboard/session', this.#csrf);
  }
}

export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, title: string) {
    super(title);
    this.status = status;
  }
}

const CALL_TIMEOUT_MS = 5000;

async function call<T>(method: string, path: string, csrf: string | null, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (csrf !== null) headers['x-csrf-token'] = csrf;
  if (body !== undefined) headers['content-type'] = 'application/json';
  // A call that hangs (a stuck key store) fails after a while instead of freezing the page.
  const init: RequestInit = {
    method,
    headers,
    credentials: 'same-origin',
    cache: 'no-store',
    signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
  };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await fetch(path, init);
  if (response.status === 401) throw new SignedOut('signed out');
  const data = (await response.json()) as T & { title?: string };
  if (!response.ok) throw new ApiError(response.status, data.title ?? `HTTP ${response.status}`);
  return data;
}
