import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { startKeyServices, type KeyServices } from '../auth/keys/services.js';
import type { GatehouseConfig, ListenerConfig } from '../config/types.js';
import { RedisBanSync } from '../observe/ban-sync.js';
import { redisClient } from '../redis/client.js';
import { BanList } from '../observe/bans.js';
import { limiterDecisionCounts } from '../limits/journey-note.js';
import type { JourneyBuffer } from '../observe/journey.js';
import type { EventSink } from '../observe/events.js';
import type { DetectorSignals } from '../observe/detectors.js';
import { createJsonLineStream, type JsonLineStream } from '../observe/logger.js';
import { Monitor } from '../observe/monitor.js';
import { requestId } from '../observe/request-id.js';
import { ensureDevCertificates, type DevCertificates } from '../tls/dev-certs.js';
import { GatewayListener, type TlsMaterial, type TransportRefusal } from './listener.js';
import type { FrontRequest } from './front/request.js';
import type { FrontResponse } from './front/response.js';
import { UpstreamProber, type Readiness } from './readiness.js';
import { recordJourney, recordTransportRefusal } from './stages/record.js';
import { RequestContext } from './request-context.js';
import { buildRuntime, retireRuntime, type Runtime } from './runtime.js';
import { checkParserBinding } from './http1/parser.js';

export interface Gateway {
  /** Bound addresses, by listener name. */
  readonly addresses: ReadonlyMap<string, AddressInfo>;
  /** Metrics, journeys, security events, detectors and bans (src/observe); kept across reloads. */
  readonly monitor: Monitor;
  readonly journeys: JourneyBuffer;
  readonly config: () => GatehouseConfig;
  /** API key verifier and lifecycle (src/auth/keys/services.ts); kept across reloads. */
  readonly keys: KeyServices;
  /** What `GET /readyz` answers. */
  readiness(): Readiness;
  /** Swap in a new configuration; throws (and keeps serving the old one) when it cannot be built. */
  reload(next: GatehouseConfig): Promise<void>;
  close(graceMs?: number): Promise<void>;
}

/** How this process takes part in a gateway of several workers (`gatehouse start --workers`). */
export interface GatewayOptions {
  /** Where this worker's security events go, to be counted and written by the lead (Monitor). */
  readonly forwardEvents?: EventSink;
  /** Where this worker's detector signals go, to be counted by the lead's detectors (Monitor). */
  readonly detectorSignals?: DetectorSignals;
  /** The bans to start with, shared with the other workers (src/process/worker.ts). */
  readonly bans?: BanList;
}

/**
 * Starts Gatehouse: prepares certificates, compiles the contract, opens the listeners. The
 * request handler reads the current runtime once per request, so a reload never changes the
 * rules under a request already in flight. Monitoring, bans and keys apply at start and are
 * kept across reloads.
 */
