/**
 * The bank's schema, one list of steps per dialect, applied in order and recorded in
 * bank_schema_migrations. Append new steps; never edit one that has shipped.
 *
 * The ledger: every unit of money enters an account through an `opening` entry and moves only by
 * a transfer, which writes one debit (negative) and one credit (positive) of the same amount. So
 * for every account, balance = sum of its entries; for every transfer, its entries sum to zero;
 * and the sum of all balances equals the sum of opening entries. CHECK (balance >= 0) is the last
 * line against an overdraft the code should already have refused.
 */
export const sqliteMigrations: readonly (readonly string[])[] = [
  [
    `CREATE TABLE bank_users (
       id TEXT PRIMARY KEY,
       username TEXT NOT NULL UNIQUE,
       password_hash TEXT NOT NULL,
       role TEXT NOT NULL CHECK (role IN ('customer', 'auditor')),
       created_at INTEGER NOT NULL
     ) STRICT`,
    `CREATE TABLE bank_accounts (
       id TEXT PRIMARY KEY,
       owner_id TEXT NOT NULL REFERENCES bank_users (id),
       name TEXT NOT NULL,
       currency TEXT NOT NULL CHECK (length(currency) = 3),
       balance INTEGER NOT NULL CHECK (balance >= 0),
       daily_outgoing_limit INTEGER NOT NULL CHECK (daily_outgoing_limit > 0),
       created_at INTEGER NOT NULL
     ) STRICT`,
    'CREATE INDEX bank_accounts_owner ON bank_accounts (owner_id, created_at)',
    `CREATE TABLE bank_transfers (
       id TEXT PRIMARY KEY,
       from_account_id TEXT NOT NULL REFERENCES bank_accounts (id),
       to_account_id TEXT NOT NULL REFERENCES bank_accounts (id),
       amount INTEGER NOT NULL CHECK (amount > 0),
       currency TEXT NOT NULL,
       memo TEXT,
       initiated_by TEXT NOT NULL REFERENCES bank_users (id),
       created_at INTEGER NOT NULL,
       CHECK (from_account_id <> to_account_id)
     ) STRICT`,
    `CREATE TABLE bank_ledger_entries (
       seq INTEGER PRIMARY KEY AUTOINCREMENT,
       id TEXT NOT NULL UNIQUE,
       account_id TEXT NOT NULL REFERENCES bank_accounts (id),
       transfer_id TEXT REFERENCES bank_transfers (id),
       kind TEXT NOT NULL CHECK (kind IN ('opening', 'debit', 'credit')),
       amount INTEGER NOT NULL CHECK (amount <> 0),
       currency TEXT NOT NULL,
       counterparty_account_id TEXT,
       memo TEXT,
       balance_after INTEGER NOT NULL CHECK (balance_after >= 0),
       created_at INTEGER NOT NULL
     ) STRICT`,
    'CREATE INDEX bank_ledger_account ON bank_ledger_entries (account_id, seq)',
    'CREATE INDEX bank_ledger_transfer ON bank_ledger_entries (transfer_id)',
    `CREATE TABLE bank_idempotency_keys (
       user_id TEXT NOT NULL,
       key TEXT NOT NULL,
       fingerprint TEXT NOT NULL,
       transfer_id TEXT NOT NULL REFERENCES bank_transfers (id),
       created_at INTEGER NOT NULL,
       PRIMARY KEY (user_id, key)
     ) STRICT`,
    `CREATE TABLE bank_daily_outgoing (
       account_id TEXT NOT NULL REFERENCES bank_accounts (id),
       day TEXT NOT NULL,
       total INTEGER NOT NULL CHECK (total >= 0),
       PRIMARY KEY (account_id, day)
     ) STRICT`,
    `CREATE TABLE bank_login_throttle (
       username_key TEXT PRIMARY KEY,
       failures INTEGER NOT NULL,
       last_failure_at INTEGER NOT NULL,
       blocked_until INTEGER NOT NULL
     ) STRICT`,
    `CREATE TABLE bank_signing_keys (
       kid TEXT PRIMARY KEY,
       private_jwk TEXT NOT NULL,
       public_jwk TEXT NOT NULL,
       created_at INTEGER NOT NULL,
       retired_at INTEGER
     ) STRICT`,
  ],
];

