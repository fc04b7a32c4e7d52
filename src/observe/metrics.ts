import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { errorCatalogue, THREATS, type ErrorCode, type Threat } from '../errors/catalogue.js';
import type { BanList } from './bans.js';
import type { SecurityEvent } from './events.js';
import type { JourneyRecord } from './journey.js';
import {
  DURATION_BUCKETS,
  RequestSeriesTable,
  type HistogramCells,
  type OperationSeries,
} from './request-series.js';

/** Distinct consumer/credential label sets kept; beyond it they are counted under "other". */
export const MAX_CREDENTIAL_SERIES = 1000;

export interface UpstreamState {
  readonly api: string;
  readonly open: number;
  readonly idle: number;
  readonly waiting: number;
  /** The last readiness probe: true reachable, false not, null not probed yet. */
  readonly reachable: boolean | null;
}

export interface MetricsSources {
  readonly bans: BanList;
  readonly upstreams: () => readonly UpstreamState[];
  readonly limiterDecisions: () => ReadonlyMap<string, number>;
}

const GAUGES_NAMED_LIKE_COUNTERS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

type Sample = { labels: Record<string, string | number>; value: number; metricName?: string };

/**
 * The gateway's Prometheus metrics (prom-client registry, text format 0.0.4). Per-request work
 * is a few map lookups into counters the gateway owns (RequestSeriesTable); prom-client reads
 * them when scraped, as it reads the process defaults and the event-loop delay.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  readonly #requests = new RequestSeriesTable();
  readonly #credentials = new Map<string, Map<string, { consumer: string; id: string; n: number }>>();
  #credentialSeries = 0;
  readonly #events = new Map<string, number>();
  readonly #detectors = new Map<string, number>();

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    // Gauges named like counters break the naming rules promtool checks; their per-type
    // breakdowns (nodejs_active_handles, nodejs_active_requests, nodejs_active_resources) stay.
    for (const name of GAUGES_NAMED_LIKE_COUNTERS) this.registry.removeSingleMetric(name);
    this.registry.registerMetric(this.#requestsMetric() as never);
    this.registry.registerMetric(
      histogram(
        'gatehouse_request_duration_seconds',
        'Time from the request line to the end of the response, by operation.',
        this.#requests,
        (s) => s.duration,
      ) as never,
    );
    this.registry.registerMetric(
      histogram(
        'gatehouse_upstream_duration_seconds',
        "Time from forwarding to the upstream's status line, by operation.",
        this.#requests,
        (s) => s.upstream,
      ) as never,
    );
    const requests = this.#requests;
    new Counter({
      name: 'gatehouse_refusals_total',
      help: "Requests refused, by the threat of the lesson's table the refusal stopped and its code.",
      labelNames: ['threat', 'code'],
      registers,
      collect() {
        this.reset();
        for (const [code, n] of refusalsByCode(requests)) {
          const threat = errorCatalogue[code].threat;
          if (threat !== null) this.inc({ threat, code }, n);
        }
      },
    });
    new Counter({
      name: 'gatehouse_response_filtered_total',
      help: 'Upstream responses sent with undeclared properties removed (information leakage stopped).',
      labelNames: ['api', 'operation', 'method'],
      registers,
      collect() {
        this.reset();
        for (const s of requests.series()) {
          if (s.filtered > 0) this.inc({ api: s.api, operation: s.operation, method: s.method }, s.filtered);
        }
      },
    });
    const limiterDecisions = sources.limiterDecisions;
    new Counter({
      name: 'gatehouse_limiter_decisions_total',
      help: 'Rate-limit decisions by outcome (admitted, refused, delayed, shadow: a shadow policy would have refused, fallback: decided without the shared store).',
      labelNames: ['outcome'],
      registers,
      collect() {
        this.reset();
        for (const [outcome, n] of limiterDecisions()) this.inc({ outcome }, n);
      },
    });
    const credentials = this.#credentials;
    new Counter({
      name: 'gatehouse_credential_requests_total',
      help: `Authenticated requests by consumer and credential (API key or client id; tokens by consumer only), at most ${MAX_CREDENTIAL_SERIES} series.`,
      labelNames: ['consumer', 'kind', 'credential_id'],
      registers,
      collect() {
        this.reset();
        for (const [kind, byId] of credentials) {
          for (const cell of byId.values())
            this.inc({ consumer: cell.consumer, kind, credential_id: cell.id }, cell.n);
        }
      },
    });
    const events = this.#events;
    new Counter({
      name: 'gatehouse_security_events_total',
      help: 'Security events written, by type.',
      labelNames: ['type'],
      registers,
      collect() {
        this.reset();
        for (const [type, n] of events) this.inc({ type }, n);
      },
    });
    const detectors = this.#detectors;
    new Counter({
      name: 'gatehouse_detector_firings_total',
      help: 'Detector firings, by detector and whether it was in shadow mode.',
      labelNames: ['detector', 'shadow'],
      registers,
      collect() {
        this.reset();
        for (const [key, n] of detectors) {
          const [detector, shadow] = key.split('\u0000') as [string, string];
          this.inc({ detector, shadow }, n);
        }
      },
    });
    new Gauge({
      name: 'gatehouse_bans_active',
      help: 'Bans in force, by kind.',
      labelNames: ['kind'],
      registers,
      // Every worker of a gateway holds the same bans: the whole gateway's count is any one's.
      aggregator: 'max',
      collect() {
        this.reset();
        for (const kind of ['address', 'consumer', 'key']) this.set({ kind }, 0);
        for (const ban of sources.bans.list()) this.inc({ kind: ban.kind });
      },
    });
    new Gauge({
      name: 'gatehouse_upstream_connections',
      help: 'Connections open to each upstream, by state (busy or idle).',
      labelNames: ['api', 'state'],
      registers,
      collect() {
        this.reset();
        for (const u of sources.upstreams()) {
          this.set({ api: u.api, state: 'busy' }, u.open - u.idle);
          this.set({ api: u.api, state: 'idle' }, u.idle);
        }
      },
    });
    new Gauge({
      name: 'gatehouse_upstream_waiting_requests',
      help: 'Requests waiting for a free connection to each upstream.',
      labelNames: ['api'],
      registers,
      collect() {
        this.reset();
        for (const u of sources.upstreams()) this.set({ api: u.api }, u.waiting);
      },
    });
    new Gauge({
      name: 'gatehouse_upstream_up',
      help: '1 when the last readiness probe reached the upstream (TLS handshake), 0 when it did not.',
      labelNames: ['api'],
      registers,
      // Each worker probes on its own: across workers, up only when every one reached it.
      aggregator: 'min',
      collect() {
        this.reset();
        for (const u of sources.upstreams())
          if (u.reachable !== null) this.set({ api: u.api }, u.reachable ? 1 : 0);
      },
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** One finished request. `operation` is the compiled operation it was routed to, or null. */
  observeRequest(operation: object | null, journey: JourneyRecord): void {
    this.#requests.observe(operation, journey);
    const kind = journey.credentialKind;
    if (kind !== null) this.#countCredential(kind, journey);
  }

  observeEvent(event: SecurityEvent): void {
    this.#events.set(event.type, (this.#events.get(event.type) ?? 0) + 1);
  }

  observeDetector(detector: string, shadow: boolean): void {
    const key = `${detector}\u0000${shadow}`;
    this.#detectors.set(key, (this.#detectors.get(key) ?? 0) + 1);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  /**
   * For the dashboard: requests so far, how many the gateway refused (a refusal whose code stops a
   * threat: `gatehouse_refusals_total`), and per threat of the lesson's table how many it stopped
   * (those refusals, and for information leakage also the responses it cut undeclared properties from).
   */
  threatTable(): { requests: number; refused: number; threats: Record<Threat, number> } {
    const threats = Object.fromEntries(THREATS.map((threat) => [threat, 0])) as Record<Threat, number>;
    let requests = 0;
    let refused = 0;
    for (const s of this.#requests.series()) {
      threats['information-leakage'] += s.filtered;
      for (const [status, byStage] of s.outcomes) {
        for (const byCode of byStage.values()) {
          for (const [code, cell] of byCode) {
            requests += cell.n;
            if (code === '' || status < 400) continue;
            // A refusal stops a threat; an upstream that is down or a fault of the gateway stops none.
            const threat = errorCatalogue[code as ErrorCode]?.threat ?? null;
            if (threat === null) continue;
            refused += cell.n;
            threats[threat] += cell.n;
          }
        }
      }
    }
    return { requests, refused, threats };
  }

  #countCredential(kind: string, journey: JourneyRecord): void {
    let byId = this.#credentials.get(kind);
    if (byId === undefined) this.#credentials.set(kind, (byId = new Map()));
    // A token's id is new for every token: tokens are counted by consumer.
    const id = kind === 'jwt' ? '' : (journey.credentialId ?? '');
    const key = kind === 'jwt' ? (journey.consumer ?? '') : id;
    const cell = byId.get(key);
    if (cell !== undefined) {
      cell.n += 1;
      return;
    }
    if (this.#credentialSeries >= MAX_CREDENTIAL_SERIES) {
      const other = byId.get('\u0000other');
      if (other !== undefined) other.n += 1;
      else byId.set('\u0000other', { consumer: 'other', id: 'other', n: 1 });
      return;
    }
    this.#credentialSeries += 1;
    byId.set(key, { consumer: journey.consumer ?? '', id, n: 1 });
  }

  #requestsMetric(): object {
    const requests = this.#requests;
    const name = 'gatehouse_requests_total';
    const help =
      'Requests by API, operation (route template), method, status, and the stage and code that decided.';
    return {
      name,
      help,
      type: 'counter',
      aggregator: 'sum',
      get() {
        const values: Sample[] = [];
        for (const s of requests.series()) {
          for (const [status, byStage] of s.outcomes) {
            for (const [stage, byCode] of byStage) {
              for (const [code, cell] of byCode) {
                values.push({ labels: { ...labelsOf(s), status, stage, code }, value: cell.n });
              }
            }
          }
        }
        return { name, help, type: 'counter', aggregator: 'sum', values };
      },
    };
  }
}

