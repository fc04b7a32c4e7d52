import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

/**
 * One SQLite interface over the two drivers Gatehouse runs on: Node's own `node:sqlite` where the
 * runtime has it (Node 22.13 and later, no native build), better-sqlite3 where it does not (Node
 * 20, installed as an optional dependency). Both are synchronous; this module gives them the same
 * statements, the same transactions (BEGIN IMMEDIATE, savepoints when nested) and the same error
 * names, so the key store and the bank do not know which one they run on.
 */

/**
 * Positional values, or one object of named ones (`$name` in the SQL, `name` in the object). A
 * value must be a string, number, bigint, Uint8Array or null; the driver refuses anything else.
 */
export type SqliteParams = readonly unknown[];
export type SqliteRow = Record<string, unknown>;

export interface SqliteStatement {
  run(...params: SqliteParams): { readonly changes: number | bigint };
  get(...params: SqliteParams): SqliteRow | undefined;
  all(...params: SqliteParams): SqliteRow[];
}

/** A statement whose rows come back as arrays of column values, in the order the query names them. */
export interface SqliteArrayStatement {
  all(...params: SqliteParams): unknown[][];
}

export type SqliteDriver = 'node:sqlite' | 'better-sqlite3';

export interface SqliteDatabase {
  readonly driver: SqliteDriver;
  readonly open: boolean;
  exec(sql: string): void;
  prepare(sql: string): SqliteStatement;
  prepareArrays(sql: string): SqliteArrayStatement;
  /** Runs `work` in a write transaction taken up front (BEGIN IMMEDIATE); nested, in a savepoint. */
  immediate<T>(work: () => T): T;
  /** Runs `work` in a transaction that takes the write lock only if it writes (a consistent read). */
  deferred<T>(work: () => T): T;
  close(): void;
}

/** The drivers this runtime can load, preferred first. */
export function availableSqliteDrivers(): SqliteDriver[] {
  const drivers: SqliteDriver[] = [];
  if (nodeSqlite() !== undefined) drivers.push('node:sqlite');
  if (betterSqlite3() !== undefined) drivers.push('better-sqlite3');
  return drivers;
}

export function openSqlite(path: string, driver?: SqliteDriver): SqliteDatabase {
  const db = openWith(path, driver);
  // Another connection holding a lock (a CLI command, a second process opening a fresh file and
  // switching it to WAL) is waited for, with either driver: better-sqlite3 waits 5 s by default,
  // node:sqlite not at all. Set before anything else takes a lock.
  db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
  return db;
}

/** How long a connection waits for another's lock before SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5000;

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/**
 * Runs `work` again while SQLite says another connection holds a lock, starting no new try after
 * the busy timeout (a try that itself waits on busy_timeout can take that long again):
 * for the statements that open a store (journal mode, migrations), which processes opening a fresh
 * file at the same moment race for, and of which switching to WAL can answer SQLITE_BUSY at once,
 * without waiting on busy_timeout. `work` must be safe to repeat: idempotent statements, and
 * transactions, which SQLite rolls back whole when they fail.
 */
export function whileBusy<T>(work: () => T): T {
  const deadline = performance.now() + BUSY_TIMEOUT_MS;
  for (let waitMs = 5; ; waitMs = Math.min(waitMs * 2, 100)) {
    try {
      return work();
    } catch (err) {
      const busy = sqliteErrorName(err)?.startsWith('SQLITE_BUSY') ?? false;
      if (!busy || performance.now() + waitMs > deadline) throw err;
      Atomics.wait(sleepCell, 0, 0, waitMs);
    }
  }
}

function openWith(path: string, driver: SqliteDriver | undefined): SqliteDatabase {
  // Node's own driver where the runtime has it; better-sqlite3's native part is then never loaded.
  const chosen = driver ?? (nodeSqlite() !== undefined ? 'node:sqlite' : 'better-sqlite3');
  if (chosen === 'node:sqlite') {
    const sqlite = nodeSqlite();
    if (sqlite !== undefined)
      return new Database('node:sqlite', new NodeConnection(new sqlite.DatabaseSync(path)));
  } else if (chosen === 'better-sqlite3') {
    const Better = betterSqlite3();
    if (Better !== undefined) return new Database('better-sqlite3', new BetterConnection(new Better(path)));
  }
  throw new Error(
    `SQLite is not available on Node ${process.versions.node}: use Node 22.13 or later (node:sqlite), ` +
      'or install the optional dependency better-sqlite3',
  );
}

/**
 * SQLite's name for what went wrong (`SQLITE_BUSY`, `SQLITE_CONSTRAINT_PRIMARYKEY`, …) for an error
 * of either driver, or undefined if the error is not SQLite's.
 */
