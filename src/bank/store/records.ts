/**
 * What the bank keeps, as both stores hand it out. Money is an integer number of minor units
 * (safe: the per-transfer maximum and the seeded balances stay far below 2^53); times are
 * milliseconds since the epoch.
 */

export type Role = 'customer' | 'auditor';

export interface UserRecord {
  readonly id: string;
  readonly username: string;
  readonly passwordHash: string;
  readonly role: Role;
}

export interface AccountRecord {
  readonly id: string;
  readonly ownerId: string;
  readonly name: string;
  readonly currency: string;
  readonly balance: number;
  readonly dailyOutgoingLimit: number;
  readonly createdAt: number;
}

/** One side of a movement: `debit` took money out of the account, `credit` put it in. */
export interface LedgerEntryRecord {
  readonly seq: number;
  readonly id: string;
  readonly accountId: string;
  readonly transferId: string | null;
  readonly kind: 'opening' | 'debit' | 'credit';
  /** Positive; the sign is in `kind` (the stored column is signed). */
  readonly amount: number;
  readonly currency: string;
  readonly counterpartyAccountId: string | null;
  readonly memo: string | null;
  readonly balanceAfter: number;
  readonly createdAt: number;
}

export interface TransferRecord {
  readonly id: string;
  readonly fromAccountId: string;
  readonly toAccountId: string;
  readonly amount: number;
  readonly currency: string;
  readonly memo: string | null;
  readonly createdAt: number;
}

export interface SigningKeyRecord {
  readonly kid: string;
  /** JSON of the private JWK (ES256). */
  readonly privateJwk: string;
  readonly publicJwk: string;
  readonly createdAt: number;
  /** When a newer key replaced it for signing; it stays published until its tokens have expired. */
  readonly retiredAt: number | null;
}

export interface LoginThrottleRecord {
  readonly failures: number;
  readonly blockedUntil: number;
}
