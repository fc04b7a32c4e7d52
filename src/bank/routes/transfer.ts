import { newId } from '../ids.js';
import { brokenTransferRule, transferFingerprint, type TransferRequest } from '../money/rules.js';
import { BankProblem } from '../problems.js';
import { transferView } from '../representations.js';
import { accountIdParam, callerOf, type BankContext, type BankHandler } from './context.js';

interface TransferBody {
  readonly toAccountId: string;
  readonly amount: number;
  readonly currency: string;
  readonly memo?: string;
}

/**
 * POST /accounts/{id}/transfer. The gate has checked the scope `transfers:write`; here the role
 * (an auditor moves nothing), the money rules, then one store transaction that owns the rest:
 * ownership of the source (404 like any account not the caller's), the destination, currency,
 * funds, daily limit and the Idempotency-Key.
 */
export function createTransferHandler(ctx: BankContext): BankHandler {
  return async function createTransfer(request, reply) {
    const { user } = callerOf(request);
    if (user.role !== 'customer') throw new BankProblem('forbidden', `role ${user.role} cannot transfer`);
    const body = request.body as TransferBody;
    const transfer: TransferRequest = {
      fromAccountId: accountIdParam(request),
      toAccountId: body.toAccountId.toLowerCase(),
      amount: body.amount,
      currency: body.currency,
      memo: body.memo ?? null,
    };
    const broken = brokenTransferRule(ctx.money, transfer);
    if (broken !== null) throw new BankProblem(broken, `transfer rule: ${broken}`);
    const now = ctx.now();
    const outcome = await ctx.store.transfer({
      ...transfer,
      userId: user.id,
      idempotencyKey: (request.headers as Record<string, string>)['idempotency-key']!,
      fingerprint: transferFingerprint(transfer),
      now,
      transferId: newId(now),
      debitEntryId: newId(now),
      creditEntryId: newId(now),
    });
    if (outcome.kind === 'refused')
      throw new BankProblem(outcome.reason, `transfer refused: ${outcome.reason}`);
    if (outcome.kind === 'replayed') reply.header('idempotent-replayed', 'true');
    return reply.code(201).send(transferView(outcome.transfer));
  };
}
