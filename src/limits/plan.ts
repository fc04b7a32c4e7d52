import type { RateLimitPolicyConfig, RateLimitsConfig } from '../config/types.js';
import { ContractError } from '../contract/contract-error.js';
import type { CompiledApi, Operation } from '../contract/index.js';
import {
  readLoginMarker,
  readPolicyReferences,
  type LoginMarker,
  type PolicyReference,
} from './extension.js';
import { compileKey, type KeyBuilder } from './key.js';
import { compilePolicy, type PreAuthRules, type Rule } from './rule.js';

/** What the rate-limit stage does for one operation, compiled at load. */
export interface OperationPlan {
  readonly rules: readonly Rule[];
  /** The same rules with no waiting: used while `maxDelayed` requests already wait. */
  readonly rejectRules: readonly Rule[];
  readonly keys: readonly KeyBuilder[];
  readonly needsBody: boolean;
  /** The `RateLimit-Policy` value, null when no enforced policy applies. */
  readonly policyHeader: string | null;
}

/** What the pre-auth limit stage does for one operation. */
export interface PreAuthPlan {
  /** Rules keyed by the client address alone, decided before anything is read. */
  readonly addressRules: readonly Rule[];
  /** The operation takes credentials: failed authentications count against the address. */
  readonly countsFailedAuth: boolean;
  readonly login: LoginMarker | null;
}

interface Entry {
  readonly name: string;
  readonly rule: Rule;
  readonly key: readonly string[];
}

/** Compiles `rateLimits.apply` plus each operation's `x-gatehouse-rate-limit`; operations with none get no plan. */
export function compileOperationPlans(
  config: RateLimitsConfig,
  apis: readonly CompiledApi[],
): Map<Operation, OperationPlan> {
  const named = compileNamedPolicies(config);
  const applied = config.apply.map((name) => {
    const entry = named.get(name);
    if (entry === undefined)
      throw new TypeError(`rateLimits.apply names "${name}", which rateLimits.policies does not define`);
    return entry;
  });
  const plans = new Map<Operation, OperationPlan>();
  for (const api of apis) {
    for (const operation of api.operations) {
      const entries = [...applied];
      for (const ref of readPolicyReferences(operation, api.file)) {
        const entry = resolveReference(ref, named, operation, config, api.file);
        if (entries.some((e) => e.name === entry.name)) continue; // already applied: once is enough
        entries.push(entry);
      }
      if (entries.length > 0) plans.set(operation, planFor(entries, operation));
    }
  }
  return plans;
}

function compileNamedPolicies(config: RateLimitsConfig): Map<string, Entry> {
  const named = new Map<string, Entry>();
  for (const [name, policy] of Object.entries(config.policies)) {
    named.set(name, {
      name,
      rule: compilePolicy(name, policy, config.replicas, config.localShare),
      key: policy.key,
    });
  }
  return named;
}

function resolveReference(
  ref: PolicyReference,
  named: ReadonlyMap<string, Entry>,
  operation: Operation,
  sharing: Pick<RateLimitsConfig, 'replicas' | 'localShare'>,
  file: string,
): Entry {
  if (ref.kind === 'named') {
    const entry = named.get(ref.name);
    if (entry !== undefined) return entry;
    throw new ContractError(
      file,
      null,
      `${operation.method} ${operation.documentPath}: x-gatehouse-rate-limit names "${ref.name}", which rateLimits.policies does not define`,
    );
  }
  return {
    name: ref.name,
    rule: compileInline(ref.name, ref.policy, operation, sharing, file),
    key: ref.policy.key,
  };
}

/** An inline policy belongs to its operation: its counters are its own, whatever its name. */
function compileInline(
  name: string,
  policy: RateLimitPolicyConfig,
  operation: Operation,
  sharing: Pick<RateLimitsConfig, 'replicas' | 'localShare'>,
  file: string,
): Rule {
  try {
    const rule = compilePolicy(name, policy, sharing.replicas, sharing.localShare);
    const keyPrefix = `${rule.keyPrefix}${operation.apiName}:${operation.method}:${operation.template}:`;
    return { ...rule, keyPrefix, fallback: rule.fallback === null ? null : { ...rule.fallback, keyPrefix } };
  } catch (err) {
    throw new ContractError(
      file,
      null,
      `${operation.method} ${operation.documentPath}: ${(err as Error).message}`,
    );
  }
}

function planFor(entries: readonly Entry[], operation: Operation): OperationPlan {
  const rules = entries.map((e) => e.rule);
  const keys = entries.map((e) => compileKey(e.key, operation));
  const headers = rules.filter((r) => r.enforced && r.policyHeader !== null).map((r) => r.policyHeader);
  return Object.freeze({
    rules,
    rejectRules: rules.map((r) => (r.maxDelayMs === 0 ? r : { ...r, maxDelayMs: 0 })),
    keys: keys.map((k) => k.build),
    needsBody: keys.some((k) => k.needsBody),
    policyHeader: headers.length === 0 ? null : headers.join(', '),
  });
}

/** The pre-auth limit of every operation: per address, failed authentications, login protection. */
export function compilePreAuthPlans(
  rules: PreAuthRules,
  apis: readonly CompiledApi[],
): Map<Operation, PreAuthPlan> {
  const plans = new Map<Operation, PreAuthPlan>();
  for (const api of apis) {
    for (const operation of api.operations) {
      const login = readLoginMarker(operation, api.file);
      const countsFailedAuth = takesCredentials(operation);
      const addressRules: Rule[] = [];
      if (rules.perAddress !== null) addressRules.push(rules.perAddress);
      if (countsFailedAuth) addressRules.push(rules.failedAuth);
      if (login !== null) addressRules.push(rules.loginAddress, rules.backoffAddress);
      plans.set(operation, Object.freeze({ addressRules, countsFailedAuth, login }));
    }
  }
  return plans;
}

/** Any security requirement naming a scheme (OpenAPI: `{}` alone means anonymous access). */
function takesCredentials(operation: Operation): boolean {
  return operation.security.some((requirement) => Object.keys(requirement).length > 0);
}
