// Types for service.mjs, so TypeScript tests can start the example service.

export interface NotesServiceOptions {
  /** Address to listen on; 127.0.0.1 by default. */
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** HS256 signing secret, at least 32 bytes. */
  secret: string;
  /** better-sqlite3 file; ':memory:' by default. */
  dbPath?: string;
  /** Passwords for the seeded users; random (crypto.randomBytes) when left out. */
  seedPasswords?: { alice?: string; bob?: string };
}

export interface NotesHit {
  method: string;
  /** The request target as received, without its query string (not decoded). */
  path: string;
}

export interface NotesService {
  /** e.g. http://127.0.0.1:40123 */
  url: string;
  port: number;
  /** Every request the service received, in order. */
  hits: NotesHit[];
  /** The seeded users' passwords, generated at start unless given. */
  users: { alice: string; bob: string };
  close(): Promise<void>;
}

export function startNotesService(options: NotesServiceOptions): Promise<NotesService>;
