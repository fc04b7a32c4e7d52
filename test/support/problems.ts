import { expect } from 'vitest';
import type { Answer } from './gateway-harness.js';

export const PROBLEM_BASE = 'https://gatehouse.dev/problems/';

/**
 * The answer is Gatehouse's generic RFC 9457 problem of this status and type: exactly the four
 * members, the request id as `instance`, HSTS, and nothing the client or upstream sent.
 */
export function expectProblem(answer: Answer, status: number, type: string): void {
  expect(answer.status).toBe(status);
  expect(answer.headers['content-type']).toBe('application/problem+json');
  expect(answer.headers['strict-transport-security']).toMatch(/^max-age=\d+/);
  const body = answer.json() as Record<string, unknown>;
  expect(Object.keys(body).sort()).toEqual(['instance', 'status', 'title', 'type']);
  expect(body['type']).toBe(PROBLEM_BASE + type);
  expect(body['status']).toBe(status);
  expect(body['instance']).toBe(`urn:uuid:${String(answer.headers['x-request-id'])}`);
}
