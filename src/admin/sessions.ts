import { hash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The dashboard's sign-in sessions. The cookie holds a random id (256 bits); only its SHA-256 is
 * kept here, so the table never holds a usable credential. `__Host-` pins the cookie to this
 * origin over HTTPS (no Domain, Path=/); HttpOnly keeps it from scripts; SameSite=Strict keeps
 * it off cross-site requests. Each session has a CSRF token the page sends back in a header on
 * every state-changing request.
 */
export const SESSION_COOKIE = '__Host-gatehouse-admin';
export const CSRF_HEADER = 'x-csrf-token';
/** A session ends this long after sign-in, whatever happens in between. */
const SESSION_MS = 8 * 3_600_000;
/** Sessions held at once; signing in past it ends the oldest. */
const MAX_SESSIONS = 100;

export interface AdminSession {
  readonly csrf: string;
  readonly expiresAt: number;
}

export class AdminSessions {
  readonly #byDigest = new Map<string, AdminSession>();
  readonly #clock: () => number;

  constructor(clock: () => number = Date.now) {
    this.#clock = clock;
  }

  /** A new session: the cookie value to set, and the session. */
  create(): { id: string; session: AdminSession } {
    const id = randomBytes(32).toString('base64url');
    const session = { csrf: randomBytes(32).toString('base64url'), expiresAt: this.#clock() + SESSION_MS };
    if (this.#byDigest.size >= MAX_SESSIONS) this.#byDigest.delete(this.#byDigest.keys().next().value!);
    this.#byDigest.set(digest(id), session);
    return { id, session };
  }

  /** The session the request's cookie names, or null (none, unknown, or ended). */
  find(cookieHeader: string | undefined): AdminSession | null {
    const id = cookieValue(cookieHeader, SESSION_COOKIE);
    if (id === null) return null;
    const key = digest(id);
    const session = this.#byDigest.get(key);
    if (session === undefined) return null;
    if (session.expiresAt > this.#clock()) return session;
    this.#byDigest.delete(key);
    return null;
  }

  end(cookieHeader: string | undefined): void {
    const id = cookieValue(cookieHeader, SESSION_COOKIE);
    if (id !== null) this.#byDigest.delete(digest(id));
  }

  /** Set-Cookie for a new session. */
  static cookie(id: string): string {
    return `${SESSION_COOKIE}=${id}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=${SESSION_MS / 1000}`;
  }

  /** Set-Cookie that ends the session in the browser. */
  static clearedCookie(): string {
    return `${SESSION_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0`;
  }
}

/** The request's CSRF header matches the session's token (compared in constant time). */
export function csrfMatches(session: AdminSession, header: string | string[] | undefined): boolean {
  if (typeof header !== 'string') return false;
  return timingSafeEqual(hash('sha256', header, 'buffer'), hash('sha256', session.csrf, 'buffer'));
}

function digest(id: string): string {
  return hash('sha256', id, 'base64url');
}

/** One cookie's value from a Cookie header (RFC 6265 §5.4), or null. */
function cookieValue(header: string | undefined, name: string): string | null {
  if (header === undefined) return null;
  for (const pair of header.split(';')) {
    const at = pair.indexOf('=');
    if (at > 0 && pair.slice(0, at).trim() === name) {
      const value = pair.slice(at + 1).trim();
      return /^[A-Za-z0-9_-]{43}$/.test(value) ? value : null;
    }
  }
  return null;
}
