import { createHash } from 'node:crypto';

export interface MoneyRules {
  /** Most one transfer may move, in minor units (the document's `maximum` is the ceiling). */
  readonly maxTransferAmount: number;
  /** Outgoing cap per account per UTC day, for accounts opened without their own. */
  readonly defaultDailyOutgoingLimit: number;
}

export const DEFAULT_MONEY_RULES: MoneyRules = {
  maxTransferAmount: 1_000_000,
  defaultDailyOutgoingLimit: 2_000_000,
};

export interface TransferRequest {
  readonly fromAccountId: string;
  readonly toAccountId: string;
  readonly amount: number;
  readonly currency: string;
  readonly memo: string | null;
}

export type TransferRuleBroken = 'amount-over-limit' | 'same-account';

/**
 * The rules a transfer request must meet before it touches the database. The document already
 * refuses non-integers, zero, negatives and strings; these are checked again here so that the
 * money rules do not depend on the validator's configuration.
 */
export function brokenTransferRule(rules: MoneyRules, request: TransferRequest): TransferRuleBroken | null {
  const { amount } = request;
  if (!Number.isSafeInteger(amount) || amount < 1 || amount > rules.maxTransferAmount)
    return 'amount-over-limit';
  if (request.fromAccountId === request.toAccountId) return 'same-account';
  return null;
}

/**
 * What an Idempotency-Key is bound to: the whole request, so the same key with another amount,
 * destination or source is recognised and refused instead of replaying the wrong transfer.
 */
export function transferFingerprint(request: TransferRequest): string {
  const canonical = JSON.stringify([
    request.fromAccountId,
    request.toAccountId,
    request.amount,
    request.currency,
    request.memo,
  ]);
  return createHash('sha256').update(canonical).digest('base64url');
}
