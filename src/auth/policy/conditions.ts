import type { IncomingHttpHeaders } from 'node:http';
import { ContractError } from '../../contract/contract-error.js';
import type { RouteMatch } from '../../contract/index.js';
import type { Principal } from '../principal.js';

/**
 * `x-gatehouse-require` on an operation: what OpenAPI cannot say about who may call it.
 *
 *     x-gatehouse-require:
 *       roles: [auditor, admin]          # the principal holds at least one of these roles
 *       path.userId: principal.sub       # the path parameter equals the principal's subject
 *       header.x-tenant: principal.claims.tenant
 *       query.account: principal.consumer
 *
 *       response.owner: principal.sub    # the upstream's response is the caller's own object
 *
 * Left of each condition: `path.<parameter>` (declared in the operation), `query.<name>` or
 * `header.<name>`, checked before the request is forwarded; or `response.<property>[.<property>…]`,
 * checked on the upstream's 2xx answer (a JSON object) before it is sent on: where it does not
 * hold, the caller gets the same 404 as for a missing object (broken object-level authorization,
 * OWASP API1, stopped for upstreams that never check ownership). Right: `principal.sub`,
 * `principal.consumer` or `principal.claims.<claim>`. Every condition must hold (values compared
 * as exact strings). Compiled once, at load.
 */
export interface AccessRequirements {
  /** Any one of these roles; null when the operation names none. */
  readonly roles: readonly string[] | null;
  readonly conditions: readonly Condition[];
  /** Whether a condition reads the query (parsed only then). */
  readonly readsQuery: boolean;
  /** Conditions on the upstream's response; empty when the operation has none. */
  readonly responseConditions: readonly ResponseCondition[];
}

interface PrincipalReference {
  readonly kind: 'subject' | 'consumer' | 'claim';
  readonly claim: string;
}

interface Condition {
  readonly source: 'path' | 'query' | 'header';
  readonly name: string;
  readonly principal: PrincipalReference;
  /** As written, for the journey record: `path.userId == principal.sub`. */
  readonly text: string;
}

export interface ResponseCondition {
  /** Property names from the response's top level: `response.data.owner` → ['data', 'owner']. */
  readonly property: readonly string[];
  readonly principal: PrincipalReference;
  readonly text: string;
}

const LEFT = /^(path|query|header)\.([A-Za-z0-9_.~-]{1,128})$/;
const RESPONSE = /^response\.([A-Za-z0-9_$-]{1,64}(?:\.[A-Za-z0-9_$-]{1,64}){0,7})$/;
const RIGHT = /^principal\.(?:(sub|subject|consumer)|claims\.([A-Za-z0-9_:.-]{1,128}))$/;

