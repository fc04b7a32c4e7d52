import type { KeyLifecycle } from '../auth/keys/lifecycle.js';
import type { Readiness } from '../gateway/readiness.js';
import type { JourneyRecord } from '../observe/journey.js';
import type { Monitor, MonitorSummary } from '../observe/monitor.js';

/** What the admin API drives: the key lifecycle, the monitor (events, journeys, bans) and readiness. */
export interface AdminServices {
  readonly lifecycle: KeyLifecycle;
  readonly monitor: Monitor;
  /** What `GET /readyz` answers. */
  readonly readiness: () => Readiness;
  /**
   * The views of the whole gateway when it runs as several workers (`gatehouse start --workers`):
   * the summary, journeys, metrics and readiness of every worker; absent, this process's serve.
   */
  readonly whole?: WholeGateway;
}

/** The admin's views over every worker of one gateway (src/process/worker.ts). */
export interface WholeGateway {
  summary(): Promise<MonitorSummary>;
  journey(requestId: string): Promise<JourneyRecord | null>;
  /** The Prometheus text of every worker's metrics, added up. */
  metrics(): Promise<string>;
  /** What `GET /readyz` answers for every worker together (from their last reports: no wait). */
  readiness(): Readiness;
}
