import type { IncomingMessage } from 'node:http';
import { GatehouseError } from '../errors/gatehouse-error.js';

/** Admin requests are a few fields of JSON. */
export const MAX_ADMIN_BODY_BYTES = 16 * 1024;

/**
 * Reads a JSON request body, counting bytes as they arrive (never trusting Content-Length).
 * An empty body reads as `{}`; what comes back is `unknown` until the route validates it.
 */
export async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const type = req.headers['content-type'];
  const hasBody =
    req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';
  if (!hasBody) return {};
  if (type === undefined || !/^application\/json\s*(;|$)/i.test(type)) {
    throw new GatehouseError('GH_ADMIN_UNSUPPORTED_MEDIA_TYPE', `admin body of type ${type ?? 'none'}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_ADMIN_BODY_BYTES) {
      throw new GatehouseError('GH_ADMIN_BODY_TOO_LARGE', `admin body over ${MAX_ADMIN_BODY_BYTES} bytes`);
    }
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new GatehouseError('GH_ADMIN_BAD_REQUEST', 'admin body is not JSON');
  }
}

/** A sign-in form is one field. */
const MAX_FORM_BODY_BYTES = 4096;

/**
 * Reads an `application/x-www-form-urlencoded` body (an HTML form), counting bytes as they
 * arrive, and gives its fields; anything else is refused.
 */
export async function readFormBody(req: IncomingMessage): Promise<URLSearchParams> {
  const type = req.headers['content-type'];
  if (type === undefined || !/^application\/x-www-form-urlencoded\s*(;|$)/i.test(type)) {
    throw new GatehouseError('GH_ADMIN_UNSUPPORTED_MEDIA_TYPE', `form of type ${type ?? 'none'}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BODY_BYTES) {
      throw new GatehouseError('GH_ADMIN_BODY_TOO_LARGE', `form body over ${MAX_FORM_BODY_BYTES} bytes`);
    }
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}
