import { GatehouseError } from '../../errors/gatehouse-error.js';
import { DEVICE_COOKIE } from '../../limits/device-cookie.js';
import type { Operation } from '../../contract/index.js';
import type { FrontRequest } from '../front/request.js';
import type { RequestContext } from '../request-context.js';
import type { ResponseChecks } from '../response-checks.js';
import type { Stage } from '../stage.js';
import type { UpstreamTarget } from '../upstream.js';
import { UpstreamExchange } from './respond.js';
import { listsToken } from '../headers.js';

/**
 * Request headers that describe one hop and must not be passed on (RFC 9110 §7.6.1), and
 * headers a client could use to impersonate the gateway's own statements about the request.
 */
const DROPPED_REQUEST_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
  'host',
  'content-length',
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-real-ip',
  'x-request-id',
]);

export function createForwardStage(
  targets: ReadonlyMap<string, UpstreamTarget>,
  checks: ReadonlyMap<Operation, ResponseChecks>,
): Stage {
  return {
    name: 'forward',
    onRequest: function forwardToUpstream(ctx: RequestContext): void {
      const route = ctx.route!;
      const target = targets.get(route.operation.apiName);
      if (target === undefined)
        throw new GatehouseError('GH_INTERNAL', `no upstream for api ${route.operation.apiName}`);
      const check = checks.get(route.operation);
      if (check === undefined)
        throw new GatehouseError('GH_INTERNAL', `no response checks for ${route.operation.template}`);
      const path = route.path.slice(target.basePathLength);
      const exchange = new UpstreamExchange(ctx, target, check);
      ctx.upstream = exchange;
      target.pool.dispatch(
        {
          path:
            target.pathPrefix + (path === '' ? '/' : path) + (route.query === '' ? '' : '?' + route.query),
          method: ctx.req.method!,
          headers: upstreamRequestHeaders(
            ctx.req,
            ctx.id,
            ctx.journey.clientAddress,
            ctx.upstreamHeaderDrops,
            check.requestDrops,
            ctx.upstreamHeaderExtras,
          ),
          body: ctx.body,
        },
        exchange,
      );
    },
  };
}

/**
 * The admin dashboard's session cookie (src/admin/sessions.ts). Browsers send a host's cookies to
 * every port of it, so a gateway on the admin listener's host receives the operator's session:
 * it is never passed on to an upstream. Nor is the login device cookie (src/limits/device-cookie.ts),
 * which is the gateway's own.
 */
const ADMIN_COOKIE_NAME = '__Host-gatehouse-admin';
/** What both names start with: a Cookie header without it is passed on as it came. */
const GATEWAY_COOKIE_PREFIX = '__Host-gatehouse-';

function withoutGatewayCookies(value: string): string {
  return value
    .split(';')
    .filter((pair) => {
      const name = pair.split('=', 1)[0]!.trim();
      return name !== ADMIN_COOKIE_NAME && name !== DEVICE_COOKIE;
    })
    .join(';')
    .trim();
}

/**
 * The client's headers minus hop-by-hop ones, plus what the gateway vouches for. `drop` and
 * `extra` come from the auth stages: the client's credentials are not passed on, the identity
 * assertion is (RequestContext.upstreamHeaderDrops / upstreamHeaderExtras). `dropForResponse`
 * keeps the response readable where it is checked (ResponseChecks.requestDrops).
 */
export function upstreamRequestHeaders(
  req: FrontRequest,
  requestId: string,
  clientAddress: string,
  drop: ReadonlySet<string> | null = null,
  dropForResponse: ReadonlySet<string> | null = null,
  extra: readonly string[] | null = null,
): string[] {
  const raw = req.rawHeaders;
  const connectionTokens = req.header('connection');
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (DROPPED_REQUEST_HEADERS.has(name)) continue;
    if (drop !== null && drop.has(name)) continue;
    if (dropForResponse !== null && dropForResponse.has(name)) continue;
    if (connectionTokens !== undefined && listsToken(connectionTokens, name)) continue;
    const value = raw[i + 1]!;
    if (name === 'cookie' && value.includes(GATEWAY_COOKIE_PREFIX)) {
      const kept = withoutGatewayCookies(value);
      if (kept !== '') out.push(name, kept);
      continue;
    }
    out.push(name, value);
  }
  out.push('x-forwarded-for', clientAddress, 'x-forwarded-proto', 'https', 'x-request-id', requestId);
  if (extra !== null) for (let i = 0; i < extra.length; i += 1) out.push(extra[i]!);
  return out;
}