function labelsOf(s: OperationSeries): Record<string, string> {
  return { api: s.api, operation: s.operation, method: s.method };
}

/** A histogram prom-client formats from cells the gateway fills (prom-client's own hashes labels per call). */
function histogram(
  name: string,
  help: string,
  requests: RequestSeriesTable,
  cells: (s: OperationSeries) => HistogramCells,
): object {
  return {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    get() {
      const values: Sample[] = [];
      for (const s of requests.series()) {
        const h = cells(s);
        if (h.count === 0) continue;
        const labels = labelsOf(s);
        let cumulative = 0;
        for (let i = 0; i < DURATION_BUCKETS.length; i += 1) {
          cumulative += h.counts[i]!;
          values.push({
            labels: { ...labels, le: DURATION_BUCKETS[i]! },
            value: cumulative,
            metricName: `${name}_bucket`,
          });
        }
        values.push({ labels: { ...labels, le: '+Inf' }, value: h.count, metricName: `${name}_bucket` });
        values.push({ labels, value: h.sum, metricName: `${name}_sum` });
        values.push({ labels, value: h.count, metricName: `${name}_count` });
      }
      return { name, help, type: 'histogram', aggregator: 'sum', values };
    },
  };
}

function refusalsByCode(requests: RequestSeriesTable): Map<ErrorCode, number> {
  const totals = new Map<ErrorCode, number>();
  for (const s of requests.series()) {
    for (const byStage of s.outcomes.values()) {
      for (const byCode of byStage.values()) {
        for (const [code, cell] of byCode) {
          if (code === '' || !(code in errorCatalogue)) continue;
          totals.set(code as ErrorCode, (totals.get(code as ErrorCode) ?? 0) + cell.n);
        }
      }
    }
  }
  return totals;
}
