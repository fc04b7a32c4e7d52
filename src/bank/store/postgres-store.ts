import pg from 'pg';
import { checkLedgerRows } from './ledger-check.js';
import { APPLIED_VERSIONS, MIGRATIONS_TABLE, postgresMigrations } from './migrations.js';
import type {
  AccountRecord,
  LedgerEntryRecord,
  LoginThrottleRecord,
  SigningKeyRecord,
  UserRecord,
} from './records.js';
import {
  toAccount,
  toEntry,
  toSigningKey,
  toThrottle,
  toTransfer,
  toUser,
  utcDay,
  type Row,
} from './rows.js';
import {
  type BankStore,
  type EntryPage,
  type LedgerReport,
  type LoginFailure,
  type NewAccount,
  type NewUser,
  type TransferCommand,
  type TransferOutcome,
  type TransferRefusal,
} from './store.js';

/** A schema name: checked here because an identifier is the one thing a query cannot bind. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
/** deadlock_detected, serialization_failure: the transaction did nothing and may simply run again. */
const RETRYABLE = new Set(['40P01', '40001']);
const MAX_ATTEMPTS = 3;

type Query = (text: string, values?: readonly unknown[]) => Promise<pg.QueryResult<Row>>;

export interface PostgresStoreOptions {
  readonly url: string;
  /** Every table lives in this schema (created if missing); default `bank`. */
  readonly schema?: string;
  readonly poolSize?: number;
}

/**
 * The store when DATABASE_URL is set. A transfer is one call of the bank_transfer function
 * (migrations.ts), one READ COMMITTED transaction that first claims its Idempotency-Key (a
 * concurrent replay waits on that row, then sees the committed transfer), then locks both account
 * rows in id order (SELECT … ORDER BY id FOR UPDATE), so two transfers between the same accounts
 * in opposite directions queue instead of deadlocking.
 */
export class PostgresBankStore implements BankStore {
  readonly kind = 'postgres';
  readonly #pool: pg.Pool;

  private constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  static async open(options: PostgresStoreOptions): Promise<PostgresBankStore> {
    const schema = options.schema ?? 'bank';
    if (!SCHEMA_NAME.test(schema)) throw new TypeError(`invalid PostgreSQL schema name "${schema}"`);
    const pool = new pg.Pool({
      connectionString: options.url,
      // A connection parameter, not SQL: every query of this pool resolves tables in `schema`.
      options: `-c search_path=${schema}`,
      max: options.poolSize ?? 10,
    });
    // An idle connection dropped by the server must not crash the process; the next query reconnects.
    pool.on('error', () => undefined);
    const store = new PostgresBankStore(pool);
    try {
      await store.#migrate(schema);
    } catch (err) {
      await pool.end();
      throw err;
    }
    return store;
  }

