import type { LimitedRequest } from './request.js';
import { LimitsNote } from './note.js';

export function bodyPending(ctx: LimitedRequest): boolean {
  return ctx.body === null && ctx.req.hasBody;
}

/** A top-level string or number field of a JSON or form body; '' when absent or not readable. */
export function readBodyField(ctx: LimitedRequest, field: string): string {
  const note = (ctx.limits ??= new LimitsNote());
  if (note.parsedBody === undefined) note.parsedBody = parseBody(ctx);
  const body = note.parsedBody;
  if (body instanceof URLSearchParams) return body.get(field) ?? '';
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return '';
  const value: unknown = Object.hasOwn(body, field) ? (body as Record<string, unknown>)[field] : undefined;
  return typeof value === 'string' || typeof value === 'number' ? String(value) : '';
}

function parseBody(ctx: LimitedRequest): unknown {
  const body = ctx.body;
  if (body === null) return null;
  const type = (ctx.req.headers['content-type'] ?? '').toLowerCase();
  if (type.startsWith('application/x-www-form-urlencoded')) return new URLSearchParams(body.toString('utf8'));
  try {
    // Anything else is tried as JSON (application/json, +json, or no type): the validate stage
    // decides later whether the body is acceptable; here it only has to yield a key.
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    return null;
  }
}

/**
 * One account, one key: case, surrounding space and Unicode compatibility forms (NFKC) do not
 * make a new username, so they cannot reset a backoff.
 */
export function normaliseUsername(raw: string): string {
  return raw.normalize('NFKC').trim().toLowerCase();
}
