import { configDefaults as d } from './defaults.js';
import type { LimitsConfig, LogConfig, UpstreamConfig } from './types.js';

/**
 * The JSON Schema (draft 2020-12) of the YAML configuration file. Every object is closed
 * (`additionalProperties: false`) so a misspelt key is an error, never a silently ignored setting.
 *
 * Two annotation keywords, read by the issue translator (ajv-issues.ts), make messages useful:
 * - `hint`: what to write instead, shown when a value is refused (pattern, const, enum, length);
 * - `examples`: a sample value, shown when a required key is missing.
 *
 * What a schema cannot say (https-only upstreams, unique names, files that exist, secret
 * references) is checked after it, in checks.ts and secrets.ts.
 */

const positiveInt = (fallback: number) => ({ type: 'integer', minimum: 1, default: fallback }) as const;
// Minimum 1: in node:http and undici a 0 disables the timeout, which invites slow-client attacks.
const timeoutMs = (fallback: number) =>
  ({ ...positiveInt(fallback), hint: 'give milliseconds; a timeout cannot be disabled' }) as const;

const nameHint = 'use 1 to 63 letters, digits, ".", "_" or "-", starting with a letter or digit';
const pathField = { type: 'string', minLength: 1, hint: 'give a file path' } as const;
const secretField = {
  type: 'string',
  minLength: 1,
  examples: ['file:./tls/key.pem'],
  hint: 'write env:NAME (an environment variable) or file:PATH (a file holding the PEM key)',
} as const;

const serverTlsHint = 'write tls: dev for development certificates, or a mapping with cert and key';
const serverTls = {
  type: ['string', 'object'],
  examples: ['dev'],
  hint: serverTlsHint,
  if: { type: 'string' },
  then: { const: 'dev', hint: serverTlsHint },
  else: {
    type: 'object',
    required: ['cert', 'key'],
    additionalProperties: false,
    properties: { cert: pathField, key: secretField, ca: pathField },
  },
} as const;

const upstreamTlsHint = 'write tls: dev for the development CA, or a mapping with ca, cert, key, serverName';
const upstreamTls = {
  type: ['string', 'object'],
  default: {},
  hint: upstreamTlsHint,
  if: { type: 'string' },
  then: { const: 'dev', hint: upstreamTlsHint },
  else: {
    type: 'object',
    additionalProperties: false,
    // Mutual TLS needs the certificate and its key together (RFC 8446 §4.4.2).
    dependentRequired: { cert: ['key'], key: ['cert'] },
    properties: {
      ca: pathField,
      cert: pathField,
      key: secretField,
      serverName: {
        type: 'string',
        pattern: '^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$',
        hint: 'give the DNS name in the upstream certificate, e.g. bank.internal',
      },
    },
  },
} as const;

const listener = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'port', 'tls'],
  properties: {
    name: {
      type: 'string',
      pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$',
      hint: nameHint,
      examples: ['public'],
    },
    host: { type: 'string', minLength: 1, maxLength: 253, default: d.listener.host },
    port: { type: 'integer', minimum: 0, maximum: 65_535, examples: [8443] },
    tls: serverTls,
  },
} as const;

const limits = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    maxHeaderBytes: positiveInt(d.limits.maxHeaderBytes),
    maxBodyBytes: positiveInt(d.limits.maxBodyBytes),
    maxPathBytes: positiveInt(d.limits.maxPathBytes),
    headersTimeoutMs: timeoutMs(d.limits.headersTimeoutMs),
    requestTimeoutMs: timeoutMs(d.limits.requestTimeoutMs),
    idleTimeoutMs: timeoutMs(d.limits.idleTimeoutMs),
    maxConnections: positiveInt(d.limits.maxConnections),
  },
} as const;

const upstream = {
  type: 'object',
  additionalProperties: false,
  required: ['url'],
  properties: {
    url: { type: 'string', minLength: 1, examples: ['https://127.0.0.1:8444'] },
    tls: upstreamTls,
    connectTimeoutMs: timeoutMs(d.upstream.connectTimeoutMs),
    responseTimeoutMs: timeoutMs(d.upstream.responseTimeoutMs),
    maxResponseBytes: positiveInt(d.upstream.maxResponseBytes),
    connections: positiveInt(d.upstream.connections),
  },
} as const;

const api = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'openapi', 'upstream'],
  properties: {
    name: {
      type: 'string',
      pattern: '^[a-z][a-z0-9-]{0,62}$',
      hint: 'use 1 to 63 lowercase letters, digits or "-", starting with a letter, e.g. bank',
      examples: ['bank'],
    },
    openapi: { ...pathField, examples: ['./openapi.yaml'] },
    basePath: {
      type: 'string',
      pattern: '^/$|^(/[^/?#\\s]+)+$',
      default: d.api.basePath,
      hint: 'start with "/" and end without one, e.g. /bank (or / for the root)',
    },
    upstream,
  },
} as const;

const log = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    level: { enum: ['debug', 'info', 'warn', 'error'], default: d.log.level },
    access: { type: 'boolean', default: d.log.access },
    destination: {
      type: 'string',
      minLength: 1,
      default: d.log.destination,
      hint: 'write stdout, stderr or a file path',
    },
  },
} as const;

export const configSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://gatehouse.dev/schemas/config.json',
  type: 'object',
  additionalProperties: false,
  required: ['listeners', 'apis'],
  properties: {
    stateDir: { type: 'string', minLength: 1, default: d.stateDir },
    listeners: { type: 'array', minItems: 1, items: listener, hint: 'declare at least one listener' },
    limits,
    apis: { type: 'array', minItems: 1, items: api, hint: 'declare at least one API' },
    log,
    journeyBufferSize: { type: 'integer', minimum: 0, maximum: 100_000, default: d.journeyBufferSize },
  },
} as const;

/** The YAML file's shape once it has passed `configSchema`, defaults filled in (paths not yet resolved). */
export interface ConfigFile {
  readonly stateDir: string;
  readonly listeners: readonly ListenerEntry[];
  readonly limits: LimitsConfig;
  readonly apis: readonly ApiEntry[];
  readonly log: LogConfig;
  readonly journeyBufferSize: number;
}

export interface ListenerEntry {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly tls: 'dev' | { readonly cert: string; readonly key: string; readonly ca?: string };
}

export interface ApiEntry {
  readonly name: string;
  readonly openapi: string;
  readonly basePath: string;
  readonly upstream: Omit<UpstreamConfig, 'tls'> & {
    readonly tls:
      | 'dev'
      | { readonly ca?: string; readonly cert?: string; readonly key?: string; readonly serverName?: string };
  };
}
