import type { Operation } from '../../contract/index.js';
import type { OperationContract } from '../../contract/validation/index.js';
import { GatehouseError } from '../../errors/gatehouse-error.js';
import type { RequestContext } from '../request-context.js';
import type { Stage } from '../stage.js';

/**
 * The validate stage (DESIGN.md, stage 8): parameters, Content-Type and body against the
 * operation's compiled request contract (400 / 413 / 415 naming the field and the rule). It also
 * hands the operation's response contract to the upstream exchange.
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
      ctx.responseContract = contract.response;
      // A compressed answer cannot be checked: the upstream is asked for identity encoding.
      if (contract.response.filters)
        ctx.upstreamHeaderDrops = withAcceptEncodingDropped(ctx.upstreamHeaderDrops);
    },
  };
}

const ACCEPT_ENCODING_ONLY: ReadonlySet<string> = new Set(['accept-encoding']);
/** The authenticate stage's per-operation sets, each extended once (not per request). */
const extendedDrops = new WeakMap<ReadonlySet<string>, ReadonlySet<string>>();

function withAcceptEncodingDropped(drops: ReadonlySet<string> | null): ReadonlySet<string> {
  if (drops === null) return ACCEPT_ENCODING_ONLY;
  let extended = extendedDrops.get(drops);
  if (extended === undefined) {
    extended = new Set([...drops, 'accept-encoding']);
    extendedDrops.set(drops, extended);
  }
  return extended;
}