export function sqliteErrorName(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { code, errcode } = err as { code?: unknown; errcode?: unknown };
  if (typeof code === 'string' && code.startsWith('SQLITE_')) return code;
  if (code === 'ERR_SQLITE_ERROR' && typeof errcode === 'number') {
    return ERROR_NAMES.get(errcode) ?? ERROR_NAMES.get(errcode & 0xff) ?? `SQLITE_ERROR_${errcode}`;
  }
  return undefined;
}

/** Result codes (https://sqlite.org/rescode.html) the stores and their callers tell apart. */
const ERROR_NAMES = new Map<number, string>([
  [1, 'SQLITE_ERROR'],
  [5, 'SQLITE_BUSY'],
  [6, 'SQLITE_LOCKED'],
  [8, 'SQLITE_READONLY'],
  [10, 'SQLITE_IOERR'],
  [11, 'SQLITE_CORRUPT'],
  [13, 'SQLITE_FULL'],
  [14, 'SQLITE_CANTOPEN'],
  [19, 'SQLITE_CONSTRAINT'],
  [26, 'SQLITE_NOTADB'],
  [261, 'SQLITE_BUSY_RECOVERY'],
  [517, 'SQLITE_BUSY_SNAPSHOT'],
  [787, 'SQLITE_CONSTRAINT_FOREIGNKEY'],
  [1299, 'SQLITE_CONSTRAINT_NOTNULL'],
  [1555, 'SQLITE_CONSTRAINT_PRIMARYKEY'],
  [2067, 'SQLITE_CONSTRAINT_UNIQUE'],
  [275, 'SQLITE_CONSTRAINT_CHECK'],
]);

interface SavepointStatements {
  readonly save: SqliteStatement;
  readonly release: SqliteStatement;
  readonly rollbackTo: SqliteStatement;
}

/** What each driver must give: statements, array rows, and plain SQL. */
interface Connection {
  exec(sql: string): void;
  prepare(sql: string): SqliteStatement;
  prepareArrays(sql: string): SqliteArrayStatement;
  close(): void;
}

class Database implements SqliteDatabase {
  #open = true;
  #depth = 0;
  /** The error with which SQLite ended the current transaction under a savepoint, if it did. */
  #aborted: unknown = null;
  readonly #savepoints: SavepointStatements[] = [];
  readonly #connection: Connection;
  readonly #begin: { immediate: SqliteStatement; deferred: SqliteStatement };
  readonly #commit: SqliteStatement;
  readonly #rollback: SqliteStatement;

  constructor(
    readonly driver: SqliteDriver,
    connection: Connection,
  ) {
    this.#connection = connection;
    this.#begin = { immediate: connection.prepare('BEGIN IMMEDIATE'), deferred: connection.prepare('BEGIN') };
    this.#commit = connection.prepare('COMMIT');
    this.#rollback = connection.prepare('ROLLBACK');
  }

  get open(): boolean {
    return this.#open;
  }

  exec(sql: string): void {
    this.#connection.exec(sql);
  }

  prepare(sql: string): SqliteStatement {
    return this.#connection.prepare(sql);
  }

  prepareArrays(sql: string): SqliteArrayStatement {
    return this.#connection.prepareArrays(sql);
  }

  immediate<T>(work: () => T): T {
    return this.#transaction('immediate', work);
  }

  deferred<T>(work: () => T): T {
    return this.#transaction('deferred', work);
  }

  close(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#connection.close();
  }

  #transaction<T>(mode: 'immediate' | 'deferred', work: () => T): T {
    if (this.#depth > 0) return this.#savepoint(work);
    this.#begin[mode].run();
    this.#depth = 1;
    this.#aborted = null;
    try {
      const result = work();
      // SQLite ended the transaction under a savepoint: nothing that ran after it may be committed.
      if (this.#aborted !== null) throw this.#aborted;
      this.#commit.run();
      return result;
    } catch (err) {
      // A failed COMMIT may already have ended the transaction (SQLite rolls back on some errors).
      try {
        this.#rollback.run();
      } catch {
        // nothing was left to roll back
      }
      throw err;
    } finally {
      this.#depth = 0;
      this.#aborted = null;
    }
  }

  /**
   * A nested transaction. On an error its work is undone alone (ROLLBACK TO), unless SQLite has
   * already rolled the whole transaction back (SQLITE_FULL, IOERR, NOMEM): then a further SAVEPOINT
   * would silently start a new transaction of its own, so every later nested call fails with the
   * same error and the outer level rolls back and reports it.
   */
  #savepoint<T>(work: () => T): T {
    if (this.#aborted !== null) throw this.#aborted;
    const statements = this.#savepointStatements(this.#depth);
    statements.save.run();
    this.#depth += 1;
    try {
      const result = work();
      statements.release.run();
      return result;
    } catch (err) {
      try {
        statements.rollbackTo.run();
        statements.release.run();
      } catch {
        this.#aborted = err;
      }
      throw err;
    } finally {
      this.#depth -= 1;
    }
  }

  /** SAVEPOINT, RELEASE and ROLLBACK TO for one depth, prepared once (a bank transfer runs in one). */
  #savepointStatements(depth: number): SavepointStatements {
    let statements = this.#savepoints[depth];
    if (statements === undefined) {
      const name = `gatehouse_${depth}`;
      statements = {
        save: this.#connection.prepare(`SAVEPOINT ${name}`),
        release: this.#connection.prepare(`RELEASE ${name}`),
        rollbackTo: this.#connection.prepare(`ROLLBACK TO ${name}`),
      };
      this.#savepoints[depth] = statements;
    }
    return statements;
  }
}

