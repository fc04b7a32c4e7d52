import { randomBytes } from 'node:crypto';
import { newId } from './ids.js';
import { normalizeUsername } from './auth/login-backoff.js';
import { DEFAULT_PASSWORD_HASHING, hashPassword, type PasswordHashing } from './auth/passwords.js';
import { DEFAULT_MONEY_RULES, type MoneyRules } from './money/rules.js';
import type { Role } from './store/records.js';
import type { BankStore } from './store/store.js';

export interface SeedAccount {
  readonly name: string;
  readonly currency: string;
  /** Minor units, entered through an opening ledger entry. */
  readonly openingBalance: number;
  readonly dailyOutgoingLimit?: number;
}

export interface SeedUser {
  readonly username: string;
  readonly role: Role;
  readonly accounts: readonly SeedAccount[];
}

export interface SeededUser {
  readonly id: string;
  readonly username: string;
  /** Fresh and random on every seeding; only its argon2id hash is stored. */
  readonly password: string;
  readonly role: Role;
  readonly accounts: readonly string[];
}

export interface SeedOptions {
  readonly passwordHashing?: PasswordHashing;
  readonly money?: MoneyRules;
  readonly now?: number;
}

/** alice and bob hold money; the auditor reads everything and holds nothing. */
export const DEMO_USERS: readonly SeedUser[] = [
  {
    username: 'alice',
    role: 'customer',
    accounts: [
      { name: 'Everyday', currency: 'EUR', openingBalance: 250_000 },
      { name: 'Savings', currency: 'EUR', openingBalance: 1_000_000 },
    ],
  },
  {
    username: 'bob',
    role: 'customer',
    accounts: [{ name: 'Everyday', currency: 'EUR', openingBalance: 120_000 }],
  },
  { username: 'auditor', role: 'auditor', accounts: [] },
];

/**
 * Creates the users that do not exist yet, with their accounts, and gives every one of them a new
 * random password (so a demo restarted later prints passwords that work, and balances persist).
 */
export async function seedUsers(
  store: BankStore,
  users: readonly SeedUser[],
  options: SeedOptions = {},
): Promise<SeededUser[]> {
  const seeded: SeededUser[] = [];
  for (const user of users) seeded.push(await seedUser(store, user, options));
  return seeded;
}

export function seedDemo(store: BankStore, options: SeedOptions = {}): Promise<SeededUser[]> {
  return seedUsers(store, DEMO_USERS, options);
}

async function seedUser(store: BankStore, user: SeedUser, options: SeedOptions): Promise<SeededUser> {
  const username = normalizeUsername(user.username);
  const password = randomBytes(18).toString('base64url');
  const passwordHash = await hashPassword(password, options.passwordHashing ?? DEFAULT_PASSWORD_HASHING);
  const now = options.now ?? Date.now();
  const existing = await store.findUserByUsername(username);
  if (existing !== undefined) {
    await store.updatePasswordHash(existing.id, passwordHash);
    const accounts = await store.listAccounts(existing.id);
    return { id: existing.id, username, password, role: existing.role, accounts: accounts.map((a) => a.id) };
  }
  const id = newId();
  await store.createUser({ id, username, passwordHash, role: user.role, now });
  const accounts: string[] = [];
  for (const account of user.accounts) accounts.push(await openAccount(store, id, account, options, now));
  return { id, username, password, role: user.role, accounts };
}

export async function openAccount(
  store: BankStore,
  ownerId: string,
  account: SeedAccount,
  options: SeedOptions = {},
  now = Date.now(),
): Promise<string> {
  const id = newId();
  await store.createAccount({
    id,
    ownerId,
    name: account.name,
    currency: account.currency,
    openingBalance: account.openingBalance,
    dailyOutgoingLimit:
      account.dailyOutgoingLimit ?? (options.money ?? DEFAULT_MONEY_RULES).defaultDailyOutgoingLimit,
    openingEntryId: newId(),
    now,
  });
  return id;
}
