import type { ConcurrencyConfig } from '../config/types.js';
import { GatehouseError } from '../errors/gatehouse-error.js';

const SAMPLE_EVERY_MS = 20;
const RETRY_AFTER = { 'retry-after': '1' } as const;

/**
 * Requests in flight, in total and per client address, and how late the event loop runs. When
 * the process is saturated it refuses new work at once (503 + Retry-After) instead of letting
 * every response slow down: first the clients holding the most requests (a flood holds many, an
 * honest client one or two), then everyone once `maxInFlight` is reached.
 */
export class ConcurrencyGuard {
  readonly #config: ConcurrencyConfig;
  readonly #perClient = new Map<string, number>();
  readonly #timer: NodeJS.Timeout;
  #inFlight = 0;
  #lagMs = 0;
  #expectedAt = performance.now() + SAMPLE_EVERY_MS;

  constructor(config: ConcurrencyConfig) {
    this.#config = config;
    this.#timer = setInterval(this.#sample, SAMPLE_EVERY_MS).unref();
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Event-loop delay, decaying: how late a timer fired recently. */
  get lagMs(): number {
    return this.#lagMs;
  }

  /** The refusal (a return value: being shed is not a fault), or null once the request is counted in. */
  admit(address: string): GatehouseError | null {
    const config = this.#config;
    const held = this.#perClient.get(address) ?? 0;
    if (this.#inFlight >= config.maxInFlight) {
      return new GatehouseError(
        'GH_OVERLOADED',
        `${this.#inFlight} requests in flight (maxInFlight)`,
        RETRY_AFTER,
      );
    }
    if (held >= config.perClientMaxInFlight) {
      return new GatehouseError(
        'GH_LIMIT_CONCURRENCY',
        `client holds ${held} requests in flight`,
        RETRY_AFTER,
      );
    }
    if (held >= config.shedClientsAbove && this.#lagMs > config.maxEventLoopDelayMs) {
      return new GatehouseError(
        'GH_OVERLOADED',
        `saturated (event loop ${Math.round(this.#lagMs)} ms late); client holds ${held} requests in flight`,
        RETRY_AFTER,
      );
    }
    this.#perClient.set(address, held + 1);
    this.#inFlight += 1;
    return null;
  }

  release(address: string): void {
    this.#inFlight -= 1;
    const held = this.#perClient.get(address) ?? 1;
    if (held <= 1) this.#perClient.delete(address);
    else this.#perClient.set(address, held - 1);
  }

  close(): void {
    clearInterval(this.#timer);
  }

  readonly #sample = (): void => {
    const now = performance.now();
    const late = Math.max(0, now - this.#expectedAt);
    this.#expectedAt = now + SAMPLE_EVERY_MS;
    this.#lagMs = Math.max(late, this.#lagMs * 0.7);
  };
}
