/**
 * A journey record says what happened to one request: which stages let it through, which one
 * decided its fate, and why. Operators read it (later: admin API and dashboard); clients never do.
 */
export interface JourneyRecord {
  readonly requestId: string;
  readonly startedAt: number;
  readonly method: string;
  readonly clientAddress: string;
  /** Route template ("/accounts/{id}"), null when routing did not get that far. */
  route: string | null;
  api: string | null;
  /** Stages that let the request through, in order. */
  readonly passed: string[];
  /** The stage that ended the request: a denial, or "forward"/"respond" when the upstream answered. */
  decidedBy: string | null;
  /** Stable code of the denial (GH_*), null when served. */
  code: string | null;
  /** Operator-facing reason: never sent to the client. */
  reason: string | null;
  status: number;
  durationMs: number;
  /**
   * What the response contract changed or refused ("removed owner.passwordHash", "replaced: upstream
   * answered 500"), so operators can fix the upstream or the document; null when nothing.
   */
  contract: string[] | null;
}

/** A fixed-size ring of the most recent journeys: constant memory, no allocation once full. */
export class JourneyBuffer {
  readonly #slots: (JourneyRecord | undefined)[];
  #next = 0;
  #count = 0;

  constructor(readonly capacity: number) {
    this.#slots = new Array<JourneyRecord | undefined>(capacity);
  }

  push(record: JourneyRecord): void {
    if (this.capacity === 0) return;
    this.#slots[this.#next] = record;
    this.#next = (this.#next + 1) % this.capacity;
    if (this.#count < this.capacity) this.#count += 1;
  }

  /** Newest first. */
  recent(limit = this.capacity): JourneyRecord[] {
    const out: JourneyRecord[] = [];
    for (let i = 1; i <= Math.min(limit, this.#count); i += 1) {
      const record = this.#slots[(this.#next - i + this.capacity) % this.capacity];
      if (record !== undefined) out.push(record);
    }
    return out;
  }

  find(requestId: string): JourneyRecord | undefined {
    return this.recent().find((record) => record.requestId === requestId);
  }
}
