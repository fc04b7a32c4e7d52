import type { GatehouseConfig } from '../config/types.js';
import { buildRouteTable, compileApi, loadOpenApiDocument, type CompiledApi } from '../contract/index.js';
import type { DevCertificates } from '../tls/dev-certs.js';
import { Pipeline } from './pipeline.js';
import { createBodyStage } from './stages/body.js';
import { createForwardStage } from './stages/forward.js';
import { createRouteStage } from './stages/route.js';
import { createTransportStage } from './stages/transport.js';
import { createUpstreamTarget, type UpstreamTarget } from './upstream.js';

/**
 * Everything compiled from one configuration: route table, upstream pools and the pipeline.
 * A reload builds a new Runtime beside the old one and swaps it in; requests in flight finish
 * on the one they started with.
 */
export interface Runtime {
  readonly config: GatehouseConfig;
  readonly pipeline: Pipeline;
  readonly targets: ReadonlyMap<string, UpstreamTarget>;
  readonly apis: readonly CompiledApi[];
}

export async function buildRuntime(
  config: GatehouseConfig,
  devCerts: DevCertificates | null,
): Promise<Runtime> {
  const apis: CompiledApi[] = [];
  for (const api of config.apis) {
    apis.push(compileApi(api, await loadOpenApiDocument(api.openapi)));
  }
  const routes = buildRouteTable(apis, { maxTargetBytes: config.limits.maxPathBytes });
  const targets = new Map<string, UpstreamTarget>();
  for (const api of config.apis) targets.set(api.name, createUpstreamTarget(api, devCerts));
  // The journey of DESIGN.md, in order; pre-auth limit, authenticate, rate limit, authorize and
  // validate take their places between route and body as those parts are built.
  const pipeline = new Pipeline([
    createTransportStage(config.limits),
    createRouteStage(routes),
    createBodyStage(config.limits),
    createForwardStage(targets),
  ]);
  return { config, pipeline, targets, apis };
}

/** Closes the upstream pools once the requests still using them have finished. */
export async function retireRuntime(runtime: Runtime): Promise<void> {
  await Promise.all([...runtime.targets.values()].map((target) => target.pool.close()));
}
