import type { AccountRecord, LedgerEntryRecord, TransferRecord } from './store/records.js';

/** What the bank responds with; the document's response schemas drop anything else on the way out. */

export function accountView(account: AccountRecord): Record<string, unknown> {
  return {
    id: account.id,
    name: account.name,
    currency: account.currency,
    balance: account.balance,
    dailyOutgoingLimit: account.dailyOutgoingLimit,
    createdAt: new Date(account.createdAt).toISOString(),
  };
}

export function entryView(entry: LedgerEntryRecord): Record<string, unknown> {
  return {
    id: entry.id,
    kind: entry.kind,
    amount: entry.amount,
    currency: entry.currency,
    balanceAfter: entry.balanceAfter,
    createdAt: new Date(entry.createdAt).toISOString(),
    transferId: entry.transferId,
    counterpartyAccountId: entry.counterpartyAccountId,
    memo: entry.memo,
  };
}

/** Only ids and the amount: never the destination's owner or balance. */
export function transferView(transfer: TransferRecord): Record<string, unknown> {
  return {
    id: transfer.id,
    fromAccountId: transfer.fromAccountId,
    toAccountId: transfer.toAccountId,
    amount: transfer.amount,
    currency: transfer.currency,
    memo: transfer.memo,
    status: 'completed',
    createdAt: new Date(transfer.createdAt).toISOString(),
  };
}

/** Cursors are opaque to clients: the sequence number of the last entry shown, in base64url. */
export function encodeCursor(seq: number): string {
  return Buffer.from(String(seq)).toString('base64url');
}

export function decodeCursor(cursor: string): number | null {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^[1-9][0-9]{0,15}$/.test(text)) return null;
  const seq = Number(text);
  return Number.isSafeInteger(seq) ? seq : null;
}
