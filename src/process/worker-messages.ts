import cluster from 'node:cluster';
import type { Ban } from '../observe/bans.js';
import type { Readiness } from '../gateway/readiness.js';
import type { SignalBatch } from '../observe/detector-signals.js';
import type { SecurityEvent } from '../observe/events.js';

/**
 * What the workers of one gateway (`gatehouse start --workers`) tell each other through the
 * primary process, which relays: security events for the lead to count and write (batched, with
 * how many were dropped since the last batch), detector signals for the lead's detectors (the
 * same way), each worker's readiness (every second), a ban set or lifted (without Redis, the
 * workers' bans travel this way).
 */
export type PeerNote =
  | { readonly kind: 'events'; readonly events: readonly SecurityEvent[]; readonly dropped: number }
  | { readonly kind: 'signals'; readonly batch: SignalBatch }
  | { readonly kind: 'readiness'; readonly index: number; readonly readiness: Readiness }
  | { readonly kind: 'ban'; readonly ban: Ban }
  | { readonly kind: 'lift'; readonly ban: Ban };

/** What the lead asks every worker for, to answer the admin API for the whole gateway. */
export type Question =
  | { readonly what: 'counts'; readonly now: number }
  | { readonly what: 'journey'; readonly requestId: string }
  | { readonly what: 'metrics' }
  | { readonly what: 'bans' };

/** Worker → primary. */
export type FromWorker =
  | { readonly gh: 'ready' }
  | { readonly gh: 'failed'; readonly reason: string }
  | { readonly gh: 'to-all'; readonly note: PeerNote }
  | { readonly gh: 'to-lead'; readonly note: PeerNote }
  | { readonly gh: 'ask'; readonly id: number; readonly question: Question }
  | { readonly gh: 'reply'; readonly id: number; readonly answer: unknown };

/** Primary → worker. */
export type ToWorker =
  | { readonly gh: 'note'; readonly note: PeerNote }
  | { readonly gh: 'question'; readonly id: number; readonly question: Question }
  | { readonly gh: 'answers'; readonly id: number; readonly answers: readonly unknown[] };

/** The environment a worker is started with: its index (0 is the lead) and how many there are. */
export const WORKER_INDEX_ENV = 'GATEHOUSE_WORKER_INDEX';
export const WORKER_COUNT_ENV = 'GATEHOUSE_WORKERS';
/** Set for a worker started in place of one that died. */
export const WORKER_REPLACEMENT_ENV = 'GATEHOUSE_WORKER_REPLACEMENT';

/** How long the lead waits for every worker's answer; past it, it answers with those it has. */
export const ASK_TIMEOUT_MS = 2000;

export function isMessage<T extends { gh: string }>(value: unknown): value is T {
  return typeof value === 'object' && value !== null && typeof (value as { gh?: unknown }).gh === 'string';
}

/** Why the workers could not be started: the first failing worker's line, as it said it. */
export class WorkersFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkersFailed';
  }
}

/** Which worker this process is of a gateway run with `gatehouse start --workers`: 0 is the lead. */
export interface WorkerRole {
  readonly index: number;
  readonly count: number;
  /** Started in place of a worker that died (the others serve already). */
  readonly replacement: boolean;
}

/** This process's role when the primary of `gatehouse start --workers` started it; null otherwise. */
export function workerRole(): WorkerRole | null {
  if (!cluster.isWorker) return null;
  const index = Number(process.env[WORKER_INDEX_ENV]);
  const count = Number(process.env[WORKER_COUNT_ENV]);
  if (!Number.isInteger(index) || !Number.isInteger(count) || index < 0 || index >= count) return null;
  return { index, count, replacement: process.env[WORKER_REPLACEMENT_ENV] === '1' };
}
