import { resolvePath, type LoadContext } from './files.js';
import type { ConfigFile } from './schema.js';
import type { TlsMaterial } from './tls-material.js';
import type { GatehouseConfig } from './types.js';

/**
 * Assembles the final configuration from a file that passed every check: paths made absolute,
 * TLS settings replaced by their PEM contents.
 */
export function buildConfig(file: ConfigFile, tls: TlsMaterial, ctx: LoadContext): GatehouseConfig {
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
      basePath: api.basePath,
      upstream: { ...api.upstream, tls: required(tls.upstreams.get(i), `apis[${i}].upstream.tls`) },
    })),
    log: {
      ...file.log,
      destination: isStandardStream(file.log.destination)
        ? file.log.destination
        : resolvePath(ctx, file.log.destination),
    },
    journeyBufferSize: file.journeyBufferSize,
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
