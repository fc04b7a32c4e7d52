import type { Operation } from '../../contract/index.js';
import type { OperationContract } from '../../contract/validation/index.js';
import { GatehouseError } from '../../errors/gatehouse-error.js';
import type { RequestContext } from '../request-context.js';
import type { Stage } from '../stage.js';

/**
 * The validate stage (DESIGN.md, stage 8): parameters, Content-Type and body against the
 * operation's compiled request contract (400 / 413 / 415 naming the field and the rule). The
 * response is checked by the respond stage (response-checks.ts).
 */
export function createValidateStage(contracts: ReadonlyMap<Operation, OperationContract>): Stage {
  return {
    name: 'validate',
    onRequest: function validateRequest(ctx: RequestContext): void {
      const route = ctx.route!;
      const contract = contracts.get(route.operation);
      if (contract === undefined)
        throw new GatehouseError('GH_INTERNAL', `no compiled contract for ${route.operation.template}`);
      contract.request.check(route, ctx.req, ctx.body);
    },
  };
}
