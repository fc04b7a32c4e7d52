import type { Logger } from 'pino';
import type { MonitoringConfig } from '../config/types.js';
import { errorCatalogue, THREATS, type ErrorCode, type Threat } from '../errors/catalogue.js';
import type { Ban, BanKind, BanList } from './bans.js';
import { AlertSender } from './alerts.js';
import { replaySignals, type SignalBatch } from './detector-signals.js';
import {
  Detectors,
  signalRequest,
  type Detection,
  type DetectorSignals,
  type LoginOutcome,
} from './detectors.js';
import {
  EventLog,
  type EventFields,
  type EventQuery,
  type EventSink,
  type SecurityEvent,
  type SecurityEventType,
} from './events.js';
import { TrafficHistory } from './traffic-history.js';
import { JourneyBuffer, type JourneyRecord } from './journey.js';
import type { JsonLineStream } from './logger.js';
import { GatewayMetrics, type UpstreamState } from './metrics.js';

export interface MonitorOptions {
  readonly config: MonitoringConfig;
  readonly journeyBufferSize: number;
  readonly bans: BanList;
  /** The security-event stream (its own destination). */
  readonly eventLog: JsonLineStream;
  /** The gateway's log, for alert deliveries. */
  readonly logger: Logger;
  readonly upstreams: () => readonly UpstreamState[];
  /** Rate-limit decisions by outcome since the start (src/limits), read when metrics are scraped. */
  readonly limiterDecisions: () => ReadonlyMap<string, number>;
  /**
   * Where this process's security events go instead of its own metrics and event stream: the
   * lead worker of `gatehouse start --workers`, which counts and writes every worker's events.
   * Absent: here.
   */
  readonly forwardEvents?: EventSink;
  /**
   * Where this process's detector signals go instead of its own detectors: to the lead worker,
   * which runs the detectors for every worker (src/observe/detector-signals.ts). Absent: here.
   */
  readonly detectorSignals?: DetectorSignals;
}

/** What one process counted for the summary (Monitor.counts). */
export interface SummaryCounts {
  readonly table: ReturnType<GatewayMetrics['threatTable']>;
  readonly series: ReturnType<TrafficHistory['series']>;
}

/** Adds `part` into `into`, index by index (two series over the same seconds). */
function addInto(into: number[], part: readonly number[]): void {
  for (let i = 0; i < into.length; i += 1) into[i]! += part[i] ?? 0;
}

/** The event a refusal with this code writes; null for outcomes that are no security decision (an upstream down). */
function refusalEventOf(code: ErrorCode): SecurityEventType | null {
  if (code === 'GH_AUTH_UNAUTHENTICATED') return 'auth.refused';
  if (code === 'GH_AUTH_FORBIDDEN' || code === 'GH_OBJECT_NOT_FOUND') return 'access.forbidden';
  if (code === 'GH_ACCESS_BANNED') return 'access.banned';
  if (code === 'GH_ROUTE_NOT_FOUND' || code === 'GH_ROUTE_METHOD_NOT_ALLOWED') return 'route.refused';
  if (code.startsWith('GH_LIMIT_') || code === 'GH_OVERLOADED') return 'limit.refused';
  if (code.startsWith('GH_VALIDATE_') || code === 'GH_ROUTE_BAD_PATH') return 'validation.refused';
  if (code.startsWith('GH_TRANSPORT_')) return 'transport.refused';
  if (errorCatalogue[code].threat === 'information-leakage') return 'response.replaced';
  return null;
}

/** Codes that stop a threat: what the dashboard and `gatehouse_refusals_total` count as refused. */
const REFUSES: ReadonlySet<string> = new Set(
  (Object.keys(errorCatalogue) as ErrorCode[]).filter((code) => errorCatalogue[code].threat !== null),
);

