import type { FastifyRequest } from 'fastify';
import type { BankOperation } from './contract.js';
import { BankProblem } from './problems.js';
import { SCOPES_BY_ROLE } from './auth/token-issuer.js';
import type { Role, UserRecord } from './store/records.js';
import { IdentityRefused, type VerifyGatewayIdentity } from './trust/gateway-identity.js';
import { createGatewayConnectionCheck } from './trust/client-certificate.js';

/** The bank user a request acts for, and the scopes it has: granted by the gateway, allowed by its role. */
export interface Caller {
  readonly user: UserRecord;
  readonly scopes: ReadonlySet<string>;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    operation?: BankOperation;
  }
  interface FastifyRequest {
    caller: Caller | null;
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface GateOptions {
  readonly gatewayCertificateName: string;
  readonly identityHeader: string;
  readonly verifyIdentity: VerifyGatewayIdentity;
  readonly findUser: (id: string) => Promise<UserRecord | undefined>;
}

/**
 * The bank's front door, run before anything else on every request (defense in depth: the network
 * is not trusted). The operation's `access` (from the document) says what it needs:
 * - the gateway's client certificate, except for the public key set;
 * - for every operation with `security`, a valid identity assertion from the gateway, all the
 *   scopes the operation lists, and a subject that is a bank user.
 * Undeclared paths get the same certificate check before their 404.
 */
export function createGate(options: GateOptions): (request: FastifyRequest) => Promise<void> {
  const isGatewayConnection = createGatewayConnectionCheck(options.gatewayCertificateName);
  const header = options.identityHeader.toLowerCase();
  return async function gatewayGate(request) {
    const operation = request.routeOptions.config.operation;
    if (operation?.access === 'public') return;
    if (!isGatewayConnection(request.raw.socket)) {
      throw new BankProblem('unauthenticated', 'no client certificate of the gateway on this connection');
    }
    if (operation === undefined || operation.access === 'gateway') return;
    request.caller = await callerOf(options, operation, request.headers[header]);
  };
}

async function callerOf(options: GateOptions, operation: BankOperation, assertion: unknown): Promise<Caller> {
  let identity;
  try {
    identity = await options.verifyIdentity(assertion as string | string[] | undefined);
  } catch (err) {
    if (err instanceof IdentityRefused)
      throw new BankProblem('unauthenticated', `identity ${err.code}: ${err.message}`);
    throw err;
  }
  const subject = identity.subject.toLowerCase();
  const user = UUID.test(subject) ? await options.findUser(subject) : undefined;
  if (user === undefined) throw new BankProblem('unauthenticated', 'the asserted subject is not a bank user');
  const scopes = effectiveScopes(identity.scopes, user.role);
  const missing = operation.scopes.filter((scope) => !scopes.has(scope));
  if (missing.length > 0) throw new BankProblem('insufficient-scope', `missing scope ${missing.join(' ')}`);
  return { user, scopes };
}

const effective = new WeakMap<ReadonlySet<string>, Map<Role, ReadonlySet<string>>>();

/**
 * What the gateway granted, narrowed to what the user's role may ever have (least privilege: an
 * auditor's key that somehow carries transfers:write still cannot transfer). Memoized per scope
 * set, which the verifier reuses for as long as it caches the assertion.
 */
function effectiveScopes(granted: ReadonlySet<string>, role: Role): ReadonlySet<string> {
  let byRole = effective.get(granted);
  if (byRole === undefined) effective.set(granted, (byRole = new Map()));
  let scopes = byRole.get(role);
  if (scopes === undefined) {
    scopes = new Set(SCOPES_BY_ROLE[role].filter((scope) => granted.has(scope)));
    byRole.set(role, scopes);
  }
  return scopes;
}
