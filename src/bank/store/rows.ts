import type {
  AccountRecord,
  LedgerEntryRecord,
  LoginThrottleRecord,
  Role,
  SigningKeyRecord,
  TransferRecord,
  UserRecord,
} from './records.js';

/**
 * Row → record mapping shared by both stores (each query is a whole literal naming the columns
 * these read). PostgreSQL hands BIGINT back as text, SQLite as a number; `toInteger` accepts both
 * and refuses anything that would lose precision.
 */
export type Row = Readonly<Record<string, unknown>>;

export function toInteger(value: unknown): number {
  const n = typeof value === 'bigint' ? Number(value) : typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n))
    throw new TypeError('bank store: not a safe integer');
  return n;
}

function text(value: unknown): string {
  if (typeof value !== 'string') throw new TypeError('bank store: expected text');
  return value;
}

function textOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : text(value);
}

export function toUser(row: Row): UserRecord {
  return {
    id: text(row['id']),
    username: text(row['username']),
    passwordHash: text(row['password_hash']),
    role: text(row['role']) as Role,
  };
}

export function toAccount(row: Row): AccountRecord {
  return {
    id: text(row['id']),
    ownerId: text(row['owner_id']),
    name: text(row['name']),
    currency: text(row['currency']),
    balance: toInteger(row['balance']),
    dailyOutgoingLimit: toInteger(row['daily_outgoing_limit']),
    createdAt: toInteger(row['created_at']),
  };
}

export function toTransfer(row: Row): TransferRecord {
  return {
    id: text(row['id']),
    fromAccountId: text(row['from_account_id']),
    toAccountId: text(row['to_account_id']),
    amount: toInteger(row['amount']),
    currency: text(row['currency']),
    memo: textOrNull(row['memo']),
    createdAt: toInteger(row['created_at']),
  };
}

export function toEntry(row: Row): LedgerEntryRecord {
  return {
    seq: toInteger(row['seq']),
    id: text(row['id']),
    accountId: text(row['account_id']),
    transferId: textOrNull(row['transfer_id']),
    kind: text(row['kind']) as LedgerEntryRecord['kind'],
    amount: Math.abs(toInteger(row['amount'])),
    currency: text(row['currency']),
    counterpartyAccountId: textOrNull(row['counterparty_account_id']),
    memo: textOrNull(row['memo']),
    balanceAfter: toInteger(row['balance_after']),
    createdAt: toInteger(row['created_at']),
  };
}

export function toSigningKey(row: Row): SigningKeyRecord {
  const retired = row['retired_at'];
  return {
    kid: text(row['kid']),
    privateJwk: text(row['private_jwk']),
    publicJwk: text(row['public_jwk']),
    createdAt: toInteger(row['created_at']),
    retiredAt: retired === null || retired === undefined ? null : toInteger(retired),
  };
}

export function toThrottle(row: Row): LoginThrottleRecord {
  return { failures: toInteger(row['failures']), blockedUntil: toInteger(row['blocked_until']) };
}

/** The UTC calendar day a daily limit counts in. */
export function utcDay(now: number): string {
  return new Date(now).toISOString().slice(0, 10);
}