/** The dashboard's chart spans five minutes. */
const SUMMARY_SECONDS = 300;
/** Entries in each of the summary's top lists. */
const TOP = 10;
const EVERY_EVENT: EventQuery = {
  after: null,
  before: null,
  since: null,
  types: null,
  address: null,
  consumer: null,
  limit: 0,
};
const DETECTIONS: ReadonlySet<SecurityEventType> = new Set(['detector.fired']);

export interface MonitorSummary {
  readonly time: string;
  readonly totals: { readonly requests: number; readonly refused: number; readonly served: number };
  readonly threats: Readonly<Record<Threat, number>>;
  readonly series: ReturnType<TrafficHistory['series']>;
  /** Among the refusals still in the event buffer. */
  readonly topRefused: { readonly addresses: TopEntry[]; readonly consumers: TopEntry[] };
  /** The newest detections, newest first. */
  readonly detections: SecurityEvent[];
  readonly bans: number;
  readonly lastEventId: number;
}

export interface TopEntry {
  readonly value: string;
  readonly count: number;
}

/** The `TOP` values `pick` gives most often, most first (ties: the one met first, the newest). */
function top(events: readonly SecurityEvent[], pick: (event: SecurityEvent) => string | null): TopEntry[] {
  const counts = new Map<string, number>();
  for (const event of events) {
    const value = pick(event);
    if (value !== null) counts.set(value, (counts.get(value) ?? 0) + 1);
  }
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .slice(0, TOP)
    .map(([value, count]) => ({ value, count }));
}

const REFUSAL_EVENTS: ReadonlyMap<string, SecurityEventType | null> = new Map(
  (Object.keys(errorCatalogue) as ErrorCode[]).map((code) => [code, refusalEventOf(code)]),
);
/** Refusals of what a client sent (a replaced upstream answer is not the client's doing). */
const REFUSAL_TYPES: ReadonlySet<SecurityEventType> = new Set(
  [...REFUSAL_EVENTS.values()].filter(
    (type): type is SecurityEventType => type !== null && type !== 'response.replaced',
  ),
);

/**
 * The monitoring layer of one gateway: every finished request goes through `request`, which
 * keeps its journey, counts it, writes the security event its outcome calls for, and hands it
 * to the detectors. A detection writes `detector.fired` and, unless its detector is in shadow
 * mode, takes its actions: a ban (through the BanList, shared by every replica when Redis is
 * configured) and an alert (the webhook). Served requests cost a journey push and a few map
 * lookups; events are written only for decisions.
 */
export class Monitor {
  readonly journeys: JourneyBuffer;
  readonly events: EventLog;
  readonly metrics: GatewayMetrics;
  readonly bans: BanList;
  /** Requests and refusals per second, for the dashboard's chart. */
  readonly history = new TrafficHistory();
  /** What this process's detectors count: its own, or the lead's through a queue. */
  readonly #detectors: DetectorSignals;
  readonly #alerts: AlertSender | null;
  readonly #eventLog: JsonLineStream;
  readonly #enabled: boolean;

