/**
 * Requests and refusals per second over the last `seconds`, for the dashboard's chart: two rings
 * of counters indexed by the second a request started in. Counting is two array increments; a
 * second with no request reads as zero.
 */
export class TrafficHistory {
  /** Whole seconds a series can span: the ring also holds the second under way. */
  readonly seconds: number;
  readonly #size: number;
  readonly #requests: Uint32Array;
  readonly #refused: Uint32Array;
  /** The newest second counted into (seconds since the epoch); the ring holds the `#size` up to it. */
  #newest = 0;

  constructor(seconds = 600) {
    this.seconds = seconds;
    this.#size = seconds + 1;
    this.#requests = new Uint32Array(this.#size);
    this.#refused = new Uint32Array(this.#size);
  }

  /** One request that started at `startedAtMs`; a request that started before the window is not counted. */
  count(startedAtMs: number, refused: boolean): void {
    const second = Math.floor(startedAtMs / 1000);
    if (second > this.#newest) this.#advance(second);
    else if (second <= this.#newest - this.#size) return;
    const at = second % this.#size;
    this.#requests[at] = this.#requests[at]! + 1;
    if (refused) this.#refused[at] = this.#refused[at]! + 1;
  }

  /** The last `last` whole seconds before `nowMs`, oldest first. */
  series(nowMs: number, last = 300): { start: number; step: 1; requests: number[]; refused: number[] } {
    const span = Math.min(last, this.seconds);
    const end = Math.floor(nowMs / 1000);
    if (end > this.#newest) this.#advance(end);
    const start = end - span;
    const requests: number[] = [];
    const refused: number[] = [];
    for (let second = start; second < end; second += 1) {
      const at = second % this.#size;
      requests.push(this.#requests[at]!);
      refused.push(this.#refused[at]!);
    }
    return { start, step: 1, requests, refused };
  }

  /** Moves the newest second forward, clearing the seconds that now enter the window again. */
  #advance(second: number): void {
    const from = Math.max(this.#newest + 1, second - this.#size + 1);
    for (let s = from; s <= second; s += 1) {
      const at = s % this.#size;
      this.#requests[at] = 0;
      this.#refused[at] = 0;
    }
    this.#newest = second;
  }
}