  async findUserByUsername(username: string): Promise<UserRecord | undefined> {
    const { rows } = await this.#query(
      'SELECT id, username, password_hash, role FROM bank_users WHERE username = $1',
      [username],
    );
    return rows[0] === undefined ? undefined : toUser(rows[0]);
  }

  async findUserById(id: string): Promise<UserRecord | undefined> {
    const { rows } = await this.#query(
      'SELECT id, username, password_hash, role FROM bank_users WHERE id = $1',
      [id],
    );
    return rows[0] === undefined ? undefined : toUser(rows[0]);
  }

  async createUser(user: NewUser): Promise<void> {
    await this.#query(
      'INSERT INTO bank_users (id, username, password_hash, role, created_at) VALUES ($1, $2, $3, $4, $5)',
      [user.id, user.username, user.passwordHash, user.role, user.now],
    );
  }

  async updatePasswordHash(userId: string, passwordHash: string): Promise<void> {
    await this.#query('UPDATE bank_users SET password_hash = $1 WHERE id = $2', [passwordHash, userId]);
  }

  async createAccount(a: NewAccount): Promise<void> {
    await this.#transaction(async (q) => {
      await q(
        `INSERT INTO bank_accounts (id, owner_id, name, currency, balance, daily_outgoing_limit, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [a.id, a.ownerId, a.name, a.currency, a.openingBalance, a.dailyOutgoingLimit, a.now],
      );
      if (a.openingBalance > 0) {
        await q(
          `INSERT INTO bank_ledger_entries (id, account_id, kind, amount, currency, balance_after, created_at)
           VALUES ($1, $2, 'opening', $3, $4, $3, $5)`,
          [a.openingEntryId, a.id, a.openingBalance, a.currency, a.now],
        );
      }
      return true;
    });
  }

  async listAccounts(ownerId: string | null): Promise<AccountRecord[]> {
    const { rows } =
      ownerId === null
        ? await this.#query(
            `SELECT id, owner_id, name, currency, balance, daily_outgoing_limit, created_at
             FROM bank_accounts ORDER BY created_at, id`,
          )
        : await this.#query(
            `SELECT id, owner_id, name, currency, balance, daily_outgoing_limit, created_at
             FROM bank_accounts WHERE owner_id = $1 ORDER BY created_at, id`,
            [ownerId],
          );
    return rows.map(toAccount);
  }

  async findAccount(id: string, ownerId: string | null): Promise<AccountRecord | undefined> {
    // One query for both roles: an auditor's null matches every owner.
    const { rows } = await this.#query(
      `SELECT id, owner_id, name, currency, balance, daily_outgoing_limit, created_at
       FROM bank_accounts WHERE id = $1 AND ($2::uuid IS NULL OR owner_id = $2::uuid)`,
      [id, ownerId],
    );
    return rows[0] === undefined ? undefined : toAccount(rows[0]);
  }

  async listEntries(page: EntryPage): Promise<LedgerEntryRecord[]> {
    const { rows } = await this.#query(
      `SELECT seq, id, account_id, transfer_id, kind, amount, currency, counterparty_account_id, memo,
              balance_after, created_at
       FROM bank_ledger_entries WHERE account_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3`,
      [page.accountId, page.beforeSeq ?? Number.MAX_SAFE_INTEGER, page.limit],
    );
    return rows.map(toEntry);
  }

  async transfer(command: TransferCommand): Promise<TransferOutcome> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#transferOnce(command);
      } catch (err) {
        if (attempt >= MAX_ATTEMPTS || !RETRYABLE.has(errorCode(err))) throw err;
      }
    }
  }

  async loginThrottle(usernameKey: string): Promise<LoginThrottleRecord | undefined> {
    const { rows } = await this.#query(
      'SELECT failures, blocked_until FROM bank_login_throttle WHERE username_key = $1',
      [usernameKey],
    );
    return rows[0] === undefined ? undefined : toThrottle(rows[0]);
  }

  async recordLoginFailure(f: LoginFailure): Promise<LoginThrottleRecord> {
    let result: LoginThrottleRecord = { failures: 0, blockedUntil: 0 };
    await this.#transaction(async (q) => {
      const { rows } = await q(
        `INSERT INTO bank_login_throttle (username_key, failures, last_failure_at, blocked_until)
         VALUES ($1, 1, $2, 0)
         ON CONFLICT (username_key) DO UPDATE SET
           failures = CASE WHEN bank_login_throttle.last_failure_at < $3 THEN 1
                           ELSE bank_login_throttle.failures + 1 END,
           last_failure_at = $2
         RETURNING failures, blocked_until`,
        [f.usernameKey, f.now, f.forgetBefore],
      );
      const failures = toThrottle(rows[0]!).failures;
      const blockedUntil = f.blockUntil(failures);
      await q('UPDATE bank_login_throttle SET blocked_until = $1 WHERE username_key = $2', [
        blockedUntil,
        f.usernameKey,
      ]);
      result = { failures, blockedUntil };
      return true;
    });
    return result;
  }

  async clearLoginFailures(usernameKey: string): Promise<void> {
    await this.#query('DELETE FROM bank_login_throttle WHERE username_key = $1', [usernameKey]);
  }

  async signingKeys(): Promise<SigningKeyRecord[]> {
    const { rows } = await this.#query(
      'SELECT kid, private_jwk, public_jwk, created_at, retired_at FROM bank_signing_keys ORDER BY created_at DESC',
    );
    return rows.map(toSigningKey);
  }

  async addSigningKey(key: SigningKeyRecord): Promise<void> {
    await this.#transaction(async (q) => {
      await q('UPDATE bank_signing_keys SET retired_at = $1 WHERE retired_at IS NULL', [key.createdAt]);
      await q(
        'INSERT INTO bank_signing_keys (kid, private_jwk, public_jwk, created_at, retired_at) VALUES ($1, $2, $3, $4, NULL)',
        [key.kid, key.privateJwk, key.publicJwk, key.createdAt],
      );
      return true;
    });
  }

  async checkLedger(): Promise<LedgerReport> {
    const client = await this.#pool.connect();
    try {
      // One snapshot for the three reads, so transfers running meanwhile cannot skew the sums.
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const accounts = await client.query<Row>(
        `SELECT a.id, a.balance, COALESCE(SUM(e.amount), 0) AS entries_total
         FROM bank_accounts a LEFT JOIN bank_ledger_entries e ON e.account_id = a.id
         GROUP BY a.id, a.balance`,
      );
      const transfers = await client.query<Row>(
        `SELECT t.id, t.amount, COUNT(e.id) AS entry_count, COALESCE(SUM(e.amount), 0) AS entries_total,
                COALESCE(SUM(CASE WHEN e.amount < 0 THEN -e.amount ELSE 0 END), 0) AS debited
         FROM bank_transfers t LEFT JOIN bank_ledger_entries e ON e.transfer_id = t.id
         GROUP BY t.id, t.amount`,
      );
      const opening = await client.query<Row>(
        "SELECT COALESCE(SUM(amount), 0) AS total FROM bank_ledger_entries WHERE kind = 'opening'",
      );
      await client.query('COMMIT');
      return checkLedgerRows({
        accounts: accounts.rows,
        transfers: transfers.rows,
        openingTotal: opening.rows[0]?.['total'],
      });
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }

  /** One call of bank_transfer (migration 2), in its own transaction: one round trip per transfer. */
  async #transferOnce(c: TransferCommand): Promise<TransferOutcome> {
    const { rows } = await this.#query(
      `SELECT o_outcome, o_id, o_from, o_to, o_amount, o_currency, o_memo, o_created_at
       FROM bank_transfer($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
      [
        c.userId,
        c.idempotencyKey,
        c.fingerprint,
        c.fromAccountId,
        c.toAccountId,
        c.amount,
        c.currency,
        c.memo,
        c.now,
        utcDay(c.now),
        c.transferId,
        c.debitEntryId,
        c.creditEntryId,
      ],
    );
    return outcomeOf(rows[0]);
  }

  /** Runs `body` in one transaction; commits when it returns true, rolls back otherwise. */
  async #transaction(body: (q: Query) => Promise<boolean>): Promise<void> {
    const client = await this.#pool.connect();
    const q: Query = (text, values) => client.query<Row>(text, values as unknown[] | undefined);
    let healthy = true;
    try {
      await client.query('BEGIN');
      const commit = await body(q);
      await client.query(commit ? 'COMMIT' : 'ROLLBACK');
    } catch (err) {
      healthy = await client.query('ROLLBACK').then(
        () => true,
        () => false,
      );
      throw err;
    } finally {
      // A connection whose ROLLBACK failed is in an unknown state: destroy it rather than reuse it.
      client.release(healthy ? undefined : true);
    }
  }

  #query(text: string, values?: readonly unknown[]): Promise<pg.QueryResult<Row>> {
    return this.#pool.query<Row>(text, values as unknown[] | undefined);
  }

  async #migrate(schema: string): Promise<void> {
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
      // Processes starting together migrate one after the other.
      await client.query("SELECT pg_advisory_xact_lock(hashtext('gatehouse-bank-migrations'))");
      await createSchemaIfMissing(client, schema);
      await client.query(MIGRATIONS_TABLE);
      const applied = new Set(
        (await client.query<Row>(APPLIED_VERSIONS)).rows.map((r) => Number(r['version'])),
      );
      for (const [index, steps] of postgresMigrations.entries()) {
        if (applied.has(index + 1)) continue;
        for (const step of steps) await client.query(step);
        await client.query('INSERT INTO bank_schema_migrations (version, applied_at) VALUES ($1, $2)', [
          index + 1,
          Date.now(),
        ]);
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }
}

