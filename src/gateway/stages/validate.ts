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
      if (ctx.answerConditions !== null) {
        // The owner is read from the answer: it must be the whole object, in identity encoding,
        // and never a 304 or a range that would tell an existing object from a missing one.
        ctx.upstreamHeaderDrops = extendedDrops(ctx.upstreamHeaderDrops, OWNER_CHECKED, ownerChecked);
      } else if (contract.response.filters || ctx.limits?.loginFailedWhen != null) {
        // A compressed answer cannot be checked: the upstream is asked for identity encoding.
        ctx.upstreamHeaderDrops = extendedDrops(ctx.upstreamHeaderDrops, ACCEPT_ENCODING, readable);
      }
    },
  };
}

const ACCEPT_ENCODING: ReadonlySet<string> = new Set(['accept-encoding']);
const OWNER_CHECKED: ReadonlySet<string> = new Set([
  'accept-encoding',
  'if-match',
  'if-none-match',
  'if-modified-since',
  'if-unmodified-since',
  'if-range',
  'range',
]);
/** The authenticate stage's per-operation sets, each extended once (not per request). */
const readable = new WeakMap<ReadonlySet<string>, ReadonlySet<string>>();
const ownerChecked = new WeakMap<ReadonlySet<string>, ReadonlySet<string>>();

function extendedDrops(
  drops: ReadonlySet<string> | null,
  extra: ReadonlySet<string>,
  cache: WeakMap<ReadonlySet<string>, ReadonlySet<string>>,
): ReadonlySet<string> {
  if (drops === null) return extra;
  let extended = cache.get(drops);
  if (extended === undefined) {
    extended = new Set([...drops, ...extra]);
    cache.set(drops, extended);
  }
  return extended;
}
