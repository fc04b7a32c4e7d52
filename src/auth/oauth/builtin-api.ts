import type { IncomingHttpHeaders } from 'node:http';
import type { TokenEndpointConfig } from '../../config/types.js';
import { compileApi, type CompiledApi, type RouteMatch } from '../../contract/index.js';
import type { Principal } from '../principal.js';
import type { SigningKeyRing } from '../signing/signing-keys.js';
import { builtinApiConfig, builtinDocument, TOKEN_OPERATION } from './builtin-document.js';
import type { TokenResponse, TokenIssuer } from './token-issuer.js';

export { BUILTIN_API_NAME } from './builtin-document.js';

/** What the endpoint reads of a token request it was handed: the gateway's request context is one. */
export interface TokenRequest {
  readonly id: string;
  readonly route: RouteMatch | null;
  readonly principal: Principal | null;
  readonly req: { readonly headers: IncomingHttpHeaders };
  /** Read by the body stage after the request was admitted, before it is answered. */
  readonly body: Buffer | null;
  /** Where the operator-facing reason of a refused token request goes. */
  readonly journey: { reason: string | null };
}

/** A response made in-process: status, JSON body and its Cache-Control. */
export interface LocalResponse {
  readonly status: number;
  readonly body: string;
  readonly cache: string;
}

/**
 * The gateway's own endpoints — the OAuth2 token endpoint (RFC 6749 §3.2) and its JWK Set —
 * served as a built-in API: an OpenAPI document compiled into the same route table, so every
 * stage applies to them as to any API (pre-authentication limits on the token endpoint, client
 * authentication by the authenticate stage, validation), and `respond` responds in place of a
 * network hop (the gateway wraps it as an in-process upstream). A token request reaches the
 * issuer with the context the authenticate stage established (`admit`), never with the client's
 * credential.
 */
export interface BuiltinApi {
  readonly api: CompiledApi;
  /** Answers a request forwarded to the built-in API, found by its request id. */
  respond(method: string, requestId: string): LocalResponse;
  /** Hands an authorized token request to the endpoint (called by the authorize stage). */
  admit(request: TokenRequest): void;
  /** Drops a request that was admitted but not forwarded (refused by a later stage). */
  forget(request: TokenRequest): void;
}

export function createBuiltinApi(
  config: TokenEndpointConfig,
  ring: SigningKeyRing,
  issuer: TokenIssuer,
): BuiltinApi {
  const api = compileApi(builtinApiConfig(config), builtinDocument(config.apiKeyHeader));
  const admitted = new Map<string, TokenRequest>();
  return {
    api,
    respond(method, requestId) {
      if (method === 'GET') return { status: 200, body: ring.jwksJson, cache: 'public, max-age=60' };
      const request = admitted.get(requestId);
      if (request === undefined || request.principal === null) {
        return { status: 500, body: '{"error":"server_error"}', cache: 'no-store' };
      }
      admitted.delete(requestId);
      const response: TokenResponse = issuer.issue(
        request.principal,
        request.req.headers['content-type'],
        request.body,
        Date.now(),
      );
      if (response.reason !== null) request.journey.reason = response.reason;
      return { status: response.status, body: response.body, cache: 'no-store' };
    },
    admit(request) {
      if (request.route!.operation.operationId === TOKEN_OPERATION) admitted.set(request.id, request);
    },
    forget(request) {
      admitted.delete(request.id);
    },
  };
}