export const postgresMigrations: readonly (readonly string[])[] = [
  [
    `CREATE TABLE bank_users (
       id UUID PRIMARY KEY,
       username TEXT NOT NULL UNIQUE,
       password_hash TEXT NOT NULL,
       role TEXT NOT NULL CHECK (role IN ('customer', 'auditor')),
       created_at BIGINT NOT NULL
     )`,
    `CREATE TABLE bank_accounts (
       id UUID PRIMARY KEY,
       owner_id UUID NOT NULL REFERENCES bank_users (id),
       name TEXT NOT NULL,
       currency TEXT NOT NULL CHECK (length(currency) = 3),
       balance BIGINT NOT NULL CHECK (balance >= 0),
       daily_outgoing_limit BIGINT NOT NULL CHECK (daily_outgoing_limit > 0),
       created_at BIGINT NOT NULL
     )`,
    'CREATE INDEX bank_accounts_owner ON bank_accounts (owner_id, created_at)',
    `CREATE TABLE bank_transfers (
       id UUID PRIMARY KEY,
       from_account_id UUID NOT NULL REFERENCES bank_accounts (id),
       to_account_id UUID NOT NULL REFERENCES bank_accounts (id),
       amount BIGINT NOT NULL CHECK (amount > 0),
       currency TEXT NOT NULL,
       memo TEXT,
       initiated_by UUID NOT NULL REFERENCES bank_users (id),
       created_at BIGINT NOT NULL,
       CHECK (from_account_id <> to_account_id)
     )`,
    `CREATE TABLE bank_ledger_entries (
       seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
       id UUID NOT NULL UNIQUE,
       account_id UUID NOT NULL REFERENCES bank_accounts (id),
       transfer_id UUID REFERENCES bank_transfers (id),
       kind TEXT NOT NULL CHECK (kind IN ('opening', 'debit', 'credit')),
       amount BIGINT NOT NULL CHECK (amount <> 0),
       currency TEXT NOT NULL,
       counterparty_account_id UUID,
       memo TEXT,
       balance_after BIGINT NOT NULL CHECK (balance_after >= 0),
       created_at BIGINT NOT NULL
     )`,
    'CREATE INDEX bank_ledger_account ON bank_ledger_entries (account_id, seq)',
    'CREATE INDEX bank_ledger_transfer ON bank_ledger_entries (transfer_id)',
    `CREATE TABLE bank_idempotency_keys (
       user_id UUID NOT NULL,
       key TEXT NOT NULL,
       fingerprint TEXT NOT NULL,
       transfer_id UUID REFERENCES bank_transfers (id),
       created_at BIGINT NOT NULL,
       PRIMARY KEY (user_id, key)
     )`,
    `CREATE TABLE bank_daily_outgoing (
       account_id UUID NOT NULL REFERENCES bank_accounts (id),
       day TEXT NOT NULL,
       total BIGINT NOT NULL CHECK (total >= 0),
       PRIMARY KEY (account_id, day)
     )`,
    `CREATE TABLE bank_login_throttle (
       username_key TEXT PRIMARY KEY,
       failures INTEGER NOT NULL,
       last_failure_at BIGINT NOT NULL,
       blocked_until BIGINT NOT NULL
     )`,
    `CREATE TABLE bank_signing_keys (
       kid TEXT PRIMARY KEY,
       private_jwk TEXT NOT NULL,
       public_jwk TEXT NOT NULL,
       created_at BIGINT NOT NULL,
       retired_at BIGINT
     )`,
  ],
  [
    // One transfer in one round trip (called in its own transaction): the statements of a transfer
    // cost ten client round trips otherwise. Order: claim the Idempotency-Key (a concurrent replay
    // waits on that row), lock both accounts in id order, check, write. A refusal deletes the
    // key it claimed, so the key can be used again, and has written nothing else.
    `CREATE FUNCTION bank_transfer(
       p_user UUID, p_key TEXT, p_fingerprint TEXT, p_from UUID, p_to UUID, p_amount BIGINT,
       p_currency TEXT, p_memo TEXT, p_now BIGINT, p_day TEXT, p_transfer UUID, p_debit UUID, p_credit UUID)
     RETURNS TABLE (o_outcome TEXT, o_id UUID, o_from UUID, o_to UUID, o_amount BIGINT, o_currency TEXT,
                    o_memo TEXT, o_created_at BIGINT)
     LANGUAGE plpgsql AS $fn$
     DECLARE
       v_claimed INTEGER;
       v_prior bank_idempotency_keys%ROWTYPE;
       v_from bank_accounts%ROWTYPE;
       v_to bank_accounts%ROWTYPE;
       v_spent BIGINT;
       v_refusal TEXT;
       v_from_after BIGINT;
       v_to_after BIGINT;
     BEGIN
       INSERT INTO bank_idempotency_keys (user_id, key, fingerprint, created_at)
       VALUES (p_user, p_key, p_fingerprint, p_now) ON CONFLICT (user_id, key) DO NOTHING;
       GET DIAGNOSTICS v_claimed = ROW_COUNT;
       IF v_claimed = 0 THEN
         SELECT * INTO v_prior FROM bank_idempotency_keys k WHERE k.user_id = p_user AND k.key = p_key;
         IF v_prior.fingerprint <> p_fingerprint THEN
           RETURN QUERY SELECT 'idempotency-key-reused', NULL::UUID, NULL::UUID, NULL::UUID, NULL::BIGINT,
                               NULL::TEXT, NULL::TEXT, NULL::BIGINT;
           RETURN;
         END IF;
         RETURN QUERY SELECT 'replayed', t.id, t.from_account_id, t.to_account_id, t.amount, t.currency, t.memo,
                             t.created_at
                      FROM bank_transfers t WHERE t.id = v_prior.transfer_id;
         RETURN;
       END IF;
       PERFORM 1 FROM bank_accounts a WHERE a.id IN (p_from, p_to) ORDER BY a.id FOR UPDATE;
       SELECT * INTO v_from FROM bank_accounts a WHERE a.id = p_from AND a.owner_id = p_user;
       SELECT * INTO v_to FROM bank_accounts a WHERE a.id = p_to;
       SELECT d.total INTO v_spent FROM bank_daily_outgoing d WHERE d.account_id = p_from AND d.day = p_day;
       v_refusal := CASE
         WHEN v_from.id IS NULL THEN 'not-found'
         WHEN v_to.id IS NULL THEN 'invalid-destination'
         WHEN v_from.currency <> p_currency OR v_to.currency <> p_currency THEN 'currency-mismatch'
         WHEN v_from.balance < p_amount THEN 'insufficient-funds'
         WHEN COALESCE(v_spent, 0) + p_amount > v_from.daily_outgoing_limit THEN 'daily-limit-exceeded'
       END;
       IF v_refusal IS NOT NULL THEN
         DELETE FROM bank_idempotency_keys k WHERE k.user_id = p_user AND k.key = p_key;
         RETURN QUERY SELECT v_refusal, NULL::UUID, NULL::UUID, NULL::UUID, NULL::BIGINT, NULL::TEXT, NULL::TEXT,
                             NULL::BIGINT;
         RETURN;
       END IF;
       INSERT INTO bank_daily_outgoing (account_id, day, total) VALUES (p_from, p_day, p_amount)
       ON CONFLICT (account_id, day) DO UPDATE SET total = bank_daily_outgoing.total + EXCLUDED.total;
       UPDATE bank_accounts SET balance = balance - p_amount WHERE id = p_from RETURNING balance INTO v_from_after;
       UPDATE bank_accounts SET balance = balance + p_amount WHERE id = p_to RETURNING balance INTO v_to_after;
       INSERT INTO bank_transfers (id, from_account_id, to_account_id, amount, currency, memo, initiated_by, created_at)
       VALUES (p_transfer, p_from, p_to, p_amount, p_currency, p_memo, p_user, p_now);
       INSERT INTO bank_ledger_entries
         (id, account_id, transfer_id, kind, amount, currency, counterparty_account_id, memo, balance_after, created_at)
       VALUES (p_debit, p_from, p_transfer, 'debit', -p_amount, p_currency, p_to, p_memo, v_from_after, p_now),
              (p_credit, p_to, p_transfer, 'credit', p_amount, p_currency, p_from, p_memo, v_to_after, p_now);
       UPDATE bank_idempotency_keys k SET transfer_id = p_transfer WHERE k.user_id = p_user AND k.key = p_key;
       RETURN QUERY SELECT 'made', p_transfer, p_from, p_to, p_amount, p_currency, p_memo, p_now;
     END
     $fn$`,
  ],
];

export const MIGRATIONS_TABLE =
  'CREATE TABLE IF NOT EXISTS bank_schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)';
export const APPLIED_VERSIONS = 'SELECT version FROM bank_schema_migrations';
