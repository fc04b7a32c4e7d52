import { randomBytes } from 'node:crypto';
import argon2 from 'argon2';

/** argon2id cost. The default is OWASP's first recommendation (Password Storage Cheat Sheet). */
export interface PasswordHashing {
  /** KiB. */
  readonly memoryCost: number;
  readonly timeCost: number;
  readonly parallelism: number;
}

export const DEFAULT_PASSWORD_HASHING: PasswordHashing = { memoryCost: 19_456, timeCost: 2, parallelism: 1 };

export function hashPassword(password: string, cost: PasswordHashing): Promise<string> {
  return argon2.hash(password, { type: argon2.argon2id, ...cost });
}

/**
 * Checks a password against a user's hash, or, for a username nobody has, against a hash of a
 * random password made with the same cost: both answers take one argon2id verification, so the
 * time a login takes does not tell whether the username exists.
 */
export class PasswordChecker {
  readonly #cost: PasswordHashing;
  readonly #decoy: string;

  private constructor(cost: PasswordHashing, decoy: string) {
    this.#cost = cost;
    this.#decoy = decoy;
  }

  static async create(cost: PasswordHashing): Promise<PasswordChecker> {
    return new PasswordChecker(cost, await hashPassword(randomBytes(32).toString('base64url'), cost));
  }

  /** True only for a known user with the right password; the work is the same either way. */
  async matches(storedHash: string | undefined, password: string): Promise<boolean> {
    const ok = await argon2.verify(storedHash ?? this.#decoy, password).catch(() => false);
    return storedHash !== undefined && ok;
  }

  /** A hash made with weaker (older) parameters is replaced after a successful login. */
  needsRehash(storedHash: string): boolean {
    return argon2.needsRehash(storedHash, this.#cost);
  }
}
