import type { Logger } from 'pino';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { WholeGateway } from '../admin/services.js';
import type { Gateway } from '../gateway/gateway.js';
import { isReadiness, wholeReadiness, type Readiness } from '../gateway/readiness.js';
import { BanList, type Ban } from '../observe/bans.js';
import { SignalQueue, type SignalBatch } from '../observe/detector-signals.js';
import type { SecurityEvent } from '../observe/events.js';
import type { JourneyRecord } from '../observe/journey.js';
import type { SummaryCounts } from '../observe/monitor.js';
import {
  ASK_TIMEOUT_MS,
  isMessage,
  type FromWorker,
  type PeerNote,
  type Question,
  type ToWorker,
  type WorkerRole,
} from './worker-messages.js';
import type { GatehouseOptions } from './gatehouse.js';

const COUNTING = new Set(['counter', 'histogram']);

type WorkerMetrics = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** A worker's metrics, and which process of which slot they are from. */
interface MetricsAnswer {
  readonly index: number;
  readonly pid: number;
  readonly metrics: WorkerMetrics;
}

/**
 * How long a worker's security events and detector signals wait to go to the lead together, and
 * how many events at most.
 */
const EVENT_BATCH_MS = 20;
const EVENT_BATCH_MAX = 500;
/** Events waiting past this (the primary or the lead not keeping up) are dropped and counted. */
const EVENT_QUEUE_MAX = 20_000;
/**
 * Notes for the lead handed to the channel and not yet written out: past this many, events and
 * signals wait in their queues (bounded: past them they are dropped and counted) instead.
 */
const NOTES_IN_FLIGHT_MAX = 8;
/** How often a worker tells the lead its readiness, and how old a report may be to count. */
const READINESS_REPORT_MS = 1000;
const READINESS_STALE_MS = 3000;

/**
 * A worker's line to the others, through the primary: notes it sends and receives (security
 * events for the lead, bans), and questions the lead asks every worker (itself among them) to
 * answer the admin API for the whole gateway.
 */
export class WorkerLink {
  readonly role: WorkerRole;
  readonly #pending = new Map<number, (answers: readonly unknown[]) => void>();
  #nextId = 1;
  /** The bans that travel between workers (null when Redis carries them). */
  #bans: BanList | null = null;
  /** The lead's event log, once its gateway runs. */
  #ingest: ((events: readonly SecurityEvent[], dropped: number) => void) | null = null;
  /** The lead's detectors, once its gateway runs. */
  #detect: ((batch: SignalBatch) => void) | null = null;
  /** This worker's detector signals waiting to go to the lead (every worker but the lead). */
  #signals: SignalQueue | null = null;
  /** This worker's events waiting to go to the lead, and how many did not fit. */
  readonly #queued: SecurityEvent[] = [];
  #dropped = 0;
  #flushTimer: NodeJS.Timeout | null = null;
  #notesInFlight = 0;
  /** The lead's view of each other worker's readiness: its last report, and when it came. */
  readonly #readiness = new Map<number, { readiness: Readiness; at: number }>();
  /** The lead's view of every worker's metrics (#keepMetrics). */
  readonly #lastMetrics = new Map<number, MetricsAnswer>();
  #retired: WorkerMetrics[] = [];
  #answer: (question: Question) => unknown = () => null;

