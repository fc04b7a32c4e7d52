import { GatehouseError } from '../../errors/gatehouse-error.js';
import type { RouteTable } from '../../contract/index.js';
import type { RequestContext } from '../request-context.js';
import type { Stage } from '../stage.js';

/**
 * Headers some frameworks honour to change the method after routing. Gatehouse routes on the
 * real method only, so a request carrying one is refused rather than forwarded to an upstream
 * that might obey it.
 */
const METHOD_OVERRIDE_HEADERS = ['x-http-method-override', 'x-http-method', 'x-method-override'] as const;

export function createRouteStage(routes: RouteTable): Stage {
  return {
    name: 'route',
    onRequest: function routeRequest(ctx: RequestContext): void {
      for (const name of METHOD_OVERRIDE_HEADERS) {
        if (ctx.req.header(name) !== undefined) {
          throw new GatehouseError('GH_ROUTE_BAD_PATH', `method override header ${name} refused`);
        }
      }
      const match = routes.match(ctx.req.method, ctx.req.url);
      ctx.route = match;
      ctx.journey.route = match.operation.template;
      ctx.journey.api = match.operation.apiName;
    },
  };
}
