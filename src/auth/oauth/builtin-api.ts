import type { TokenEndpointConfig } from '../../config/types.js';
import { compileApi, type CompiledApi } from '../../contract/index.js';
import type { RequestContext } from '../../gateway/request-context.js';
import type { UpstreamTarget } from '../../gateway/upstream.js';
import type { SigningKeyRing } from '../signing/signing-keys.js';
import { BUILTIN_API_NAME, builtinApiConfig, builtinDocument, TOKEN_OPERATION } from './builtin-document.js';
import { InProcessPool } from './in-process-pool.js';
import type { TokenAnswer, TokenIssuer } from './token-issuer.js';

export { BUILTIN_API_NAME } from './builtin-document.js';

/**
 * The gateway's own endpoints — the OAuth2 token endpoint (RFC 6749 §3.2) and its JWK Set —
 * served as a built-in API: an OpenAPI document compiled into the same route table, so every
 * stage applies to them as to any API (pre-authentication limits on the token endpoint, client
 * authentication by the authenticate stage, validation), and an in-process "upstream" answers
 * in place of a network hop. A token request reaches the issuer with the context the
 * authenticate stage established (`admit`), never with the client's credential.
 */
export interface BuiltinApi {
  readonly api: CompiledApi;
  readonly target: UpstreamTarget;
  /** Hands an authorized token request to the endpoint (called by the authorize stage). */
  admit(ctx: RequestContext): void;
  /** Drops a request that was admitted but not forwarded (refused by a later stage). */
  forget(ctx: RequestContext): void;
}

export function createBuiltinApi(
  config: TokenEndpointConfig,
  ring: SigningKeyRing,
  issuer: TokenIssuer,
): BuiltinApi {
  const api = compileApi(builtinApiConfig(config), builtinDocument(config.apiKeyHeader));
  const admitted = new Map<string, RequestContext>();
  const pool = new InProcessPool((options) => {
    if (options.method === 'GET') return { status: 200, body: ring.jwksJson, cache: 'public, max-age=60' };
    const ctx = admitted.get(requestIdOf(options.headers));
    if (ctx === undefined || ctx.principal === null) {
      return { status: 500, body: '{"error":"server_error"}', cache: 'no-store' };
    }
    admitted.delete(ctx.id);
    const answer: TokenAnswer = issuer.issue(
      ctx.principal,
      ctx.req.headers['content-type'],
      ctx.body,
      Date.now(),
    );
    if (answer.reason !== null) ctx.journey.reason = answer.reason;
    return { status: answer.status, body: answer.body, cache: 'no-store' };
  });
  return {
    api,
    target: { apiName: BUILTIN_API_NAME, pool, pathPrefix: '', basePathLength: 0, maxResponseBytes: 65_536 },
    admit(ctx) {
      if (ctx.route!.operation.operationId === TOKEN_OPERATION) admitted.set(ctx.id, ctx);
    },
    forget(ctx) {
      admitted.delete(ctx.id);
    },
  };
}

function requestIdOf(headers: readonly string[]): string {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === 'x-request-id') return headers[i + 1]!;
  return '';
}
