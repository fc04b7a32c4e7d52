import { join } from 'node:path';
import { resolvePath, type LoadContext } from './files.js';
import type { ConfigFile } from './schema.js';
import type { KeysAdminSecrets, KeysStoreUrls } from './keys-admin.js';
import type { TlsMaterial } from './tls-material.js';
import type { AdminConfig, GatehouseConfig, KeysConfig, UpstreamConfig, UpstreamTls } from './types.js';
import { configDefaults } from './defaults.js';
import { buildAuthConfig, type AuthMaterial } from './auth-material.js';
import { buildMonitoringConfig } from './monitoring-build.js';
import type { MonitoringSecrets } from './monitoring-material.js';

const NO_MONITORING_SECRETS: MonitoringSecrets = { scrapeToken: null, alertSecret: null, alertCa: null };

/**
 * Assembles the final configuration from a file that passed every check: paths made absolute,
 * TLS settings replaced by their PEM contents.
 */
export function buildConfig(
  file: ConfigFile,
  tls: TlsMaterial,
  ctx: LoadContext,
  keysAdmin: KeysAdminSecrets,
  auth: AuthMaterial,
  limitsRedisUrl: string | null = null,
  monitoringSecrets: MonitoringSecrets = NO_MONITORING_SECRETS,
): GatehouseConfig {
  const stateDir = resolvePath(ctx, file.stateDir);
  return {
    stateDir: resolvePath(ctx, file.stateDir),
    listeners: file.listeners.map((listener, i) => ({
      name: listener.name,
      host: listener.host,
      port: listener.port,
      tls: required(tls.listeners.get(i), `listeners[${i}].tls`),
    })),
    limits: { ...file.limits },
    apis: file.apis.map((api, i) => ({
      name: api.name,
      openapi: resolvePath(ctx, api.openapi),
      ...(api.overlays === undefined ? {} : { overlays: api.overlays.map((path) => resolvePath(ctx, path)) }),
      ...(api.defaultSecurity === undefined ? {} : { defaultSecurity: api.defaultSecurity }),
      basePath: api.basePath,
      upstream: buildUpstream(api.upstream, tls.upstreams.get(i), ctx, `apis[${i}].upstream.tls`),
      ...(api.responseContract === undefined ? {} : { responseContract: api.responseContract }),
      ...(api.forwardCredentials === undefined ? {} : { forwardCredentials: api.forwardCredentials }),
    })),
    log: {
      ...file.log,
      destination: isStandardStream(file.log.destination)
        ? file.log.destination
        : resolvePath(ctx, file.log.destination),
    },
    journeyBufferSize: file.journeyBufferSize,
    keys: buildKeysConfig(file, stateDir, ctx, keysAdmin),
    admin: buildAdminConfig(file, keysAdmin),
    auth: buildAuthConfig(file.auth, auth),
    redis:
      file.redis === undefined || limitsRedisUrl === null ? null : { ...file.redis, url: limitsRedisUrl },
    rateLimits: file.rateLimits,
    preAuthLimit: file.preAuthLimit,
    concurrency: file.concurrency,
    validation: file.validation,
    cors: file.cors ?? null,
    monitoring: buildMonitoringConfig(file.monitoring, stateDir, ctx, monitoringSecrets),
  };
}

function buildUpstream(
  upstream: ConfigFile['apis'][number]['upstream'],
  tls: UpstreamTls | undefined,
  ctx: LoadContext,
  at: string,
): UpstreamConfig {
  const { socket, ...rest } = upstream;
  const plain = new URL(upstream.url).protocol === 'http:';
  return {
    ...rest,
    socketPath: socket === undefined ? null : resolvePath(ctx, socket),
    tls: plain ? null : required(tls, at),
  };
}

export function buildKeysConfig(
  file: ConfigFile,
  stateDir: string,
  ctx: LoadContext,
  secrets: KeysStoreUrls,
): KeysConfig {
  const { store, sync, lastUsedFlushMs } = file.keys;
  const redisUrl = secrets.redisUrl;
  const common = { sync: { redisUrl, pollMs: sync.pollMs }, lastUsedFlushMs };
  if (store.postgres !== undefined) {
    const url = required(secrets.postgresUrl ?? undefined, 'keys.store.postgres.url');
    return { store: { kind: 'postgres', url, schema: store.postgres.schema }, ...common };
  }
  const path = store.sqlite?.path;
  const sqlitePath =
    path === undefined ? join(stateDir, configDefaults.keys.sqliteFile) : resolvePath(ctx, path);
  return { store: { kind: 'sqlite', path: sqlitePath }, ...common };
}

function buildAdminConfig(file: ConfigFile, secrets: KeysAdminSecrets): AdminConfig | null {
  if (file.admin === undefined) return null;
  return {
    host: file.admin.host,
    port: file.admin.port,
    token: required(secrets.adminToken ?? undefined, 'admin.token'),
    tls: required(secrets.adminTls ?? undefined, 'admin.tls'),
  };
}

function isStandardStream(destination: string): boolean {
  return destination === 'stdout' || destination === 'stderr';
}

/** The checks guarantee presence; a miss is a bug in this folder, not a user error. */
function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`config loader bug: ${what} was not resolved`);
  return value;
}

/** Freezes an object graph so that nothing can change the configuration after start-up. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