/** Compiles the extension; throws ContractError (file, pointer) for anything it does not understand. */
export function compileRequirements(
  value: unknown,
  pathParams: readonly string[],
  file: string,
  pointer: string,
): AccessRequirements | null {
  if (value === undefined) return null;
  const fail = (problem: string): never => {
    throw new ContractError(file, pointer, `x-gatehouse-require: ${problem}`);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('must be a mapping');
  let roles: string[] | null = null;
  const conditions: Condition[] = [];
  const responseConditions: ResponseCondition[] = [];
  for (const [key, right] of Object.entries(value as Record<string, unknown>)) {
    const response = RESPONSE.exec(key);
    if (response !== null) {
      const principal = principalReference(key, right, fail);
      const property = Object.freeze(response[1]!.split('.'));
      responseConditions.push(Object.freeze({ property, principal, text: `${key} == ${String(right)}` }));
      continue;
    }
    if (key === 'roles') {
      if (
        !Array.isArray(right) ||
        right.length === 0 ||
        !right.every((r) => typeof r === 'string' && r !== '')
      ) {
        fail('roles must be a non-empty list of role names');
      }
      roles = [...(right as string[])];
      continue;
    }
    conditions.push(compileCondition(key, right, pathParams, fail));
  }
  return Object.freeze({
    roles,
    conditions: Object.freeze(conditions),
    readsQuery: conditions.some((c) => c.source === 'query'),
    responseConditions: Object.freeze(responseConditions),
  });
}

function compileCondition(
  key: string,
  right: unknown,
  pathParams: readonly string[],
  fail: (problem: string) => never,
): Condition {
  const left = LEFT.exec(key);
  if (left === null)
    fail(`"${key}" is not roles, path.<name>, query.<name>, header.<name> or response.<property>`);
  const source = left![1] as Condition['source'];
  const name = source === 'header' ? left![2]!.toLowerCase() : left![2]!;
  if (source === 'path' && !pathParams.includes(name))
    fail(`"${key}": the operation has no path parameter ${name}`);
  return Object.freeze({
    source,
    name,
    principal: principalReference(key, right, fail),
    text: `${key} == ${String(right)}`,
  });
}

function principalReference(
  key: string,
  right: unknown,
  fail: (problem: string) => never,
): PrincipalReference {
  const match = typeof right === 'string' ? RIGHT.exec(right) : null;
  if (match === null) {
    fail(
      `"${key}" must equal principal.sub, principal.consumer or principal.claims.<name>, not ${JSON.stringify(right)}`,
    );
  }
  const kind = match![2] !== undefined ? 'claim' : match![1] === 'consumer' ? 'consumer' : 'subject';
  return Object.freeze({ kind, claim: match![2] ?? '' });
}

/**
 * The first condition on the response that does not hold, in words for the journey; null when all
 * hold. `response` is the parsed JSON body; anything but an object holding a string or number at
 * each property fails (the owner cannot be told, so the object is not shown).
 */
export function unmetResponseCondition(
  conditions: readonly ResponseCondition[],
  principal: Principal,
  response: unknown,
): string | null {
  for (const condition of conditions) {
    const expected = principalValue(principal, condition.principal);
    const actual = propertyValue(response, condition.property);
    if (expected === null || actual === null || actual !== expected) {
      return `authorize.response: ${condition.text} does not hold`;
    }
  }
  return null;
}

function propertyValue(response: unknown, property: readonly string[]): string | null {
  let value = response;
  for (const name of property) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
    if (!Object.hasOwn(value, name)) return null;
    value = (value as Record<string, unknown>)[name];
  }
  // A number beyond 2^53 was rounded on parsing: it names some other owner.
  if (typeof value === 'number') return Number.isSafeInteger(value) ? String(value) : null;
  return typeof value === 'string' ? value : null;
}

/** The first requirement the request does not meet, in words for the journey; null when all hold. */
export function unmetRequirement(
  requirements: AccessRequirements,
  principal: Principal,
  route: RouteMatch,
  headers: IncomingHttpHeaders,
): string | null {
  const roles = requirements.roles;
  if (roles !== null && !roles.some((role) => principal.roles.includes(role))) {
    return `authorize.role: none of the roles ${roles.join(', ')}`;
  }
  const query = requirements.readsQuery ? new URLSearchParams(route.query) : null;
  for (const condition of requirements.conditions) {
    const expected = principalValue(principal, condition.principal);
    const actual = requestValue(condition, route, headers, query);
    if (expected === null || actual === null || actual !== expected) {
      return `authorize.condition: ${condition.text} does not hold`;
    }
  }
  return null;
}

function principalValue(principal: Principal, reference: PrincipalReference): string | null {
  switch (reference.kind) {
    case 'subject':
      return principal.subject;
    case 'consumer':
      return principal.consumer;
    case 'claim': {
      const value = principal.claims[reference.claim];
      return typeof value === 'string' || typeof value === 'number' ? String(value) : null;
    }
  }
}

function requestValue(
  condition: Condition,
  route: RouteMatch,
  headers: IncomingHttpHeaders,
  query: URLSearchParams | null,
): string | null {
  switch (condition.source) {
    case 'path':
      return route.params[condition.name] ?? null;
    case 'header': {
      const value = headers[condition.name];
      return typeof value === 'string' ? value : null;
    }
    case 'query': {
      // A repeated parameter is ambiguous (which one does the upstream read?): it never matches.
      const values = query!.getAll(condition.name);
      return values.length === 1 ? values[0]! : null;
    }
  }
}
