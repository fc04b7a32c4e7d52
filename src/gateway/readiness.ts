import type { UpstreamState } from '../observe/metrics.js';
import type { UpstreamTarget } from './upstream.js';

/** ok; degraded: serving, with a fallback in force; failing / pending: not ready. */
export type CheckState = 'ok' | 'degraded' | 'failing' | 'pending';

/** What `GET /readyz` answers: a status and one word per check, nothing internal (no host, no error text). */
export interface Readiness {
  readonly status: 'ready' | 'degraded' | 'not-ready';
  readonly checks: Readonly<Record<string, CheckState>>;
}

/** What the gateway knows of its own parts, read when readiness is asked. */
export interface ReadinessSources {
  /** The key store could be read at the last attempt (the index is loaded before start returns). */
  readonly keyStoreReadable: () => boolean;
  /** The rate-limit store answers, or null when limits are kept in memory. */
  readonly limitsStoreAvailable: () => boolean | null;
  /** Bans are shared through Redis and it answers, or null when bans are local. */
  readonly banSyncHealthy: () => boolean | null;
}

/**
 * Probes each upstream every `intervalMs` with a TLS handshake (the pool's own trust and client
 * certificate) and remembers the last outcome, for readiness and the `gatehouse_upstream_up`
 * metric. A probe never waits longer than the upstream's connect timeout.
 */
export class UpstreamProber {
  readonly #targets: () => ReadonlyMap<string, UpstreamTarget>;
  readonly #reachable = new Map<string, boolean>();
  readonly #timer: NodeJS.Timeout;
  #running = false;
  /** Asked for while a round was under way (a reload added an upstream): run once more after it. */
  #again = false;

  constructor(intervalMs: number, targets: () => ReadonlyMap<string, UpstreamTarget>) {
    this.#targets = targets;
    this.#timer = setInterval(() => void this.probe(), intervalMs).unref();
  }

  /** Probes every upstream once; asked during a round, it runs one more round after it. */
  async probe(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    try {
      do {
        this.#again = false;
        const targets = [...this.#targets()];
        const outcomes = await Promise.all(targets.map(([, target]) => target.pool.probe()));
        this.#reachable.clear();
        targets.forEach(([api], i) => this.#reachable.set(api, outcomes[i]!));
      } while (this.#again);
    } finally {
      this.#running = false;
    }
  }

  /** Pool state and last probe of every upstream, for metrics. */
  states(): UpstreamState[] {
    return [...this.#targets()].map(([api, target]) => ({
      api,
      ...target.pool.stats(),
      reachable: this.#reachable.get(api) ?? null,
    }));
  }

  readiness(sources: ReadinessSources): Readiness {
    const upstreams = [...this.#targets().keys()].map((api) => this.#reachable.get(api));
    const checks: Record<string, CheckState> = {
      config: 'ok',
      keys: sources.keyStoreReadable() ? 'ok' : 'degraded',
      upstreams: upstreams.includes(false) ? 'failing' : upstreams.includes(undefined) ? 'pending' : 'ok',
    };
    const limits = sources.limitsStoreAvailable();
    if (limits !== null) checks['limitsStore'] = limits ? 'ok' : 'degraded';
    const bans = sources.banSyncHealthy();
    if (bans !== null) checks['bansStore'] = bans ? 'ok' : 'degraded';
    const states = Object.values(checks);
    const status =
      states.includes('failing') || states.includes('pending')
        ? 'not-ready'
        : states.includes('degraded')
          ? 'degraded'
          : 'ready';
    return { status, checks };
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
