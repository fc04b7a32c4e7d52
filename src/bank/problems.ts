import type { FastifyReply } from 'fastify';

/** Problem `type`s of the bank (RFC 9457), under this base. */
export const BANK_PROBLEM_BASE = 'https://gatehouse.dev/bank/problems/';

/**
 * Every response the bank refuses with: a stable code, a status and a generic title. The precise
 * reason goes to the log only. Bodies are serialized once, here, so two refusals with the same
 * code are byte for byte the same: "not yours" and "does not exist" cannot be told apart.
 */
const CATALOGUE = {
  'invalid-request': [400, 'The request does not match the API description'],
  unauthenticated: [401, 'Authentication required'],
  'invalid-credentials': [401, 'Invalid credentials'],
  forbidden: [403, 'Forbidden'],
  'insufficient-scope': [403, 'Insufficient scope'],
  'not-found': [404, 'Not found'],
  'payload-too-large': [413, 'Payload too large'],
  'unsupported-media-type': [415, 'Unsupported media type'],
  'idempotency-key-reused': [422, 'Idempotency key already used for a different request'],
  'same-account': [422, 'Transfer refused'],
  'invalid-destination': [422, 'Transfer refused'],
  'currency-mismatch': [422, 'Transfer refused'],
  'insufficient-funds': [422, 'Transfer refused'],
  'daily-limit-exceeded': [422, 'Transfer refused'],
  'amount-over-limit': [422, 'Transfer refused'],
  'too-many-attempts': [429, 'Too many attempts'],
  internal: [500, 'Internal error'],
  unavailable: [503, 'Service unavailable'],
} as const satisfies Record<string, readonly [number, string]>;

export type ProblemCode = keyof typeof CATALOGUE;

interface Prepared {
  readonly status: number;
  /** A Buffer, so fastify sends it as it is (a string would get `; charset=utf-8` appended). */
  readonly body: Buffer;
}

const PREPARED = Object.fromEntries(
  Object.entries(CATALOGUE).map(([code, [status, title]]) => [
    code,
    { status, body: Buffer.from(JSON.stringify({ type: BANK_PROBLEM_BASE + code, title, status })) },
  ]),
) as Record<ProblemCode, Prepared>;

/** Thrown by a handler or hook to end the request with a problem; `reason` is for the log. */
export class BankProblem extends Error {
  override readonly name = 'BankProblem';
  constructor(
    readonly code: ProblemCode,
    readonly reason: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(reason);
  }
}

export function statusOf(code: ProblemCode): number {
  return PREPARED[code].status;
}

export function sendProblem(
  reply: FastifyReply,
  code: ProblemCode,
  headers: Readonly<Record<string, string>> = {},
): FastifyReply {
  const problem = PREPARED[code];
  return reply.code(problem.status).headers(headers).type('application/problem+json').send(problem.body);
}
