import type { JourneyRecord } from './journey.js';

/** Seconds; from half a millisecond (a refusal) to ten seconds (a slow upstream). */
export const DURATION_BUCKETS = Object.freeze([
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);

/** One histogram's cells: counts per bucket (not cumulative; the last one is +Inf), sum and count. */
export class HistogramCells {
  readonly counts = new Float64Array(DURATION_BUCKETS.length + 1);
  sum = 0;
  count = 0;

  observe(seconds: number): void {
    let i = 0;
    while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]!) i += 1;
    this.counts[i] = this.counts[i]! + 1;
    this.sum += seconds;
    this.count += 1;
  }
}

/** How requests of one operation ended: status → deciding stage → code → count. */
export type Outcomes = Map<number, Map<string, Map<string, { n: number }>>>;

/** Everything counted for one operation (api, route template, method). */
export class OperationSeries {
  readonly api: string;
  readonly operation: string;
  readonly method: string;
  readonly outcomes: Outcomes = new Map();
  readonly duration = new HistogramCells();
  readonly upstream = new HistogramCells();
  /** Answers the response contract cut undeclared properties from. */
  filtered = 0;

  constructor(api: string, operation: string, method: string) {
    this.api = api;
    this.operation = operation;
    this.method = method;
  }
}

/**
 * Per-request counting with no allocation once an operation has been seen: the series of a
 * routed request is found by its compiled operation object (one WeakMap lookup), an unrouted
 * one by its method; outcomes are nested maps keyed by values the request already holds. A
 * reload compiles new operation objects, which find their series again by name.
 */
export class RequestSeriesTable {
  readonly #byOperation = new WeakMap<object, OperationSeries>();
  readonly #byName = new Map<string, OperationSeries>();

  observe(operation: object | null, journey: JourneyRecord): void {
    const series = this.#seriesOf(operation, journey);
    let byStage = series.outcomes.get(journey.status);
    if (byStage === undefined) series.outcomes.set(journey.status, (byStage = new Map()));
    const stage = journey.decidedBy ?? '';
    let byCode = byStage.get(stage);
    if (byCode === undefined) byStage.set(stage, (byCode = new Map()));
    const code = journey.code ?? '';
    const cell = byCode.get(code);
    if (cell === undefined) byCode.set(code, { n: 1 });
    else cell.n += 1;
    series.duration.observe(journey.durationMs / 1000);
    if (journey.upstreamMs !== null) series.upstream.observe(journey.upstreamMs / 1000);
    if (journey.contract !== null && journey.code === null) series.filtered += 1;
  }

  series(): IterableIterator<OperationSeries> {
    return this.#byName.values();
  }

  #seriesOf(operation: object | null, journey: JourneyRecord): OperationSeries {
    if (operation !== null) {
      const known = this.#byOperation.get(operation);
      if (known !== undefined) return known;
    }
    const api = journey.api ?? '';
    const route = journey.route ?? '';
    const method = operation === null ? boundedMethod(journey.method) : journey.method;
    const name = `${api}\u0000${route}\u0000${method}`;
    let series = this.#byName.get(name);
    if (series === undefined) this.#byName.set(name, (series = new OperationSeries(api, route, method)));
    if (operation !== null) this.#byOperation.set(operation, series);
    return series;
  }
}

const KNOWN_METHODS = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'PATCH',
  'DELETE',
  'OPTIONS',
  'TRACE',
  'CONNECT',
  '',
]);

/** A method label for a request no route matched: the client chose it, so the label set is bounded. */
function boundedMethod(method: string): string {
  return KNOWN_METHODS.has(method) ? method : 'OTHER';
}
