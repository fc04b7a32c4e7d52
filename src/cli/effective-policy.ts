import { authWarnings } from '../auth/setup.js';
import { BUILTIN_API_NAME, builtinApiConfig, builtinDocument } from '../auth/oauth/builtin-document.js';
import { compileAuthPolicies, type AuthPolicy } from '../auth/policy/auth-policy.js';
import type { GatehouseConfig } from '../config/types.js';
import { configWarnings } from '../config/warnings.js';
import {
  buildRouteTable,
  compileApi,
  ContractError,
  loadApiDocument,
  type CompiledApi,
  type Operation,
} from '../contract/index.js';
import { compileContracts, contractOptionsOf, type OperationContract } from '../contract/validation/index.js';
import {
  compileOperationPlans,
  compilePreAuthPlans,
  type OperationPlan,
  type PreAuthPlan,
} from '../limits/plan.js';
import { compilePreAuthRules } from '../limits/rule.js';

/** One operation with every compiled piece the request stages read for it. */
export interface EffectiveRoute {
  readonly api: CompiledApi;
  readonly operation: Operation;
  readonly policy: AuthPolicy;
  /** null: no rate-limit policy applies (the rate-limit stage lets it through). */
  readonly plan: OperationPlan | null;
  readonly preAuth: PreAuthPlan;
  readonly contract: OperationContract;
}

export interface EffectivePolicy {
  readonly routes: readonly EffectiveRoute[];
  /** `apis.<name>.openapi: …` for each API that would stop `start`, as check-config words it. */
  readonly problems: readonly string[];
  /** `warning: …` lines: the configuration's and each API's security warnings (none when there are problems). */
  readonly warnings: readonly string[];
}

/**
 * Compiles what `gatehouse start` compiles (src/gateway/runtime.ts), from the same functions, but
 * with nothing that touches the outside world: no signing keys generated, no JWKS fetched, no
 * limiter store opened. The built-in token endpoint is included when the configuration enables it,
 * as start routes it like any API.
 */
export async function compileEffectivePolicy(config: GatehouseConfig): Promise<EffectivePolicy> {
  const problems: string[] = [];
  const apis: CompiledApi[] = [];
  const routes: EffectiveRoute[] = [];
  for (const api of config.apis) {
    try {
      const compiled = compileApi(api, await loadApiDocument(api));
      routes.push(...compileRoutes(config, compiled));
      apis.push(compiled);
    } catch (err) {
      problems.push(problemOf(`apis.${api.name}.openapi`, err));
    }
  }
  const tokenEndpoint = config.auth.tokenEndpoint;
  if (tokenEndpoint.enabled) {
    const builtin = compileApi(builtinApiConfig(tokenEndpoint), builtinDocument(tokenEndpoint.apiKeyHeader));
    routes.push(...compileRoutes(config, builtin));
    apis.push(builtin);
  }
  if (problems.length > 0) return { routes, problems, warnings: [] };
  try {
    // Across APIs: two basePaths whose paths overlap are refused by start, not by one API's compile.
    buildRouteTable(apis, { maxTargetBytes: config.limits.maxPathBytes });
  } catch (err) {
    return { routes, problems: [problemOf('apis', err)], warnings: [] };
  }
  const warnings = [...configWarnings(config)];
  for (const api of apis) if (api.name !== BUILTIN_API_NAME) warnings.push(...authWarnings(api, config));
  return { routes, problems, warnings };
}

/** The per-operation pieces of one API, in the order start builds them. */
function compileRoutes(config: GatehouseConfig, api: CompiledApi): EffectiveRoute[] {
  const options = {
    realm: config.auth.realm,
    identityHeader: config.auth.identity.header.toLowerCase(),
    clientSecrets: api.name === BUILTIN_API_NAME,
  };
  const { policies } = compileAuthPolicies(api, options);
  const plans = compileOperationPlans(config.rateLimits, [api]);
  const preAuthRules = compilePreAuthRules(config.preAuthLimit, config.rateLimits.replicas);
  const preAuthPlans = compilePreAuthPlans(preAuthRules, [api]);
  const contracts = compileContracts([api], contractOptionsOf(config));
  return api.operations.map((operation) => ({
    api,
    operation,
    policy: required(policies.get(operation)),
    plan: plans.get(operation) ?? null,
    preAuth: required(preAuthPlans.get(operation)),
    contract: required(contracts.get(operation)),
  }));
}

/** A ContractError as check-config prints it; anything else is not the document's fault. */
function problemOf(where: string, err: unknown): string {
  if (!(err instanceof ContractError)) throw err;
  return `${where}: ${err.message}`;
}

function required<T>(value: T | undefined): T {
  // Each compile returns an entry for every operation it was given: a miss is a bug here.
  if (value === undefined) throw new Error('effective policy: an operation has no compiled entry');
  return value;
}