export async function startGateway(
  config: GatehouseConfig,
  logger: Logger,
  options: GatewayOptions = {},
): Promise<Gateway> {
  // Before anything is opened: the HTTP parser both doors use must be the one expected.
  checkParserBinding();
  let devCerts = await prepareDevCertificates(config);
  const RedisClient = config.redis === null ? null : await redisClient();
  const keys = await startKeyServices(config, logger);
  const bans = options.bans ?? new BanList();
  const banSync =
    config.redis === null || RedisClient === null
      ? null
      : new RedisBanSync(bans, config.redis.url, config.redis.keyPrefix, logger, RedisClient);
  const forwardEvents = options.forwardEvents;
  const eventLog =
    forwardEvents === undefined ? createJsonLineStream(config.monitoring.events.destination) : NO_STREAM;
  let runtime: Runtime = await buildRuntime(config, devCerts, keys.verifier, logger, bans).catch(
    async (err: unknown) => {
      await banSync?.close();
      await keys.close();
      throw err;
    },
  );
  await banSync?.resync();
  const prober = new UpstreamProber(config.monitoring.probeIntervalMs, () => runtime.targets);
  void prober.probe();
  const monitor = new Monitor({
    config: config.monitoring,
    journeyBufferSize: config.journeyBufferSize,
    bans,
    eventLog,
    logger,
    upstreams: () => prober.states(),
    limiterDecisions: limiterDecisionCounts,
    ...(forwardEvents === undefined ? {} : { forwardEvents }),
    ...(options.detectorSignals === undefined ? {} : { detectorSignals: options.detectorSignals }),
  });
  const identifyApiKey = (key: string): string | null => {
    const verified = keys.verifier.verify(key);
    return verified.ok ? verified.key.id : null;
  };
  const onTransportRefusal = (refusal: TransportRefusal): void =>
    recordTransportRefusal(refusal, logger, monitor);

  const finishRequest = function finishRequest(ctx: RequestContext): void {
    if (!ctx.res.sent) ctx.upstream?.abort();
    recordJourney(ctx, logger, monitor, runtime.config.log.access, runtime.loginFailureStatuses);
    ctx.pipeline?.complete(ctx);
  };
  const onRequest = function handleRequest(req: FrontRequest, res: FrontResponse): void {
    const current = runtime;
    const address = req.socket.remoteAddress ?? '';
    const ctx = new RequestContext(requestId(), req, res, address, performance.now(), finishRequest);
    ctx.pipeline = current.pipeline;
    res.handler = ctx;
    current.pipeline.run(ctx);
  };
  const onClosed = function onResponseClosed(res: FrontResponse): void {
    res.handler?.responseDone();
  };

  const listeners = new Map<string, GatewayListener>();
  const addresses = new Map<string, AddressInfo>();
  const closeParts = async (): Promise<void> => {
    prober.close();
    await retireRuntime(runtime);
    await monitor.close();
    await banSync?.close();
    await keys.close();
  };
  try {
    for (const listenerConfig of config.listeners) {
      const listener = new GatewayListener({
        host: listenerConfig.host,
        port: listenerConfig.port,
        tls: tlsMaterialFor(listenerConfig, devCerts),
        limits: config.limits,
        onRequest,
        onClosed,
        onTransportRefusal,
        identifyApiKey,
      });
      addresses.set(listenerConfig.name, await listener.listen());
      listeners.set(listenerConfig.name, listener);
    }
  } catch (err) {
    await Promise.all([...listeners.values()].map((listener) => listener.close(0)));
    await closeParts();
    throw err;
  }

  return {
    addresses,
    monitor,
    journeys: monitor.journeys,
    config: () => runtime.config,
    keys,
    readiness: () =>
      prober.readiness({
        keyStoreReadable: () => keys.storeReadable(),
        limitsStoreAvailable: () => (runtime.limits.shared ? runtime.limits.storeAvailable() : null),
        banSyncHealthy: () => banSync?.healthy ?? null,
      }),
    reload: oneAtATime(async (next: GatehouseConfig): Promise<void> => {
      assertSameListeners(runtime.config, next);
      const nextCerts = await prepareDevCertificates(next);
      const built = await buildRuntime(next, nextCerts, keys.verifier, logger, bans);
      for (const listenerConfig of next.listeners) {
        listeners.get(listenerConfig.name)!.setTls(tlsMaterialFor(listenerConfig, nextCerts));
      }
      const previous = runtime;
      runtime = built;
      devCerts = nextCerts;
      void retireRuntime(previous);
      void prober.probe();
    }),
    async close(graceMs = 10_000): Promise<void> {
      await Promise.all([...listeners.values()].map((listener) => listener.close(graceMs)));
      await closeParts();
      logger.flush();
    },
  };
}

/** The event stream of a worker whose events the lead writes. */
const NO_STREAM: JsonLineStream = Object.freeze({
  write: () => undefined,
  reopen: () => Promise.resolve(),
  close: () => undefined,
});

/**
 * Reloads run one at a time, in the order asked, and the newest wins: while one runs, the next
 * waits, and a still newer one takes the waiting one's place (its caller learns the outcome of
 * the configuration that replaced it). No two runtimes are ever built at once.
 */
export function oneAtATime<T>(apply: (next: T) => Promise<void>): (next: T) => Promise<void> {
  let running = false;
  let waiting: { next: T; settle: (outcome: Promise<void>) => void; done: Promise<void> } | null = null;
  const run = (next: T): Promise<void> => {
    running = true;
    const outcome = apply(next);
    void outcome
      .catch(() => undefined)
      .finally(() => {
        running = false;
        const queued = waiting;
        waiting = null;
        if (queued !== null) queued.settle(run(queued.next));
      });
    return outcome;
  };
  return (next: T): Promise<void> => {
    if (!running) return run(next);
    if (waiting !== null) {
      waiting.next = next;
      return waiting.done;
    }
    let settle!: (outcome: Promise<void>) => void;
    const done = new Promise<void>((resolve, reject) => {
      settle = (outcome) => outcome.then(resolve, reject);
    });
    waiting = { next, settle, done };
    return done;
  };
}

async function prepareDevCertificates(config: GatehouseConfig): Promise<DevCertificates | null> {
  const needed =
    config.listeners.some((l) => l.tls.dev) || config.apis.some((a) => a.upstream.tls?.dev === true);
  return needed ? ensureDevCertificates(config.stateDir) : null;
}

function tlsMaterialFor(listener: ListenerConfig, devCerts: DevCertificates | null): TlsMaterial {
  if (!listener.tls.dev) return { cert: listener.tls.cert, key: listener.tls.key };
  if (devCerts === null) throw new TypeError('development certificates were not prepared');
  return { cert: devCerts.serverCert, key: devCerts.serverKey };
}

/** Listeners own sockets: adding, removing or moving one needs a restart, and a reload says so. */
function assertSameListeners(current: GatehouseConfig, next: GatehouseConfig): void {
  const describe = (c: GatehouseConfig): string =>
    c.listeners
      .map((l) => `${l.name}@${l.host}:${l.port}`)
      .sort()
      .join(',');
  if (describe(current) !== describe(next)) {
    throw new Error('listeners changed (name, host or port): restart Gatehouse to apply that change');
  }
}