// ---------------------------------------------------------------------------------------------
// node:sqlite (the parts used here; @types/node 20 does not describe the module)

interface NodeStatement {
  run(...params: unknown[]): { changes: number | bigint };
  get(...params: unknown[]): SqliteRow | undefined;
  all(...params: unknown[]): SqliteRow[];
  setReturnArrays?(enabled: boolean): void;
}

interface NodeDatabaseSync {
  exec(sql: string): void;
  prepare(sql: string): NodeStatement;
  close(): void;
}

interface NodeSqliteModule {
  DatabaseSync: new (path: string) => NodeDatabaseSync;
}

class NodeConnection implements Connection {
  constructor(readonly db: NodeDatabaseSync) {}

  exec(sql: string): void {
    this.db.exec(sql);
  }

  prepare(sql: string): SqliteStatement {
    return this.db.prepare(sql) as SqliteStatement;
  }

  prepareArrays(sql: string): SqliteArrayStatement {
    const statement = this.db.prepare(sql);
    if (statement.setReturnArrays !== undefined) {
      statement.setReturnArrays(true);
      return statement as unknown as SqliteArrayStatement;
    }
    // Node 22.13–22.15: rows as objects, whose keys keep the order of the selected columns.
    return { all: (...params) => statement.all(...params).map((row) => Object.values(row)) };
  }

  close(): void {
    this.db.close();
  }
}

let nodeSqliteModule: NodeSqliteModule | null | undefined;

function nodeSqlite(): NodeSqliteModule | undefined {
  if (nodeSqliteModule === undefined) nodeSqliteModule = loadNodeSqlite() ?? null;
  return nodeSqliteModule ?? undefined;
}

function loadNodeSqlite(): NodeSqliteModule | undefined {
  const getBuiltin = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  if (getBuiltin === undefined) return undefined;
  // Node 22 announces the module as experimental on its first load; that line would land in the
  // gateway's log stream, so it is held back for the one load and every other warning passes.
  const emitWarning = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const text = typeof warning === 'string' ? warning : warning.message;
    if (/SQLite is an experimental feature/.test(text)) return;
    (emitWarning as (...args: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
  try {
    const loaded = getBuiltin.call(process, 'node:sqlite') as Partial<NodeSqliteModule> | undefined;
    return typeof loaded?.DatabaseSync === 'function' ? (loaded as NodeSqliteModule) : undefined;
  } catch {
    return undefined;
  } finally {
    process.emitWarning = emitWarning;
  }
}

// ---------------------------------------------------------------------------------------------
// better-sqlite3 (an optional dependency: present where it could be installed)

class BetterConnection implements Connection {
  constructor(readonly db: BetterSqlite3.Database) {}

  exec(sql: string): void {
    this.db.exec(sql);
  }

  prepare(sql: string): SqliteStatement {
    return this.db.prepare(sql) as unknown as SqliteStatement;
  }

  prepareArrays(sql: string): SqliteArrayStatement {
    return this.db.prepare(sql).raw() as unknown as SqliteArrayStatement;
  }

  close(): void {
    this.db.close();
  }
}

type BetterSqlite3Constructor = new (path: string) => BetterSqlite3.Database;

let betterSqlite3Module: BetterSqlite3Constructor | null | undefined;

function betterSqlite3(): BetterSqlite3Constructor | undefined {
  if (betterSqlite3Module === undefined) {
    try {
      const Better = createRequire(import.meta.url)('better-sqlite3') as BetterSqlite3Constructor;
      // The native part loads on the first open: one in memory proves it was built for this Node.
      new Better(':memory:').close();
      betterSqlite3Module = Better;
    } catch {
      betterSqlite3Module = null;
    }
  }
  return betterSqlite3Module ?? undefined;
}
