import { join } from 'node:path';
import { configDefaults } from './defaults.js';
import { parseDuration } from './duration.js';
import { resolvePath, type LoadContext } from './files.js';
import type { MonitoringSecrets } from './monitoring-material.js';
import type { MonitoringEntry } from './monitoring-schema.js';
import type { DetectorConfig, MonitoringConfig } from './types.js';

function detector(entry: MonitoringEntry['detectors']['failedLoginsPerAddress']): DetectorConfig {
  return {
    enabled: entry.enabled,
    shadow: entry.shadow,
    threshold: entry.threshold,
    windowMs: parseDuration(entry.window),
    actions: entry.actions,
    banMs: parseDuration(entry.banFor),
  };
}

/** `monitoring:` with durations in ms, the events file resolved and the secrets read. */
export function buildMonitoringConfig(
  entry: MonitoringEntry,
  stateDir: string,
  ctx: LoadContext,
  secrets: MonitoringSecrets,
): MonitoringConfig {
  const destination = entry.events.destination;
  const d = entry.detectors;
  const webhook = entry.alerts?.webhook;
  return {
    enabled: entry.enabled,
    scrapeToken: secrets.scrapeToken,
    events: {
      destination:
        destination === undefined
          ? join(stateDir, configDefaults.monitoring.eventsFile)
          : destination === 'stdout' || destination === 'stderr'
            ? destination
            : resolvePath(ctx, destination),
      bufferSize: entry.events.bufferSize,
    },
    probeIntervalMs: parseDuration(entry.probeInterval),
    detectors: {
      failedLoginsPerAddress: detector(d.failedLoginsPerAddress),
      failedLoginsPerUsername: detector(d.failedLoginsPerUsername),
      credentialStuffing: detector(d.credentialStuffing),
      enumeration: detector(d.enumeration),
      keyManyAddresses: detector(d.keyManyAddresses),
      plaintextCredential: detector(d.plaintextCredential),
      upstreamErrors: detector(d.upstreamErrors),
      upstreamErrorsMinRequests: d.upstreamErrors.minRequests,
      maxTracked: d.maxTracked,
    },
    alerts:
      webhook === undefined || secrets.alertSecret === null
        ? null
        : {
            url: webhook.url,
            secret: secrets.alertSecret,
            ca: secrets.alertCa,
            timeoutMs: parseDuration(webhook.timeout),
            retries: webhook.retries,
            maxPerMinute: webhook.maxPerMinute,
            dedupMs: parseDuration(webhook.dedup),
          },
  };
}
