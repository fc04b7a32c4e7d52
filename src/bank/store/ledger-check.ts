import { toInteger, type Row } from './rows.js';
import type { LedgerReport } from './store.js';

/** The rows both stores read for a ledger check, in one snapshot. */
export interface LedgerRows {
  /** id, balance, entries_total (sum of the account's signed entries). */
  readonly accounts: readonly Row[];
  /** id, amount, entry_count, entries_total (signed sum), debited (sum of the negative side). */
  readonly transfers: readonly Row[];
  readonly openingTotal: unknown;
}

/** Judges a snapshot of the ledger against the double-entry rules (see migrations.ts). */
export function checkLedgerRows(rows: LedgerRows): LedgerReport {
  let totalBalance = 0;
  const accountsOutOfBalance: string[] = [];
  const negativeBalances: string[] = [];
  for (const row of rows.accounts) {
    const balance = toInteger(row['balance']);
    totalBalance += balance;
    if (balance !== toInteger(row['entries_total'])) accountsOutOfBalance.push(String(row['id']));
    if (balance < 0) negativeBalances.push(String(row['id']));
  }
  const unbalancedTransfers = rows.transfers
    .filter(
      (row) =>
        toInteger(row['entry_count']) !== 2 ||
        toInteger(row['entries_total']) !== 0 ||
        toInteger(row['debited']) !== toInteger(row['amount']),
    )
    .map((row) => String(row['id']));
  return {
    accounts: rows.accounts.length,
    transfers: rows.transfers.length,
    totalBalance,
    openingTotal: toInteger(rows.openingTotal),
    accountsOutOfBalance,
    unbalancedTransfers,
    negativeBalances,
  };
}
