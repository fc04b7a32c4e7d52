import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  availableSqliteDrivers,
  openSqlite,
  sqliteErrorName,
  type SqliteDatabase,
  whileBusy,
} from './database.js';

const drivers = availableSqliteDrivers();

describe('SQLite drivers', () => {
  it('has at least one driver on this runtime, and Node’s own first where the runtime has it', () => {
    expect(drivers.length).toBeGreaterThan(0);
    const builtin = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule?.(
      'node:sqlite',
    );
    expect(drivers[0]).toBe(builtin === undefined ? 'better-sqlite3' : 'node:sqlite');
  });
});

describe.each(drivers)('SQLite through %s', (driver) => {
  let dir: string;
  let db: SqliteDatabase;

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-sqlite-'));
    db = openSqlite(path.join(dir, 'test.db'), driver);
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER NOT NULL, b BLOB) STRICT');
  });

  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const count = (): unknown => db.prepare('SELECT COUNT(*) AS c FROM t').get()?.['c'];

  it('binds positional and named values and reads rows as objects', () => {
    expect(db.driver).toBe(driver);
    db.prepare('INSERT INTO t (id, n, b) VALUES (?, ?, ?)').run('a', 1, Buffer.from('xy'));
    db.prepare('INSERT INTO t (id, n, b) VALUES ($id, $n, $b)').run({ id: 'b', n: 2, b: null });
    const rows = db.prepare('SELECT id, n, b FROM t ORDER BY id').all();
    expect(
      rows.map((row) => ({ ...row, b: row['b'] === null ? null : [...(row['b'] as Uint8Array)] })),
    ).toEqual([
      { id: 'a', n: 1, b: [0x78, 0x79] },
      { id: 'b', n: 2, b: null },
    ]);
    expect(db.prepare('SELECT n FROM t WHERE id = ?').get('missing')).toBeUndefined();
    expect(db.prepare('DELETE FROM t WHERE n > ?').run(1).changes).toBe(1);
  });

  it('reads rows as arrays in the order the query names the columns', () => {
    db.prepare('INSERT INTO t (id, n) VALUES (?, ?)').run('a', 1);
    expect(db.prepareArrays('SELECT n, id, hex(b) FROM t WHERE n >= $min').all({ min: 0 })).toEqual([
      [1, 'a', ''],
    ]);
  });

  it('commits a transaction, and rolls all of it back when its work throws', () => {
    db.immediate(() => db.prepare('INSERT INTO t (id, n) VALUES (?, ?)').run('a', 1));
    expect(() =>
      db.immediate(() => {
        db.prepare('INSERT INTO t (id, n) VALUES (?, ?)').run('b', 2);
        throw new Error('work failed');
      }),
    ).toThrow('work failed');
    expect(count()).toBe(1);
    expect(db.deferred(() => count())).toBe(1);
  });

  it('undoes only the failed part of a nested transaction', () => {
    const outcomes = db.immediate(() =>
      ['a', 'a', 'b'].map((id) => {
        try {
          db.immediate(() => {
            db.prepare('INSERT INTO t (id, n) VALUES (?, ?)').run(`${id}-note`, 0);
            db.prepare('INSERT INTO t (id, n) VALUES (?, ?)').run(id, 1);
          });
          return 'made';
        } catch (err) {
          return sqliteErrorName(err);
        }
      }),
    );
    expect(outcomes).toEqual(['made', 'SQLITE_CONSTRAINT_PRIMARYKEY', 'made']);
    expect(
      db
        .prepare('SELECT id FROM t ORDER BY id')
        .all()
        .map((row) => row['id']),
    ).toEqual(['a', 'a-note', 'b', 'b-note']);
  });

  it('commits nothing once SQLite has ended the whole transaction under a savepoint', () => {
    const insert = (id: string) => db.prepare('INSERT INTO t (id, n) VALUES (?, ?)').run(id, 1);
    const outcomes: string[] = [];
    // As SQLITE_FULL or IOERR would: SQLite rolls the whole transaction back under the savepoint.
    expect(() =>
      db.immediate(() => {
        for (const id of ['a', 'b', 'c']) {
          try {
            db.immediate(() => {
              insert(id);
              if (id === 'b') {
                db.exec('ROLLBACK');
                throw new Error('ended by SQLite');
              }
            });
            outcomes.push('made');
          } catch (err) {
            outcomes.push((err as Error).message);
          }
        }
      }),
    ).toThrow('ended by SQLite');
    expect(outcomes).toEqual(['made', 'ended by SQLite', 'ended by SQLite']);
    expect(count()).toBe(0); // neither a (rolled back by SQLite) nor c (never run on its own)
    expect(db.immediate(() => insert('d')).changes).toBe(1); // the next transaction is a fresh one
    expect(count()).toBe(1);
  });

  it("waits 5 s for another connection's lock, as better-sqlite3 does by default and node:sqlite does not", () => {
    expect(db.prepare('PRAGMA busy_timeout').get()).toEqual({ timeout: 5000 });
    const other = openSqlite(path.join(dir, 'test.db'), driver);
    try {
      expect(other.prepare('PRAGMA busy_timeout').get()).toEqual({ timeout: 5000 });
    } finally {
      other.close();
    }
  });

  it('names a busy database the same way whichever driver reports it', () => {
    const other = openSqlite(path.join(dir, 'test.db'), driver);
    try {
      other.exec('PRAGMA busy_timeout = 0');
      db.immediate(() => {
        let error: unknown = null;
        try {
          other.immediate(() => undefined);
        } catch (err) {
          error = err;
        }
        expect(sqliteErrorName(error)).toBe('SQLITE_BUSY');
      });
      expect(other.immediate(() => 'free again')).toBe('free again');
    } finally {
      other.close();
    }
  });

  it('closes once, and says so', () => {
    expect(db.open).toBe(true);
    db.close();
    db.close();
    expect(db.open).toBe(false);
    db = openSqlite(path.join(dir, 'test.db'), driver);
  });
});

describe('SQLite error names', () => {
  it('are undefined for errors that are not SQLite’s', () => {
    expect(sqliteErrorName(new Error('plain'))).toBeUndefined();
    expect(sqliteErrorName(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }))).toBeUndefined();
    expect(sqliteErrorName('text')).toBeUndefined();
  });
});

describe('whileBusy, for the statements that open a store', () => {
  const busy = Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });

  it('runs the work again while SQLite says another connection holds the lock', () => {
    // better-sqlite3's error, then node:sqlite's (SQLITE_BUSY_SNAPSHOT, an extended code).
    const nodeBusy = Object.assign(new Error('database is locked'), {
      code: 'ERR_SQLITE_ERROR',
      errcode: 517,
    });
    let calls = 0;
    const result = whileBusy(() => {
      calls += 1;
      if (calls < 3) throw calls === 1 ? busy : nodeBusy;
      return 'opened';
    });
    expect([result, calls]).toEqual(['opened', 3]);
  });

  it('lets any other error through at once', () => {
    let calls = 0;
    const other = Object.assign(new Error('file is not a database'), { code: 'SQLITE_NOTADB' });
    expect(() =>
      whileBusy(() => {
        calls += 1;
        throw other;
      }),
    ).toThrow(other);
    expect(calls).toBe(1);
  });
});
