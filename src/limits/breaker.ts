import type { RedisBreakerConfig } from '../config/types.js';

/**
 * closed: every call goes to the store; open: none does (the failure policies decide at once);
 * half-open: the cool-down is over and one probe at a time may go.
 */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** Told of the two changes an operator needs: the store given up on, and the store back. */
export interface BreakerListener {
  opened(reason: string, failures: number): void;
  closed(openForMs: number, fellBack: number): void;
}

/** What `admit` answers when the call must not go to the store. */
export const SKIP = -1;

/**
 * A circuit breaker in front of the shared store (Nygard, "Release It!", Circuit Breaker). One
 * slow or failed answer costs only the requests of its call (their policies' failure policies
 * decide them);
 * `failuresToOpen` failures in a row open the breaker, and then calls skip the store without
 * waiting on it; after `openMs` one probe at a time goes (a request's own call, or `probe` when
 * no request comes), and `successesToClose` probes in a row close it. Only opening and closing
 * are reported, so a store that is merely slow now and then does not make the log flap.
 *
 * A call's ticket is the time it started. Calls that were in flight together when the store (or
 * this process's event loop) stalled fail together: they count as one failure, so one stall with
 * many requests waiting cannot open the breaker, while a store that keeps failing does.
 */
export class CircuitBreaker {
  readonly #settings: RedisBreakerConfig;
  readonly #listener: BreakerListener;
  readonly #probe: (() => Promise<unknown>) | null;
  readonly #now: () => number;
  #open = false;
  /** closed: failures in a row, and when the last one counted was seen. */
  #failures = 0;
  #lastFailureAt = -Infinity;
  /** open: since when, until when no probe goes, whether one is out, how many succeeded in a row. */
  #openedAt = 0;
  #retryAt = 0;
  #probing = false;
  #successes = 0;
  /** Decisions taken without the store while open. */
  #fellBack = 0;
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;

  constructor(
    settings: RedisBreakerConfig,
    listener: BreakerListener,
    probe: (() => Promise<unknown>) | null = null,
    now: () => number = () => performance.now(),
  ) {
    this.#settings = settings;
    this.#listener = listener;
    this.#probe = probe;
    this.#now = now;
  }

  get state(): BreakerState {
    if (!this.#open) return 'closed';
    return this.#probing || this.#now() >= this.#retryAt ? 'half-open' : 'open';
  }

  /** A ticket for a call to the store (hand it back to `succeeded` or `failed`), or SKIP. */
  admit(): number {
    if (!this.#open) return this.#now();
    const ticket = this.#takeProbe();
    if (ticket === SKIP) this.#fellBack += 1;
    return ticket;
  }

  succeeded(ticket: number): void {
    if (!this.#open) this.#failures = 0;
    else if (this.#isProbe(ticket)) this.#probeSucceeded();
  }

  failed(ticket: number, reason: string): void {
    if (this.#open) {
      this.#fellBack += 1;
      if (this.#isProbe(ticket)) this.#probeFailed();
      return;
    }
    // In flight when a failure already counted was seen: the same stall.
    if (ticket < this.#lastFailureAt) return;
    this.#lastFailureAt = this.#now();
    this.#failures += 1;
    if (this.#failures >= this.#settings.failuresToOpen) this.trip(reason);
  }

  /** Opens at once (the store was not there at start-up); nothing when already open. */
  trip(reason: string): void {
    if (this.#open) return;
    const failures = this.#failures;
    const now = this.#now();
    this.#open = true;
    this.#openedAt = now;
    this.#retryAt = now + this.#settings.openMs;
    this.#probing = false;
    this.#successes = 0;
    this.#fellBack = 0;
    this.#listener.opened(reason, failures);
    this.#schedule(this.#settings.openMs);
  }

  /** Stops probing (the store is being closed). */
  stop(): void {
    this.#stopped = true;
    this.#stopTimer();
  }

  #takeProbe(): number {
    if (this.#probing) return SKIP;
    const now = this.#now();
    if (now < this.#retryAt) return SKIP;
    this.#probing = true;
    return now;
  }

  /** Probes start after the cool-down, so after the opening; calls admitted while closed, before it. */
  #isProbe(ticket: number): boolean {
    return this.#probing && ticket > this.#openedAt;
  }

  #probeSucceeded(): void {
    this.#probing = false;
    this.#successes += 1;
    if (this.#successes < this.#settings.successesToClose) {
      this.#schedule(0);
      return;
    }
    const now = this.#now();
    this.#open = false;
    this.#failures = 0;
    // Calls started while it was open, still out, are not this closed period's failures.
    this.#lastFailureAt = now;
    this.#stopTimer();
    this.#listener.closed(now - this.#openedAt, this.#fellBack);
  }

  #probeFailed(): void {
    this.#probing = false;
    this.#successes = 0;
    this.#retryAt = this.#now() + this.#settings.openMs;
    this.#schedule(this.#settings.openMs);
  }

  /** With no request to probe with, the breaker probes by itself, so it closes on an idle gateway too. */
  #schedule(ms: number): void {
    if (this.#probe === null || this.#stopped) return;
    this.#stopTimer();
    this.#timer = setTimeout(this.#probeIdle, Math.max(0, ms));
    this.#timer.unref();
  }

  #stopTimer(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  readonly #probeIdle = (): void => {
    this.#timer = null;
    if (!this.#open) return;
    const ticket = this.#takeProbe();
    if (ticket === SKIP) {
      // A request's probe is out: its response schedules the next one.
      if (!this.#probing) this.#schedule(this.#retryAt - this.#now());
      return;
    }
    this.#probe!().then(
      () => {
        if (this.#isProbe(ticket)) this.#probeSucceeded();
      },
      () => {
        if (this.#isProbe(ticket)) this.#probeFailed();
      },
    );
  };
}
