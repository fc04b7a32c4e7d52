import { expect } from 'vitest';
import type { HttpResponse } from './gateway-harness.js';

export const PROBLEM_BASE = 'https://gatehouse.dev/problems/';

/**
 * The response is Gatehouse's generic RFC 9457 problem of this status and type: exactly the four
 * members, the request id as `instance`, HSTS, and nothing the client or upstream sent.
 */
export function expectProblem(response: HttpResponse, status: number, type: string): void {
  expect(response.status).toBe(status);
  expect(response.headers['content-type']).toBe('application/problem+json');
  expect(response.headers['strict-transport-security']).toMatch(/^max-age=\d+/);
  const body = response.json() as Record<string, unknown>;
  expect(Object.keys(body).sort()).toEqual(['instance', 'status', 'title', 'type']);
  expect(body['type']).toBe(PROBLEM_BASE + type);
  expect(body['status']).toBe(status);
  expect(body['instance']).toBe(`urn:uuid:${String(response.headers['x-request-id'])}`);
}
