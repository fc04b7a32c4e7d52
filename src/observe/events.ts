/**
 * Security events: one structured record for every security decision, written to their own
 * stream and kept, the most recent ones, for the admin API (`GET /events`) and the detectors.
 * An event names who and what (address, consumer, key id, operation, code), never a secret:
 * no key, token, password or header value is ever put in one.
 */
export const SECURITY_EVENT_TYPES = [
  // Refusals, one per refused request (the code says which check; the reason says why).
  'auth.refused',
  'access.forbidden',
  'access.banned',
  'route.refused',
  'limit.refused',
  'validation.refused',
  'transport.refused',
  // What the response contract did to an upstream's response.
  'response.filtered',
  'response.replaced',
  // A login the upstream refused (failure statuses), or one the login limits refused.
  'login.failed',
  // A credential seen on the plaintext port: treated as exposed.
  'credential.exposed',
  'key.created',
  'key.revoked',
  'key.rotated',
  'admin.action',
  'admin.refused',
  'detector.fired',
  'ban.set',
  'ban.lifted',
] as const;
export type SecurityEventType = (typeof SECURITY_EVENT_TYPES)[number];

export interface SecurityEvent {
  /** Increasing in this process: the cursor of `GET /events?after=`. */
  readonly id: number;
  /** ISO 8601, UTC. */
  readonly time: string;
  readonly type: SecurityEventType;
  readonly requestId: string | null;
  readonly address: string | null;
  readonly consumer: string | null;
  /** The API key id or token id involved: never the secret. */
  readonly credentialId: string | null;
  readonly api: string | null;
  /** Route template, never the raw path. */
  readonly operation: string | null;
  readonly code: string | null;
  /** Operator-facing words: what happened and why. */
  readonly reason: string | null;
  /** Type-specific facts (a detector's name and count, a ban's id and end). */
  readonly data: Readonly<Record<string, string | number | boolean | null>> | null;
}

export type EventFields = Partial<Omit<SecurityEvent, 'id' | 'time' | 'type'>>;

export interface EventQuery {
  /** Only events after this id, oldest first (for following the stream). */
  readonly after: number | null;
  /** Only events before this id, newest first (paging back); ignored with `after`. */
  readonly before: number | null;
  /** Only events at or after this time (ms since the epoch). */
  readonly since: number | null;
  readonly types: ReadonlySet<SecurityEventType> | null;
  readonly address: string | null;
  readonly consumer: string | null;
  readonly limit: number;
}

export type EventSink = (event: SecurityEvent) => void;

/**
 * What an operator must still find after a flood of refusals: changes to keys and bans, admin
 * actions, detections, exposed credentials. Kept in a ring of their own, so thousands of 404s
 * per second cannot push them out of `GET /events`.
 */
const AUDIT_TYPES: ReadonlySet<SecurityEventType> = new Set([
  'credential.exposed',
  'key.created',
  'key.revoked',
  'key.rotated',
  'admin.action',
  'detector.fired',
  'ban.set',
  'ban.lifted',
]);

/** The newest `capacity` events of one kind, oldest first, in a circular array. */
class Ring {
  readonly #events: (SecurityEvent | undefined)[];
  #next = 0;
  #count = 0;

  constructor(readonly capacity: number) {
    this.#events = new Array<SecurityEvent | undefined>(capacity);
  }

  push(event: SecurityEvent): void {
    if (this.capacity === 0) return;
    this.#events[this.#next] = event;
    this.#next = (this.#next + 1) % this.capacity;
    if (this.#count < this.capacity) this.#count += 1;
  }

  /** Up to `limit` matching events, newest first (or, `forward`, oldest first), past `from`. */
  take(query: EventQuery, forward: boolean, limit: number): SecurityEvent[] {
    const out: SecurityEvent[] = [];
    for (let i = 0; i < this.#count && out.length < limit; i += 1) {
      const at = forward ? this.#next - this.#count + i : this.#next - 1 - i;
      const event = this.#events[(at + this.capacity) % this.capacity]!;
      if (forward ? event.id <= query.after! : event.id >= (query.before ?? Infinity)) continue;
      if (matches(event, query)) out.push(event);
    }
    return out;
  }
}

/**
 * The recent events (bounded: the oldest give way, refusals and audit events each in their own
 * ring of `capacity`) and the subscribers that are told of each one as it is emitted (the
 * stream, metrics).
 */
export class EventLog {
  readonly capacity: number;
  readonly #decisions: Ring;
  readonly #audit: Ring;
  readonly #sinks: EventSink[] = [];
  #nextId = 1;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.#decisions = new Ring(capacity);
    this.#audit = new Ring(capacity);
  }

  subscribe(sink: EventSink): void {
    this.#sinks.push(sink);
  }

  /** The id of the newest event; 0 when none. */
  get lastId(): number {
    return this.#nextId - 1;
  }

  emit(type: SecurityEventType, fields: EventFields): SecurityEvent {
    return this.#append(new Date().toISOString(), type, fields);
  }

  /**
   * An event another worker of the same gateway emitted (`gatehouse start --workers`): kept here
   * under an id of this log, with its own time, and told to the subscribers like one emitted here.
   */
  ingest(event: SecurityEvent): SecurityEvent {
    return this.#append(event.time, event.type, event);
  }

  #append(time: string, type: SecurityEventType, fields: EventFields): SecurityEvent {
    const event: SecurityEvent = {
      id: this.#nextId,
      time,
      type,
      requestId: fields.requestId ?? null,
      address: fields.address ?? null,
      consumer: fields.consumer ?? null,
      credentialId: fields.credentialId ?? null,
      api: fields.api ?? null,
      operation: fields.operation ?? null,
      code: fields.code ?? null,
      reason: fields.reason ?? null,
      data: fields.data ?? null,
    };
    this.#nextId += 1;
    (AUDIT_TYPES.has(type) ? this.#audit : this.#decisions).push(event);
    for (const sink of this.#sinks) sink(event);
    return event;
  }

  /**
   * Matching events still held, newest first (or, with `after`, oldest first), with the cursor
   * of the next page: null when none is left.
   */
  query(query: EventQuery): { events: SecurityEvent[]; next: number | null } {
    const forward = query.after !== null;
    const wanted = query.limit + 1;
    const merged = [
      ...this.#decisions.take(query, forward, wanted),
      ...this.#audit.take(query, forward, wanted),
    ].sort((a, b) => (forward ? a.id - b.id : b.id - a.id));
    if (merged.length <= query.limit) return { events: merged, next: null };
    const events = merged.slice(0, query.limit);
    return { events, next: events[events.length - 1]!.id };
  }
}

function matches(event: SecurityEvent, query: EventQuery): boolean {
  if (query.types !== null && !query.types.has(event.type)) return false;
  if (query.address !== null && event.address !== query.address) return false;
  if (query.consumer !== null && event.consumer !== query.consumer) return false;
  if (query.since !== null && Date.parse(event.time) < query.since) return false;
  return true;
}
