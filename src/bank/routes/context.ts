import type { FastifyReply, FastifyRequest } from 'fastify';
import type { LoginBackoff } from '../auth/login-backoff.js';
import type { PasswordChecker } from '../auth/passwords.js';
import type { TokenIssuer } from '../auth/token-issuer.js';
import type { Caller } from '../gate.js';
import type { MoneyRules } from '../money/rules.js';
import { BankProblem } from '../problems.js';
import type { BankStore } from '../store/store.js';

/** What the handlers share, built once at start-up. */
export interface BankContext {
  readonly store: BankStore;
  readonly tokens: TokenIssuer;
  readonly passwords: PasswordChecker;
  readonly backoff: LoginBackoff;
  readonly money: MoneyRules;
  readonly now: () => number;
}

export type BankHandler = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/** The caller the gate established; an operation with `security` never runs without one. */
export function callerOf(request: FastifyRequest): Caller {
  if (request.caller === null) throw new BankProblem('unauthenticated', 'handler reached without a caller');
  return request.caller;
}

/** The owner filter object-level checks use: an auditor reads every account, a customer its own. */
export function ownerFilter(caller: Caller): string | null {
  return caller.user.role === 'auditor' ? null : caller.user.id;
}

/** Ids are compared in the lower-case form the bank stores (the document accepts either case). */
export function accountIdParam(request: FastifyRequest): string {
  return (request.params as { id: string }).id.toLowerCase();
}