  constructor(role: WorkerRole) {
    this.role = role;
    process.on('message', (message: unknown) => this.#receive(message));
  }

  get isLead(): boolean {
    return this.role.index === 0;
  }

  /**
   * The bans this worker starts with, before it listens. When no Redis carries them (`relay`),
   * bans set or lifted here go to every other worker and theirs come here from now on, and a
   * worker that starts while others serve (every one but the lead's first start) takes the bans
   * in force from them first: no request is served without them.
   */
  async startingBans(relay: boolean): Promise<BanList> {
    const bans = new BanList();
    if (!relay) return bans;
    this.#bans = bans;
    bans.listen({
      set: (ban) => this.#send({ gh: 'to-all', note: { kind: 'ban', ban } }),
      lifted: (ban) => this.#send({ gh: 'to-all', note: { kind: 'lift', ban } }),
    });
    if (this.isLead && !this.role.replacement) return bans;
    for (const list of await this.ask({ what: 'bans' })) {
      if (Array.isArray(list)) for (const ban of list as Ban[]) bans.apply(ban);
    }
    return bans;
  }

  /**
   * What the gateway of this worker is started with: its events and detector signals sent to the
   * lead, whose detectors count for the whole gateway; the lead's admin views.
   */
  gatewayOptions(bans: BanList): GatehouseOptions {
    if (this.isLead) return { bans, whole: (gateway) => this.#wholeViews(gateway) };
    this.#signals = new SignalQueue(() => this.#schedule());
    return { bans, forwardEvents: (event) => this.#forward(event), detectorSignals: this.#signals };
  }

  /**
   * Connects a started gateway: the lead takes in the others' events, detector signals and
   * readiness; every other worker reports its readiness every READINESS_REPORT_MS; every worker
   * answers the lead's questions.
   */
  join(gateway: Gateway, logger: Logger): void {
    const { monitor } = gateway;
    if (!this.isLead) {
      const report = (): void =>
        this.#toLead({ kind: 'readiness', index: this.role.index, readiness: gateway.readiness() });
      report();
      setInterval(report, READINESS_REPORT_MS).unref();
    }
    if (this.isLead) {
      this.#ingest = (events, dropped) => {
        for (const event of events) monitor.events.ingest(event);
        if (dropped > 0) logger.warn({ msg: 'security events dropped by a worker under load', dropped });
      };
      this.#detect = (batch) => {
        monitor.replaySignals(batch);
        if (batch.dropped > 0)
          logger.warn({ msg: 'detector signals dropped by a worker under load', dropped: batch.dropped });
      };
    }
    this.#answer = (question) => {
      if (question.what === 'counts') return monitor.counts(question.now);
      if (question.what === 'journey') return monitor.journeys.find(question.requestId) ?? null;
      if (question.what === 'bans') return monitor.bans.list();
      return monitor.metrics.registry
        .getMetricsAsJSON()
        .then((metrics): MetricsAnswer => ({ index: this.role.index, pid: process.pid, metrics }));
    };
  }

  /** Tells the primary why this worker could not start, then exits. */
  failed(reason: string): void {
    if (!process.connected) process.exit(1);
    process.send?.({ gh: 'failed', reason } satisfies FromWorker, () => process.exit(1));
  }

  /** Tells the primary this worker serves. */
  ready(): void {
    this.#send({ gh: 'ready' });
  }

  /** Every worker's answer (those that answered within ASK_TIMEOUT_MS). */
  ask(question: Question): Promise<readonly unknown[]> {
    const id = this.#nextId++;
    return new Promise((resolve) => {
      // The primary answers after its own timeout; this one covers a primary that is gone.
      const timer = setTimeout(() => settle([]), ASK_TIMEOUT_MS * 2).unref();
      const settle = (answers: readonly unknown[]): void => {
        clearTimeout(timer);
        this.#pending.delete(id);
        resolve(answers);
      };
      this.#pending.set(id, settle);
      this.#send({ gh: 'ask', id, question });
    });
  }

