/** Test support for the detector tests (not imported by the gateway): detector settings as loaded. */
import type { DetectorConfig, DetectorsConfig } from '../config/types.js';

/** A detector that is on, fires at `threshold` within a minute, and bans for ten minutes. */
export const detectorOn = (
  threshold: number,
  actions: DetectorConfig['actions'] = ['ban', 'alert'],
): DetectorConfig => ({
  enabled: true,
  shadow: false,
  threshold,
  windowMs: 60_000,
  actions,
  banMs: 600_000,
});

/** Every detector on at a small threshold, with `overrides`. */
export function detectorsConfig(overrides: Partial<DetectorsConfig> = {}): DetectorsConfig {
  return {
    failedLoginsPerAddress: detectorOn(3),
    failedLoginsPerUsername: detectorOn(3, ['alert']),
    credentialStuffing: detectorOn(3),
    enumeration: detectorOn(3),
    keyManyAddresses: detectorOn(3),
    plaintextCredential: detectorOn(1),
    upstreamErrors: detectorOn(50, ['alert']),
    upstreamErrorsMinRequests: 4,
    maxTracked: 100,
    ...overrides,
  };
}
