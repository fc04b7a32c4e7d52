import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { reopenLogFile } from '../observe/logger.js';
import {
  ASK_TIMEOUT_MS,
  isMessage,
  WORKER_COUNT_ENV,
  WORKER_INDEX_ENV,
  WORKER_REPLACEMENT_ENV,
  type FromWorker,
  type PeerNote,
  type Question,
  type ToWorker,
  WorkersFailed,
} from './worker-messages.js';

/** A worker that dies this soon after it started waits longer before the next one, up to MAX_RESPAWN_MS. */
const STEADY_MS = 10_000;
const FIRST_RESPAWN_MS = 250;
const MAX_RESPAWN_MS = 10_000;
/**
 * Notes relayed to the lead and not yet written out to it: past this many (the lead not keeping
 * up with the others' events and detector signals), further notes are dropped, and the log says
 * how many (at most once a second).
 */
const LEAD_BACKLOG_MAX = 64;

interface Slot {
  readonly index: number;
  worker: Worker | null;
  ready: boolean;
  /** Signals asked for while its worker was starting, sent once it serves. */
  readonly pending: Set<NodeJS.Signals>;
  startedAt: number;
  respawnMs: number;
}

interface Asking {
  readonly asker: Worker;
  /** The id the asker gave its question (each worker numbers its own). */
  readonly askerId: number;
  readonly answers: unknown[];
  readonly waiting: Set<Worker>;
  readonly timer: NodeJS.Timeout;
}

/**
 * The primary process of `gatehouse start --workers N`: N workers behind the listeners (node:cluster
 * shares each listening socket, and every worker accepts on it), each a whole gateway. Worker 0 is
 * the lead: it alone runs the admin API and writes the security events, and answers for the whole
 * gateway by asking every worker through here. The primary relays, forwards SIGHUP (reload) and
 * SIGUSR2 (reopen logs) to every worker, replaces a worker that dies while the others serve, and on
 * SIGTERM or SIGINT lets every worker drain, then exits.
 */
export async function runWorkers(configFile: string, count: number): Promise<void> {
  const primary = new Primary(configFile, count);
  let logger: Logger | null = null;
  // Signals are heard from the first moment: a reload asked while workers start reaches each
  // once it serves, and a stop stops what has started.
  process.on('SIGHUP', () => primary.signalAll('SIGHUP'));
  process.on('SIGUSR2', () => {
    if (logger !== null) void reopenLogFile(logger);
    primary.signalAll('SIGUSR2');
  });
  let stopping = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      // A second stop signal (Ctrl-C pressed twice) forces the end: the workers are killed.
      if (stopping) {
        primary.signalAll('SIGKILL');
        process.exit(1);
      }
      stopping = true;
      logger?.info({ msg: 'stopping', signal, workers: count });
      primary.stop(signal).then(
        () => {
          logger?.flush();
          process.exit(0);
        },
        () => process.exit(1),
      );
    });
  }
  // The lead loads the configuration while this process checks it: a bad one fails here, once,
  // with its message (the lead's failure is not printed), and a good one costs no extra wait.
  const lead = primary.forkLead();
  const [{ loadConfig }, { configWarnings }, { createLogger }, { splitWarnings }] = await Promise.all([
    import('../config/index.js'),
    import('../config/warnings.js'),
    import('../observe/logger.js'),
    import('./worker-config.js'),
  ]);
  const config = await loadConfig(configFile).catch(async (err: unknown) => {
    await primary.stop('SIGTERM');
    throw err;
  });
  logger = createLogger(config.log);
  primary.logger = logger;
  for (const warning of [...configWarnings(config), ...splitWarnings(config, count)])
    logger.warn({ msg: 'configuration warning', warning });
  await primary.start(lead);
  if (!stopping) logger.info({ msg: 'workers serving', workers: count, pids: primary.pids() });
}

class Primary {
  readonly #slots: Slot[];
  readonly #asking = new Map<number, Asking>();
  #nextQuestion = 1;
  #stopping = false;
  /** Notes on their way to each lead (a replaced lead starts with none), and those dropped. */
  readonly #leadBacklog = new WeakMap<Worker, number>();
  #leadDropped = 0;

  /** The primary's log, once the configuration that names it is loaded. */
  logger: Logger | null = null;