  #wholeViews(gateway: Gateway): WholeGateway {
    return {
      // At once, from the lead's own and each other worker's last report (none older than
      // READINESS_STALE_MS): a load balancer's probe never waits on a busy worker.
      readiness: () => {
        const now = Date.now();
        const reports = [gateway.readiness()];
        for (const [index, report] of this.#readiness)
          if (index !== this.role.index && now - report.at <= READINESS_STALE_MS)
            reports.push(report.readiness);
        return wholeReadiness(reports, this.role.count);
      },
      summary: async () => {
        const now = Date.now();
        const counts = (await this.ask({ what: 'counts', now })) as SummaryCounts[];
        return gateway.monitor.wholeSummary(now, counts);
      },
      journey: async (requestId) => {
        const answers = (await this.ask({ what: 'journey', requestId })) as (JourneyRecord | null)[];
        return answers.find((journey) => journey !== null) ?? null;
      },
      metrics: async () => {
        for (const answer of await this.ask({ what: 'metrics' })) {
          if (answer !== null) await this.#keepMetrics(answer as MetricsAnswer);
        }
        const current = [...this.#lastMetrics.values()].map((answer) => answer.metrics);
        return AggregatorRegistry.aggregate([...current, ...this.#retired]).metrics();
      },
    };
  }

  /**
   * Keeps each worker's last metrics, so the sums never go down: a worker that did not answer
   * counts with its last answer, and the counters of one that was replaced (a new pid in its
   * place) stay in `#retired`, added to the others (gauges leave with their worker).
   */
  async #keepMetrics(answer: MetricsAnswer): Promise<void> {
    const last = this.#lastMetrics.get(answer.index);
    this.#lastMetrics.set(answer.index, answer);
    if (last === undefined || last.pid === answer.pid) return;
    // The type is the text format's word at run time ('counter'), whatever the typings say.
    const counting = last.metrics.filter((metric) => COUNTING.has(String(metric.type)));
    const registry = AggregatorRegistry.aggregate([...this.#retired, counting]);
    this.#retired = [(await registry.getMetricsAsJSON()) as unknown as WorkerMetrics];
  }

  #receive(message: unknown): void {
    if (!isMessage<ToWorker>(message)) return;
    if (message.gh === 'note') this.#note(message.note);
    else if (message.gh === 'answers') this.#pending.get(message.id)?.(message.answers);
    else if (message.gh === 'question') void this.#reply(message.id, message.question);
  }

  /**
   * Queues one of this worker's security events for the lead; the queue goes out as one message
   * every EVENT_BATCH_MS (or at EVENT_BATCH_MAX), so a flood of refusals costs a message per
   * batch, not per event. Past EVENT_QUEUE_MAX waiting, events are dropped and counted: the
   * access log still has every request.
   */
  #forward(event: SecurityEvent): void {
    if (this.#queued.length >= EVENT_QUEUE_MAX) {
      this.#dropped += 1;
      return;
    }
    this.#queued.push(event);
    if (this.#queued.length >= EVENT_BATCH_MAX) this.#flush();
    else this.#schedule();
  }

  #schedule(): void {
    this.#flushTimer ??= setTimeout(() => this.#flush(), EVENT_BATCH_MS);
  }

  /**
   * Sends the lead the events waiting (EVENT_BATCH_MAX at most) and the detector signals, unless
   * the channel has not written out the last notes yet: then they wait for the next turn.
   */
  #flush(): void {
    if (this.#flushTimer !== null) clearTimeout(this.#flushTimer);
    this.#flushTimer = null;
    if (this.#notesInFlight < NOTES_IN_FLIGHT_MAX) {
      if (this.#queued.length > 0 || this.#dropped > 0) {
        const events = this.#queued.splice(0, EVENT_BATCH_MAX);
        const dropped = this.#dropped;
        this.#dropped = 0;
        this.#toLead({ kind: 'events', events, dropped });
      }
      const batch = this.#signals?.take() ?? null;
      if (batch !== null) this.#toLead({ kind: 'signals', batch });
    }
    if (this.#queued.length > 0 || this.#dropped > 0 || this.#signals?.pending === true) this.#schedule();
  }

  #toLead(note: PeerNote): void {
    if (!process.connected || process.send === undefined) return;
    this.#notesInFlight += 1;
    process.send({ gh: 'to-lead', note } satisfies FromWorker, undefined, undefined, () => {
      this.#notesInFlight -= 1;
    });
  }

  #note(note: PeerNote): void {
    if (note.kind === 'events') this.#ingest?.(note.events, note.dropped);
    else if (note.kind === 'signals') this.#detect?.(note.batch);
    else if (note.kind === 'readiness') {
      if (this.isLead && Number.isInteger(note.index) && isReadiness(note.readiness))
        this.#readiness.set(note.index, { readiness: note.readiness, at: Date.now() });
    } else if (note.kind === 'ban') this.#bans?.apply(note.ban);
    else this.#bans?.removeTarget(note.ban.kind, note.ban.value);
  }

  async #reply(id: number, question: Question): Promise<void> {
    const answer = await Promise.resolve()
      .then(() => this.#answer(question))
      .catch(() => null);
    this.#send({ gh: 'reply', id, answer });
  }

  #send(message: FromWorker): void {
    if (process.connected) process.send?.(message);
  }
}
