import { PostgresBankStore } from './postgres-store.js';
import { SqliteBankStore } from './sqlite-store.js';
import type { BankStore } from './store.js';

/** Where the bank keeps its ledger: a SQLite file (default) or PostgreSQL. */
export type BankDatabase =
  | { readonly kind: 'sqlite'; readonly path: string }
  | { readonly kind: 'postgres'; readonly url: string; readonly schema?: string; readonly poolSize?: number };

/** Opens the store and brings its schema up to date (migrations are idempotent). */
export async function openBankStore(database: BankDatabase): Promise<BankStore> {
  if (database.kind === 'sqlite') return new SqliteBankStore(database.path);
  const options: { url: string; schema?: string; poolSize?: number } = { url: database.url };
  if (database.schema !== undefined) options.schema = database.schema;
  if (database.poolSize !== undefined) options.poolSize = database.poolSize;
  return PostgresBankStore.open(options);
}