const REFUSALS: ReadonlySet<string> = new Set<TransferRefusal>([
  'not-found',
  'invalid-destination',
  'currency-mismatch',
  'insufficient-funds',
  'daily-limit-exceeded',
  'idempotency-key-reused',
]);

function outcomeOf(row: Row | undefined): TransferOutcome {
  const outcome = row?.['o_outcome'];
  if (row === undefined || typeof outcome !== 'string')
    throw new Error('bank store: bank_transfer answered nothing');
  if (REFUSALS.has(outcome)) return refused(outcome as TransferRefusal);
  if (outcome !== 'made' && outcome !== 'replayed')
    throw new Error('bank store: bank_transfer answered an unknown outcome');
  const transfer = toTransfer({
    id: row['o_id'],
    from_account_id: row['o_from'],
    to_account_id: row['o_to'],
    amount: row['o_amount'],
    currency: row['o_currency'],
    memo: row['o_memo'],
    created_at: row['o_created_at'],
  });
  return { kind: outcome, transfer };
}

function refused(reason: TransferRefusal): TransferOutcome {
  return { kind: 'refused', reason };
}

/**
 * CREATE SCHEMA takes an identifier, which no placeholder can carry. The name goes in as a bound
 * parameter (a session setting) and the server quotes it with format('%I'): no SQL text is ever
 * built in this process.
 */
async function createSchemaIfMissing(client: pg.PoolClient, schema: string): Promise<void> {
  await client.query("SELECT set_config('gatehouse_bank.schema', $1, true)", [schema]);
  await client.query(
    "DO $$ BEGIN EXECUTE format('CREATE SCHEMA IF NOT EXISTS %I', current_setting('gatehouse_bank.schema')); END $$",
  );
}

/** Drops a schema and everything in it (tests: each run uses its own schema in a shared database). */
export async function dropBankSchema(url: string, schema: string): Promise<void> {
  if (!SCHEMA_NAME.test(schema)) throw new TypeError(`invalid PostgreSQL schema name "${schema}"`);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query("SELECT set_config('gatehouse_bank.schema', $1, true)", [schema]);
    await client.query(
      "DO $$ BEGIN EXECUTE format('DROP SCHEMA IF EXISTS %I CASCADE', current_setting('gatehouse_bank.schema')); END $$",
    );
    await client.query('COMMIT');
  } finally {
    await client.end();
  }
}

function errorCode(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err
    ? String((err as { code: unknown }).code)
    : '';
}
