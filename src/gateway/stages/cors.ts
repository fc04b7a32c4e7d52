import type { CorsConfig } from '../../config/types.js';
import type { RouteTable } from '../../contract/index.js';
import { GatehouseError } from '../../errors/gatehouse-error.js';
import type { RequestContext } from '../request-context.js';
import type { Stage } from '../stage.js';

/**
 * CORS as the Fetch standard defines it (§3.2, "CORS protocol"), answered by the gateway only:
 * the upstream's own Access-Control-* headers are dropped (respond.ts). An allowed
 * origin gets its headers on every response, problems included; any other origin gets none, so the
 * browser keeps the response from the calling page. A preflight is answered here, without the
 * upstream, and only for a declared path and method; anything else falls through to the route
 * stage (404 / 405).
 */
export function createCorsStage(cors: CorsConfig, routes: RouteTable): Stage {
  const policy = compileCorsPolicy(cors);
  return {
    name: 'cors',
    onRequest: function applyCors(ctx: RequestContext): void {
      const origin = ctx.req.header('origin');
      if (origin === undefined) return;
      const headers = policy.headersFor(origin);
      if (headers === undefined) return;
      const out = (ctx.responseHeaders ??= []);
      for (let i = 0; i < headers.length; i += 1) out.push(headers[i]!);
      const requested = ctx.req.headers['access-control-request-method'];
      if (ctx.req.method === 'OPTIONS' && requested !== undefined)
        respondToPreflight(ctx, routes, policy, origin, requested);
    },
  };
}

interface CorsPolicy {
  /** The headers of every response to this origin; undefined when the origin is not allowed. */
  headersFor(origin: string): readonly string[] | undefined;
  readonly allowHeaders: string;
  readonly maxAge: string;
}

function compileCorsPolicy(cors: CorsConfig): CorsPolicy {
  const common: string[] = [];
  if (cors.allowCredentials) common.push('access-control-allow-credentials', 'true');
  if (cors.exposedHeaders.length > 0)
    common.push('access-control-expose-headers', cors.exposedHeaders.join(', '));
  const wildcard = !cors.allowCredentials && cors.allowedOrigins.includes('*');
  const anyOrigin = ['access-control-allow-origin', '*', ...common];
  // A named origin varies the response (Fetch §3.2.5: `Vary: Origin`), so a cache keeps them apart.
  const byOrigin = new Map<string, readonly string[]>(
    cors.allowedOrigins
      .filter((origin) => origin !== '*')
      .map((origin) => [origin, ['access-control-allow-origin', origin, 'vary', 'origin', ...common]]),
  );
  return {
    headersFor: (origin) => byOrigin.get(origin) ?? (wildcard ? anyOrigin : undefined),
    allowHeaders: cors.allowedHeaders.join(', '),
    maxAge: String(cors.maxAgeSeconds),
  };
}

/**
 * Fetch §3.2.2: a preflight is OPTIONS with Access-Control-Request-Method. It is answered only
 * when that method is declared at that path (the route table decides, as for a real request);
 * the response is the gateway's own 204, carried as a local reply (GH_CORS_PREFLIGHT).
 */
function respondToPreflight(
  ctx: RequestContext,
  routes: RouteTable,
  policy: CorsPolicy,
  origin: string,
  method: string,
): void {
  let template: string;
  try {
    template = routes.match(method, ctx.req.url ?? '').operation.template;
  } catch {
    return; // not a declared operation: the route stage refuses the OPTIONS request itself
  }
  ctx.journey.route = template;
  throw new GatehouseError('GH_CORS_PREFLIGHT', `preflight from ${origin} for ${method} ${template}`, {
    'access-control-allow-methods': method,
    'access-control-allow-headers': policy.allowHeaders,
    'access-control-max-age': policy.maxAge,
  });
}