  constructor(options: MonitorOptions) {
    const { config } = options;
    this.journeys = new JourneyBuffer(options.journeyBufferSize);
    this.events = new EventLog(config.events.bufferSize);
    this.bans = options.bans;
    this.metrics = new GatewayMetrics({
      bans: options.bans,
      upstreams: options.upstreams,
      limiterDecisions: options.limiterDecisions,
    });
    this.#eventLog = options.eventLog;
    this.#enabled = config.enabled;
    this.#alerts = config.alerts === null ? null : new AlertSender(config.alerts, options.logger);
    this.#detectors =
      options.detectorSignals ?? new Detectors(config.detectors, (detection) => this.#detected(detection));
    if (options.forwardEvents !== undefined) {
      this.events.subscribe(options.forwardEvents);
    } else {
      this.events.subscribe((event) => this.metrics.observeEvent(event));
      this.events.subscribe((event) => this.#eventLog.write(event));
    }
  }

  /**
   * One finished request: `operation` is the compiled operation it was routed to, or null; the
   * rest as signalRequest takes them.
   */
  request(
    operation: object | null,
    journey: JourneyRecord,
    login: LoginOutcome = null,
    username: string | null = null,
    probedPath: string | null = null,
  ): void {
    this.journeys.push(journey);
    if (!this.#enabled) return;
    this.metrics.observeRequest(operation, journey);
    const code = journey.code;
    this.history.count(journey.startedAt, code !== null && REFUSES.has(code));
    if (code !== null) {
      const type = REFUSAL_EVENTS.get(code);
      if (type !== undefined && type !== null) this.#emitFor(type, journey);
    } else if (journey.contract !== null) {
      this.#emitFor('response.filtered', journey);
    }
    if (login === 'failure' && code === null) this.#emitFor('login.failed', journey, username);
    signalRequest(this.#detectors, journey, login, username, probedPath);
  }

  /** Another worker's detector signals, for the detectors here (the lead's); none while monitoring is off. */
  replaySignals(batch: SignalBatch): void {
    if (this.#enabled) replaySignals(batch, this.#detectors);
  }

  /** A credential found in a plaintext request on the TLS port: exposed. */
  exposedCredential(journey: JourneyRecord, keyId: string | null, kind: string): void {
    if (!this.#enabled) return;
    this.events.emit('credential.exposed', {
      requestId: journey.requestId,
      address: journey.clientAddress,
      credentialId: keyId,
      reason: `${kind} sent over plaintext HTTP: treat it as exposed and rotate it`,
      data: { kind },
    });
    this.#detectors.plaintextCredential(journey.clientAddress, keyId, journey.requestId, journey.startedAt);
  }

  emit(type: SecurityEventType, fields: EventFields): SecurityEvent {
    return this.events.emit(type, fields);
  }

  /** Sets a ban and writes its event (none when a longer ban on the target already stands). */
  ban(kind: BanKind, value: string, durationMs: number, reason: string, source: string): Ban {
    const { ban, changed } = this.bans.ban(kind, value, durationMs, reason, source);
    if (!changed) return ban;
    this.events.emit('ban.set', {
      address: kind === 'address' ? ban.value : null,
      consumer: kind === 'consumer' ? ban.value : null,
      credentialId: kind === 'key' ? ban.value : null,
      reason,
      data: {
        banId: ban.id,
        kind,
        value: ban.value,
        source,
        expiresAt: new Date(ban.expiresAt).toISOString(),
      },
    });
    return ban;
  }

  /** Lifts a ban and writes its event; null when there is no such ban. */
  lift(id: string, by: string): Ban | null {
    const ban = this.bans.lift(id);
    if (ban === null) return null;
    this.events.emit('ban.lifted', {
      address: ban.kind === 'address' ? ban.value : null,
      consumer: ban.kind === 'consumer' ? ban.value : null,
      credentialId: ban.kind === 'key' ? ban.value : null,
      reason: `lifted by ${by}`,
      data: { banId: ban.id, kind: ban.kind, value: ban.value },
    });
    return ban;
  }

  /** What the dashboard shows at a glance (`GET /summary`): totals, the threat table, the last five minutes, who is refused. */
  summary(now = Date.now()): MonitorSummary {
    const table = this.metrics.threatTable();
    const refusals = this.events.query({ ...EVERY_EVENT, types: REFUSAL_TYPES, limit: this.events.capacity });
    const detections = this.events.query({ ...EVERY_EVENT, types: DETECTIONS, limit: 20 });
    return {
      time: new Date(now).toISOString(),
      totals: { requests: table.requests, refused: table.refused, served: table.requests - table.refused },
      threats: table.threats,
      series: this.history.series(now, SUMMARY_SECONDS),
      topRefused: {
        addresses: top(refusals.events, (event) => event.address),
        consumers: top(refusals.events, (event) => event.consumer),
      },
      detections: detections.events,
      bans: this.bans.size,
      lastEventId: this.events.lastId,
    };
  }

  /** What this process counted of the summary: added up over the workers of one gateway. */
  counts(now: number): SummaryCounts {
    return { table: this.metrics.threatTable(), series: this.history.series(now, SUMMARY_SECONDS) };
  }

  /**
   * The summary of a gateway of several workers, asked of the lead (which holds every worker's
   * security events and bans): the request counts and the chart added up over `counts`, one per
   * worker, the lead's own among them, all taken at `now`.
   */
  wholeSummary(now: number, counts: readonly SummaryCounts[]): MonitorSummary {
    const summary = this.summary(now);
    const threats = Object.fromEntries(THREATS.map((threat) => [threat, 0])) as Record<Threat, number>;
    const series = {
      ...summary.series,
      requests: summary.series.requests.map(() => 0),
      refused: summary.series.refused.map(() => 0),
    };
    let requests = 0;
    let refused = 0;
    for (const part of counts) {
      requests += part.table.requests;
      refused += part.table.refused;
      for (const threat of THREATS) threats[threat] += part.table.threats[threat] ?? 0;
      addInto(series.requests, part.series.requests);
      addInto(series.refused, part.series.refused);
    }
    return { ...summary, totals: { requests, refused, served: requests - refused }, threats, series };
  }

  /** Reopens the security-event file (after log rotation). */
  reopenEventLog(): Promise<void> {
    return this.#eventLog.reopen();
  }

  async close(): Promise<void> {
    await this.#alerts?.close();
    this.#eventLog.close();
  }

  #emitFor(type: SecurityEventType, journey: JourneyRecord, username: string | null = null): void {
    const data: Record<string, string | number | null> = {
      status: journey.status,
      stage: journey.decidedBy,
      threat: journey.code === null ? null : errorCatalogue[journey.code as ErrorCode].threat,
    };
    if (username !== null) data.username = username;
    this.events.emit(type, {
      requestId: journey.requestId,
      address: journey.clientAddress,
      consumer: journey.consumer,
      credentialId: journey.credentialId,
      api: journey.api,
      operation: journey.route,
      code: journey.code,
      reason: type === 'response.filtered' ? journey.contract!.join('; ') : journey.reason,
      data,
    });
  }

  #detected(detection: Detection): void {
    this.metrics.observeDetector(detection.detector, detection.shadow);
    const actions: string[] = [];
    if (!detection.shadow && detection.ban !== null) actions.push('ban');
    if (!detection.shadow && detection.alert) actions.push('alert');
    const event = this.events.emit('detector.fired', {
      requestId: detection.requestId,
      address: detection.address,
      consumer: detection.consumer,
      reason: `${detection.detector}: ${detection.count} for ${detection.subjectKind} ${detection.subject} within ${detection.windowMs / 1000} s (threshold ${detection.threshold})${detection.shadow ? ' [shadow: no action taken]' : ''}`,
      data: {
        detector: detection.detector,
        subjectKind: detection.subjectKind,
        subject: detection.subject,
        count: detection.count,
        threshold: detection.threshold,
        shadow: detection.shadow,
        actions: actions.join(','),
      },
    });
    if (detection.shadow) return;
    const ban =
      detection.ban === null
        ? null
        : this.ban(
            detection.ban.kind,
            detection.ban.value,
            detection.ban.durationMs,
            `detector ${detection.detector}`,
            `detector:${detection.detector}`,
          );
    if (!detection.alert || this.#alerts === null) return;
    this.#alerts.send({
      detector: detection.detector,
      subjectKind: detection.subjectKind,
      subject: detection.subject,
      count: detection.count,
      threshold: detection.threshold,
      windowMs: detection.windowMs,
      banId: ban?.id ?? null,
      eventId: event.id,
      time: event.time,
    });
  }
}