  constructor(configFile: string, count: number) {
    this.#slots = Array.from({ length: count }, (_, index) => ({
      index,
      worker: null,
      ready: false,
      pending: new Set(),
      startedAt: 0,
      respawnMs: FIRST_RESPAWN_MS,
    }));
    // Every worker accepts on the shared socket itself, one connection per wakeup (libuv's
    // UV_TCP_SINGLE_ACCEPT), so a busier worker leaves new connections to an idler one. With
    // node:cluster's round-robin the primary hands each connection to a worker, and one handed to
    // a worker that just died is neither closed nor handed on: its client waits for nothing.
    cluster.schedulingPolicy = cluster.SCHED_NONE;
    cluster.setupPrimary({ args: ['start', '--config', configFile, '--workers', String(count)] });
  }

  /** Forks the lead (worker 0); `start` waits for it. */
  forkLead(): Promise<string | null> {
    return this.#fork(this.#slots[0]!);
  }

  /**
   * Waits for the lead, then starts the others one at a time, so the state folder's first
   * writes (certificates, a key store's schema, a signing key) are made once.
   */

  async start(lead: Promise<string | null>): Promise<void> {
    for (const slot of this.#slots) {
      if (this.#stopping) return;
      const failure = await (slot.index === 0 ? lead : this.#fork(slot));
      if (failure !== null && !this.#stopping) {
        await this.stop('SIGTERM');
        throw new WorkersFailed(failure);
      }
    }
  }

  pids(): number[] {
    return this.#slots.map((slot) => slot.worker?.process.pid ?? 0);
  }

  /**
   * Sends a signal to every worker; a reload or reopen for a worker still starting waits until it
   * serves (before, it has no handler, and the signal would end it).
   */
  signalAll(signal: NodeJS.Signals): void {
    const deferred = signal === 'SIGHUP' || signal === 'SIGUSR2';
    for (const slot of this.#slots) {
      if (deferred && !slot.ready) slot.pending.add(signal);
      else slot.worker?.process.kill(signal);
    }
  }

  /** Asks every worker to stop (each drains its requests), and waits until all have exited. */
  async stop(signal: NodeJS.Signals): Promise<void> {
    this.#stopping = true;
    const exits = this.#slots
      .map((slot) => slot.worker)
      .filter((worker): worker is Worker => worker !== null && !worker.isDead())
      .map((worker) => new Promise<void>((resolve) => worker.once('exit', () => resolve())));
    this.signalAll(signal);
    await Promise.all(exits);
  }

  /** Forks the worker of a slot; resolves when it serves (null), or with why it exited first. */
  #fork(slot: Slot): Promise<string | null> {
    const worker = cluster.fork({
      [WORKER_INDEX_ENV]: String(slot.index),
      [WORKER_COUNT_ENV]: String(this.#slots.length),
      [WORKER_REPLACEMENT_ENV]: slot.startedAt === 0 ? '0' : '1',
      UV_TCP_SINGLE_ACCEPT: '1',
    });
    // A message to a worker that just died may fail to write: said, never thrown.
    worker.on('error', (err: Error) =>
      this.logger?.warn({ msg: 'worker channel error', worker: slot.index, error: err.message }),
    );
    slot.worker = worker;
    slot.ready = false;
    slot.startedAt = Date.now();
    let reason: string | null = null;
    return new Promise((resolve) => {
      worker.on('message', (message: unknown) => {
        if (!isMessage<FromWorker>(message)) return;
        if (message.gh === 'failed') reason = message.reason;
        if (message.gh === 'ready' && !slot.ready) {
          slot.ready = true;
          for (const pending of slot.pending) worker.process.kill(pending);
          slot.pending.clear();
          resolve(null);
        }
        this.#receive(worker, message);
      });
      worker.once('exit', (code, signal) => {
        this.#forget(worker);
        if (slot.worker === worker) slot.worker = null;
        const served = slot.ready;
        slot.ready = false;
        if (served) {
          if (!this.#stopping) this.#replace(slot, `exited (${signal ?? `code ${code}`})`);
          return;
        }
        // Its last message (why it failed) may still be in the channel when the exit is seen.
        let said = false;
        const say = (): void => {
          if (said) return;
          said = true;
          resolve(reason ?? `worker ${slot.index} exited before serving (${signal ?? `code ${code}`})`);
        };
        if (reason !== null || !worker.isConnected()) return say();
        worker.once('disconnect', say);
        setTimeout(say, 200).unref();
      });
    });
  }

  /** A worker that died: logged, and replaced after a pause that grows while replacements keep dying. */
  #replace(slot: Slot, what: string): void {
    const lived = Date.now() - slot.startedAt;
    slot.respawnMs = lived > STEADY_MS ? FIRST_RESPAWN_MS : Math.min(slot.respawnMs * 2, MAX_RESPAWN_MS);
    this.logger?.error({
      msg: `worker ${what}; the others keep serving, and it is replaced`,
      worker: slot.index,
      replacedInMs: slot.respawnMs,
    });
    setTimeout(() => {
      if (this.#stopping) return;
      void this.#fork(slot).then((failure) => {
        if (failure === null)
          this.logger?.info({ msg: 'worker replaced', worker: slot.index, pid: slot.worker?.process.pid });
        else if (!this.#stopping) this.#replace(slot, `failed to start: ${failure}`);
      });
    }, slot.respawnMs); // not unref'd: with every worker gone, this keeps the primary alive
  }

  #receive(from: Worker, message: FromWorker): void {
    if (message.gh === 'to-all') {
      // Starting workers too: a ban must not pass one by between its question and its first request.
      for (const slot of this.#slots)
        if (slot.worker !== null && slot.worker !== from)
          send(slot.worker, { gh: 'note', note: message.note });
    } else if (message.gh === 'to-lead') {
      const lead = this.#slots[0]!.worker;
      if (lead !== null && lead !== from) this.#relayToLead(lead, message.note);
    } else if (message.gh === 'ask') {
      this.#ask(from, message.id, message.question);
    } else if (message.gh === 'reply') {
      this.#reply(from, message.id, message.answer);
    }
  }

  #relayToLead(lead: Worker, note: PeerNote): void {
    if (!lead.isConnected()) return;
    const backlog = this.#leadBacklog.get(lead) ?? 0;
    if (backlog >= LEAD_BACKLOG_MAX) {
      if (this.#leadDropped === 0)
        setTimeout(() => {
          this.logger?.warn({
            msg: 'notes for the lead dropped: it is not keeping up',
            notes: this.#leadDropped,
          });
          this.#leadDropped = 0;
        }, 1000).unref();
      this.#leadDropped += 1;
      return;
    }
    this.#leadBacklog.set(lead, backlog + 1);
    lead.send({ gh: 'note', note } satisfies ToWorker, undefined, undefined, () =>
      this.#leadBacklog.set(lead, (this.#leadBacklog.get(lead) ?? 1) - 1),
    );
  }

  #live(): Worker[] {
    return this.#slots
      .filter((slot) => slot.ready && slot.worker !== null && slot.worker.isConnected())
      .map((slot) => slot.worker!);
  }

  /** Puts a question to every serving worker; the asker gets the answers when all came or time ran out. */
  #ask(asker: Worker, askerId: number, question: Question): void {
    const id = this.#nextQuestion++;
    const waiting = new Set(this.#live());
    waiting.add(asker);
    const timer = setTimeout(() => this.#answer(id), ASK_TIMEOUT_MS).unref();
    this.#asking.set(id, { asker, askerId, answers: [], waiting, timer });
    for (const worker of waiting) send(worker, { gh: 'question', id, question });
  }

  #reply(from: Worker, id: number, answer: unknown): void {
    const asking = this.#asking.get(id);
    if (asking === undefined || !asking.waiting.delete(from)) return;
    asking.answers.push(answer);
    if (asking.waiting.size === 0) this.#answer(id);
  }

  #answer(id: number): void {
    const asking = this.#asking.get(id);
    if (asking === undefined) return;
    this.#asking.delete(id);
    clearTimeout(asking.timer);
    send(asking.asker, { gh: 'answers', id: asking.askerId, answers: asking.answers });
  }

  /** A worker gone: the questions waiting on it are answered without it. */
  #forget(worker: Worker): void {
    for (const [id, asking] of this.#asking) {
      if (asking.waiting.delete(worker) && asking.waiting.size === 0) this.#answer(id);
    }
  }
}

function send(worker: Worker, message: ToWorker): void {
  if (worker.isConnected()) worker.send(message);
}
