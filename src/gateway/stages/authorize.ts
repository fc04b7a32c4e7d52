import type { IncomingHttpHeaders } from 'node:http';
import type { AuthPolicy, Requirement } from '../../auth/policy/auth-policy.js';
import { unmetRequirement } from '../../auth/policy/conditions.js';
import type { Principal } from '../../auth/principal.js';
import type { AuthRuntime } from '../../auth/setup.js';
import { BUILTIN_API_NAME } from '../../auth/oauth/builtin-api.js';
import { GatehouseError } from '../../errors/gatehouse-error.js';
import type { RequestContext } from '../request-context.js';
import type { Stage } from '../stage.js';

/**
 * The authorize stage: the principal must hold every scope of one requirement its credential
 * can meet (least privilege), one of the roles and every claim condition of
 * `x-gatehouse-require`; otherwise 403 with the same generic body. Once allowed, the request
 * gets the signed identity assertion for its upstream (the token endpoint gets the request itself).
 */
export function createAuthorizeStage(auth: AuthRuntime): Stage {
  const { policies, assertions, builtin } = auth;
  const stage: Stage = {
    name: 'authorize',
    onRequest: function authorize(ctx: RequestContext): void {
      const policy = policies.get(ctx.route!.operation)!;
      const principal = ctx.principal;
      if (principal === null) {
        if (policy.mode === 'public') return;
        throw new GatehouseError(
          'GH_AUTH_FORBIDDEN',
          'authorize: no principal established for a protected operation',
        );
      }
      if (policy.mode === 'credential') checkScopes(principal, policy, ctx.req.headers);
      if (policy.access !== null) {
        const unmet = unmetRequirement(policy.access, principal, ctx.route!, ctx.req.headers);
        if (unmet !== null) throw new GatehouseError('GH_AUTH_FORBIDDEN', unmet);
      }
      if (builtin !== null && policy.audience === BUILTIN_API_NAME) builtin.admit(ctx);
      else if (assertions !== null) {
        ctx.upstreamHeaderExtras = assertions.headerFor(principal, policy.audience, ctx.id, Date.now());
      }
    },
  };
  if (builtin === null) return stage;
  return {
    ...stage,
    // A token request admitted but refused by a later stage must not stay in the endpoint's hands.
    onComplete: function forgetAdmitted(ctx: RequestContext): void {
      if (ctx.route?.operation.apiName === BUILTIN_API_NAME) builtin.forget(ctx);
    },
  };
}

function checkScopes(principal: Principal, policy: AuthPolicy, headers: IncomingHttpHeaders): void {
  let firstMissing: string | null = null;
  for (const requirement of policy.requirements) {
    if (!meetsCredential(requirement, principal, headers)) continue;
    const missing = missingScope(requirement, principal);
    if (missing === null) return;
    firstMissing ??= missing;
  }
  const challenge = principal.credential.kind === 'jwt' ? policy.challenges.insufficientScope : undefined;
  throw new GatehouseError(
    'GH_AUTH_FORBIDDEN',
    firstMissing === null
      ? `authorize.scheme: no requirement of the operation takes a ${principal.credential.kind} credential`
      : `authorize.scope: missing scope ${firstMissing}`,
    challenge,
  );
}

/** Whether the principal's credential is the kind (and, for a key, the header) the requirement names. */
function meetsCredential(
  requirement: Requirement,
  principal: Principal,
  headers: IncomingHttpHeaders,
): boolean {
  switch (principal.credential.kind) {
    case 'jwt':
      return requirement.kind === 'bearer';
    case 'client-secret':
      return requirement.kind === 'client-secret';
    case 'api-key':
      return requirement.kind === 'api-key' && headers[requirement.header!] !== undefined;
  }
}

function missingScope(requirement: Requirement, principal: Principal): string | null {
  const scopes = requirement.scopes;
  for (let i = 0; i < scopes.length; i += 1) if (!principal.scopes.has(scopes[i]!)) return scopes[i]!;
  return null;
}
