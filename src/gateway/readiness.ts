import type { UpstreamState } from '../observe/metrics.js';
import type { UpstreamTarget } from './upstream.js';

/** ok; degraded: serving, with a fallback in force; failing / pending: not ready. */
export type CheckState = 'ok' | 'degraded' | 'failing' | 'pending';

/** What `GET /readyz` answers: a status and one word per check, nothing internal (no host, no error text). */
export interface Readiness {
  readonly status: 'ready' | 'degraded' | 'not-ready';
  readonly checks: Readonly<Record<string, CheckState>>;
}

/** not-ready when a check fails or waits, degraded when one serves with a fallback, else ready. */
function statusOf(checks: Readonly<Record<string, CheckState>>): Readiness['status'] {
  const states = Object.values(checks);
  if (states.includes('failing') || states.includes('pending')) return 'not-ready';
  return states.includes('degraded') ? 'degraded' : 'ready';
}

/**
 * The readiness of a gateway of several workers (`gatehouse start --workers`), from each
 * worker's own `reports`: a check is failing when it fails in every worker that has a result
 * for it, degraded when it fails or is degraded in some (the others serve), ok when ok in all,
 * and pending only while no worker has a result (one that just started has not probed yet).
 * `workers`: ok when all `expected` reported, degraded when some did not.
 */
export function wholeReadiness(reports: readonly Readiness[], expected: number): Readiness {
  const states = new Map<string, CheckState[]>();
  for (const report of reports) {
    for (const [name, state] of Object.entries(report.checks)) {
      const seen = states.get(name);
      if (seen === undefined) states.set(name, [state]);
      else seen.push(state);
    }
  }
  const checks: Record<string, CheckState> = {};
  for (const [name, seen] of states) {
    const known = seen.filter((state) => state !== 'pending');
    checks[name] =
      known.length === 0
        ? 'pending'
        : known.every((state) => state === 'failing')
          ? 'failing'
          : known.some((state) => state !== 'ok')
            ? 'degraded'
            : 'ok';
  }
  checks['workers'] = reports.length >= expected ? 'ok' : 'degraded';
  return { status: statusOf(checks), checks };
}

const CHECK_STATES: ReadonlySet<unknown> = new Set(['ok', 'degraded', 'failing', 'pending']);

/** Whether `value` (from another process) has the shape of a Readiness. */
export function isReadiness(value: unknown): value is Readiness {
  if (typeof value !== 'object' || value === null) return false;
  const checks = (value as { checks?: unknown }).checks;
  if (typeof checks !== 'object' || checks === null || Array.isArray(checks)) return false;
  return Object.values(checks).every((state) => CHECK_STATES.has(state));
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
    return { status: statusOf(checks), checks };
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
