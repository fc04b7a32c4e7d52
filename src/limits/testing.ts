/**
 * Test support for the limits tests (not imported by the gateway): policies written the way a
 * configuration file writes them.
 */
import type { FrontRequest } from '../gateway/front/request.js';
import type { FrontResponse } from '../gateway/front/response.js';
import type { Socket } from 'node:net';
import type { Principal } from '../auth/principal.js';
import type { RateLimitPolicyConfig } from '../config/types.js';
import { compileApi, type CompiledApi, type JsonObject, type Operation } from '../contract/index.js';
import { RequestContext } from '../gateway/request-context.js';
import { compilePolicy, compilePreAuthRules, type PreAuthRules, type Rule } from './rule.js';
import { testApiConfig } from '../config/testing.js';

export function ratePolicy(
  limit: number,
  window: string,
  more: Partial<RateLimitPolicyConfig> = {},
): RateLimitPolicyConfig {
  return {
    type: 'rate',
    key: ['address'],
    limit,
    window,
    mode: 'reject',
    onStoreFailure: 'fallback',
    shadow: false,
    ...more,
  };
}

export function rateRule(
  name: string,
  limit: number,
  window: string,
  more: Partial<RateLimitPolicyConfig> = {},
): Rule {
  return compilePolicy(name, ratePolicy(limit, window, more), 1);
}

export function quotaRule(name: string, limit: number, period: 'hour' | 'day' | 'month'): Rule {
  return compilePolicy(
    name,
    {
      type: 'quota',
      key: ['address'],
      limit,
      period,
      mode: 'reject',
      onStoreFailure: 'fallback',
      shadow: false,
    },
    1,
  );
}

export function preAuthRules(
  backoff = { freeFailures: 2, initialDelay: '1s', maxDelay: '8s', forgetAfter: '1h' },
): PreAuthRules {
  return compilePreAuthRules(
    {
      perAddress: null,
      failedAuth: { limit: 6, window: '1m', burst: 3 },
      login: {
        perAddress: { limit: 20, window: '1m' },
        perUsername: { limit: 10, window: '1m' },
        backoff,
        failureStatuses: [401, 403],
        deviceCookie: { enabled: true, maxAgeDays: 30 },
      },
      onStoreFailure: 'fallback',
    },
    1,
  );
}

/** A clock the test moves by hand. */
export function manualClock(start = Date.UTC(2026, 0, 15, 12, 0, 0)): {
  now: () => number;
  advance(ms: number): void;
} {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

/** Compiles a small contract (paths only) the way the runtime does. */
export function compileTestApi(paths: Record<string, JsonObject>, extra: JsonObject = {}): CompiledApi {
  const api = testApiConfig('test');
  return compileApi(api, { openapi: '3.1.0', info: { title: 't', version: '1' }, paths, ...extra });
}

export interface FakeRequest {
  readonly address?: string;
  readonly principal?: Principal | null;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  readonly params?: Record<string, string>;
}

/**
 * A RequestContext for a routed request, without a socket: what the limit stages read. The
 * connection is a plain object, enough for the repeat-refusal bookkeeping.
 */
export function fakeContext(operation: Operation, request: FakeRequest = {}): RequestContext {
  const socket = { destroy: () => undefined } as unknown as Socket;
  const req = {
    method: operation.method,
    headers: request.headers ?? {},
    hasBody: hasBody(request.headers ?? {}),
    socket,
  } as unknown as FrontRequest;
  const res = { shouldKeepAlive: true } as unknown as FrontResponse;
  const ctx = new RequestContext(
    '00000000-0000-4000-8000-000000000000',
    req,
    res,
    request.address ?? '10.0.0.1',
    0,
    () => undefined, // nothing records a request built outside a gateway
  );
  ctx.route = { operation, params: request.params ?? {}, path: operation.template, query: '' };
  ctx.principal = request.principal ?? null;
  if (request.body !== undefined) ctx.body = Buffer.from(request.body);
  return ctx;
}

export function principal(subject: string, kind: 'api-key' | 'jwt' = 'jwt'): Principal {
  return {
    subject,
    consumer: `${subject}-app`,
    scopes: new Set(),
    roles: [],
    credential: { kind, id: `cred-${subject}`, issuer: null },
    claims: {},
    expiresAt: null,
  };
}

/** What the front connection derives from the headers (front/connection.ts): a body follows them. */
function hasBody(headers: Record<string, string>): boolean {
  return headers['transfer-encoding'] !== undefined || (headers['content-length'] ?? '0') !== '0';
}
