import { BankProblem } from '../problems.js';
import { accountView, decodeCursor, encodeCursor, entryView } from '../representations.js';
import { accountIdParam, callerOf, ownerFilter, type BankContext, type BankHandler } from './context.js';

/** GET /.well-known/jwks.json */
export function createJwksHandler(ctx: BankContext): BankHandler {
  return async function getJwks(_request, reply) {
    // Short, so a rotation reaches caches quickly (RFC 9111 §5.2.2.1).
    reply.header('cache-control', 'public, max-age=60');
    return ctx.tokens.jwks(ctx.now());
  };
}

/** GET /me */
export function createMeHandler(): BankHandler {
  return async function getMe(request) {
    const { user, scopes } = callerOf(request);
    return { id: user.id, username: user.username, role: user.role, scopes: [...scopes].sort() };
  };
}

/** GET /accounts: the caller's own, or every account for an auditor. */
export function createListAccountsHandler(ctx: BankContext): BankHandler {
  return async function listAccounts(request) {
    const accounts = await ctx.store.listAccounts(ownerFilter(callerOf(request)));
    return { items: accounts.map(accountView) };
  };
}

/** GET /accounts/{id}: one query with the owner in its WHERE clause, so "not yours" is "not found". */
export function createGetAccountHandler(ctx: BankContext): BankHandler {
  return async function getAccount(request) {
    const account = await ctx.store.findAccount(accountIdParam(request), ownerFilter(callerOf(request)));
    if (account === undefined) throw new BankProblem('not-found', 'no such account for this caller');
    return accountView(account);
  };
}

/** GET /accounts/{id}/transactions: newest first, `limit` per page, an opaque cursor for the next. */
export function createListTransactionsHandler(ctx: BankContext): BankHandler {
  return async function listTransactions(request) {
    const accountId = accountIdParam(request);
    const account = await ctx.store.findAccount(accountId, ownerFilter(callerOf(request)));
    if (account === undefined) throw new BankProblem('not-found', 'no such account for this caller');
    const query = request.query as { limit: number; cursor?: string };
    const beforeSeq = query.cursor === undefined ? null : decodeCursor(query.cursor);
    if (beforeSeq === null && query.cursor !== undefined)
      throw new BankProblem('invalid-request', 'bad cursor');
    const entries = await ctx.store.listEntries({ accountId, limit: query.limit + 1, beforeSeq });
    const page = entries.slice(0, query.limit);
    const last = page.at(-1);
    return {
      items: page.map(entryView),
      nextCursor: entries.length > query.limit && last !== undefined ? encodeCursor(last.seq) : null,
    };
  };
}
