import type {
  AccountRecord,
  LedgerEntryRecord,
  LoginThrottleRecord,
  Role,
  SigningKeyRecord,
  TransferRecord,
  UserRecord,
} from './records.js';

/** A transfer as the service asks for it, every id already made and every field already valid. */
export interface TransferCommand {
  /** The caller: only accounts it owns can be debited. */
  readonly userId: string;
  readonly idempotencyKey: string;
  /** SHA-256 of the request (see money/request-fingerprint.ts): a replay must match it. */
  readonly fingerprint: string;
  readonly fromAccountId: string;
  readonly toAccountId: string;
  readonly amount: number;
  readonly currency: string;
  readonly memo: string | null;
  readonly now: number;
  /** Ids for the new transfer and its two ledger entries (unused on a replay). */
  readonly transferId: string;
  readonly debitEntryId: string;
  readonly creditEntryId: string;
}

/** Why a transfer moved nothing. `not-found` covers "not yours" and "does not exist" alike. */
export type TransferRefusal =
  | 'not-found'
  | 'invalid-destination'
  | 'currency-mismatch'
  | 'insufficient-funds'
  | 'daily-limit-exceeded'
  | 'idempotency-key-reused';

/** The record of a transfer just written from `command` (what the store wrote, without reading it back). */
export function madeTransfer(command: TransferCommand): TransferRecord {
  return {
    id: command.transferId,
    fromAccountId: command.fromAccountId,
    toAccountId: command.toAccountId,
    amount: command.amount,
    currency: command.currency,
    memo: command.memo,
    createdAt: command.now,
  };
}

export type TransferOutcome =
  | { readonly kind: 'made'; readonly transfer: TransferRecord }
  | { readonly kind: 'replayed'; readonly transfer: TransferRecord }
  | { readonly kind: 'refused'; readonly reason: TransferRefusal };

/** What a consistency check of the whole ledger found (all zero / empty when it is sound). */
export interface LedgerReport {
  readonly accounts: number;
  readonly transfers: number;
  readonly totalBalance: number;
  /** Money that entered through opening entries: the total must always equal it. */
  readonly openingTotal: number;
  /** Accounts whose balance is not the sum of their entries. */
  readonly accountsOutOfBalance: readonly string[];
  /** Transfers without exactly one debit and one credit of the same amount. */
  readonly unbalancedTransfers: readonly string[];
  readonly negativeBalances: readonly string[];
}

export function isLedgerSound(report: LedgerReport): boolean {
  return (
    report.totalBalance === report.openingTotal &&
    report.accountsOutOfBalance.length === 0 &&
    report.unbalancedTransfers.length === 0 &&
    report.negativeBalances.length === 0
  );
}

export interface NewUser {
  readonly id: string;
  readonly username: string;
  readonly passwordHash: string;
  readonly role: Role;
  readonly now: number;
}

export interface NewAccount {
  readonly id: string;
  readonly ownerId: string;
  readonly name: string;
  readonly currency: string;
  /** Put in by an `opening` ledger entry, so the ledger explains every unit of every balance. */
  readonly openingBalance: number;
  readonly dailyOutgoingLimit: number;
  readonly openingEntryId: string;
  readonly now: number;
}

export interface LoginFailure {
  readonly usernameKey: string;
  readonly now: number;
  readonly forgetBefore: number;
  readonly blockUntil: (failures: number) => number;
}

export interface EntryPage {
  readonly accountId: string;
  readonly limit: number;
  /** Entries with a smaller sequence number than this (newest first); null = from the newest. */
  readonly beforeSeq: number | null;
}

/**
 * The bank's storage. Every method is one database transaction; `transfer` is the only one that
 * moves money, and it does so atomically or not at all. Both implementations pass one test suite.
 */
export interface BankStore {
  readonly kind: 'sqlite' | 'postgres';
  findUserByUsername(username: string): Promise<UserRecord | undefined>;
  findUserById(id: string): Promise<UserRecord | undefined>;
  createUser(user: NewUser): Promise<void>;
  updatePasswordHash(userId: string, passwordHash: string): Promise<void>;
  createAccount(account: NewAccount): Promise<void>;
  /** The owner's accounts, or every account when `ownerId` is null (auditor). */
  listAccounts(ownerId: string | null): Promise<AccountRecord[]>;
  /** The account if it exists and (unless `ownerId` is null) belongs to `ownerId`. */
  findAccount(id: string, ownerId: string | null): Promise<AccountRecord | undefined>;
  listEntries(page: EntryPage): Promise<LedgerEntryRecord[]>;
  transfer(command: TransferCommand): Promise<TransferOutcome>;
  loginThrottle(usernameKey: string): Promise<LoginThrottleRecord | undefined>;
  /**
   * Counts one failed login (starting again from one when the last failure is older than
   * `forgetBefore`) and stores the block `blockUntil(failures)` returns, in one transaction.
   */
  recordLoginFailure(failure: LoginFailure): Promise<LoginThrottleRecord>;
  clearLoginFailures(usernameKey: string): Promise<void>;
  signingKeys(): Promise<SigningKeyRecord[]>;
  /** Adds `key` and retires every older active key at `key.createdAt`, in one transaction. */
  addSigningKey(key: SigningKeyRecord): Promise<void>;
  checkLedger(): Promise<LedgerReport>;
  close(): Promise<void>;
}
