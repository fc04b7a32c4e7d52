import { createHash } from 'node:crypto';
import type { Operation } from '../contract/index.js';
import type { LimitedRequest } from './request.js';
import { readBodyField } from './body-field.js';

/** Builds one policy's key for one request, from the parts the policy names. */
export type KeyBuilder = (ctx: LimitedRequest) => string;

type PartReader = (ctx: LimitedRequest) => string;

/** Values a client chooses freely (headers, body fields) longer than this are hashed: keys stay short. */
const MAX_RAW_VALUE = 64;

/**
 * Compiles `key: [...]` once. Each part is written as `<tag><length>:<value>`, so no choice of
 * values can make two different callers share a key. Parts that name the principal fall back
 * to the client address while there is none (a public operation, or before authentication):
 * an anonymous caller is still limited, under a tag of its own so that no subject can collide
 * with an address.
 */
export function compileKey(
  parts: readonly string[],
  operation: Operation,
): { build: KeyBuilder; needsBody: boolean } {
  const readers = parts.map((part) => partReader(part, operation));
  const needsBody = parts.some((part) => part.startsWith('body:'));
  if (readers.length === 1) return { build: readers[0]!, needsBody };
  const build: KeyBuilder = function buildKey(ctx) {
    let key = readers[0]!(ctx);
    for (let i = 1; i < readers.length; i += 1) key += '|' + readers[i]!(ctx);
    return key;
  };
  return { build, needsBody };
}

function partReader(part: string, operation: Operation): PartReader {
  const colon = part.indexOf(':');
  const [kind, name] = colon < 0 ? [part, ''] : [part.slice(0, colon), part.slice(colon + 1)];
  switch (kind) {
    case 'address':
      return readAddress;
    case 'principal':
      return readSubject;
    case 'consumer':
      return readConsumer;
    case 'apiKey':
      return readApiKey;
    case 'operation': {
      const value = tagged('o', `${operation.apiName} ${operation.method} ${operation.template}`);
      return () => value;
    }
    case 'header':
      return headerReader(name.toLowerCase());
    case 'param':
      return (ctx) => tagged('q', ctx.route?.params[name] ?? '');
    case 'body':
      return (ctx) => tagged('b', boundedValue(readBodyField(ctx, name)));
    default:
      throw new TypeError(`unknown key part "${part}"`);
  }
}

function tagged(tag: string, value: string): string {
  return `${tag}${value.length}:${value}`;
}

function readAddress(ctx: LimitedRequest): string {
  return tagged('a', ctx.journey.clientAddress);
}

function readSubject(ctx: LimitedRequest): string {
  const principal = ctx.principal;
  return principal === null ? readAddress(ctx) : tagged('s', principal.subject);
}

function readConsumer(ctx: LimitedRequest): string {
  const principal = ctx.principal;
  return principal === null ? readAddress(ctx) : tagged('c', principal.consumer);
}

function readApiKey(ctx: LimitedRequest): string {
  const credential = ctx.principal?.credential;
  return credential?.kind === 'api-key' ? tagged('k', credential.id) : readAddress(ctx);
}

function headerReader(name: string): PartReader {
  return function readHeader(ctx) {
    const value = ctx.req.headers[name];
    if (value === undefined) return 'h0:';
    return tagged('h', boundedValue(Array.isArray(value) ? value.join(',') : value));
  };
}

/** A missing header or field is one shared bucket: leaving it out never escapes the limit. */
export function boundedValue(value: string): string {
  if (value.length <= MAX_RAW_VALUE) return value;
  return '#' + createHash('sha256').update(value).digest('base64url');
}
