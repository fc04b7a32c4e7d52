import type { Logger } from 'pino';
import { builtCodeNotUsed } from '../config/built-code.js';
import { loadConfig } from '../config/index.js';
import { StoreUnavailable } from '../config/store-failure.js';
import type { GatehouseConfig, LogConfig } from '../config/types.js';
import { configWarnings } from '../config/warnings.js';
import { JSON_SCANNER } from '../contract/validation/json-wasm.js';
import { createLogger, reopenLogFile } from '../observe/logger.js';
import { failureLine } from './failure-line.js';
import { startGatehouse, type Gatehouse } from './gatehouse.js';
import type { WorkerLink } from './worker.js';
import { workerConfig } from './worker-config.js';

/**
 * The `gatehouse start` process: serve, reload on SIGHUP (a bad new configuration is refused and
 * the old one keeps serving), reopen log files on SIGUSR2 (after logrotate moved them), stop
 * gracefully on SIGTERM/SIGINT.
 */
export async function runGateway(configFile: string, link: WorkerLink | null = null): Promise<Gatehouse> {
  const load = async (): Promise<GatehouseConfig> => {
    const loaded = await loadConfig(configFile);
    return link === null ? loaded : workerConfig(loaded, link.role);
  };
  const config = await load();
  const logger = createLogger(config.log);
  // Each line a worker writes says which worker wrote it.
  if (link !== null) logger.setBindings({ worker: link.role.index });
  // With workers, the primary has said the warnings once already.
  if (link === null)
    for (const warning of configWarnings(config)) logger.warn({ msg: 'configuration warning', warning });
  const options = link === null ? {} : link.gatewayOptions(await link.startingBans(config.redis === null));
  const gateway = await startGatehouse(config, logger, options).catch(async (err: unknown) => {
    await logStartFailure(logger, config.log, err);
    throw err; // the CLI prints the same line on stderr and exits 1
  });
  link?.join(gateway, logger);
  logger.info({ msg: 'JSON scanner', scanner: JSON_SCANNER, node: process.versions.node });
  // The same build serves every worker: the lead says it for all, at start and after a reload
  // that first needed a validator (an OpenAPI version no document used before).
  const saysForAll = link === null || link.isLead;
  let unusedSaid = 0;
  const sayUnusedBuiltCode = (): void => {
    if (!saysForAll) return;
    const unused = builtCodeNotUsed();
    for (const { file, reason } of unused.slice(unusedSaid))
      logger.warn({
        msg: 'code built ahead of time does not match this install: compiled at every start instead',
        file,
        reason,
      });
    unusedSaid = unused.length;
  };
  sayUnusedBuiltCode();
  for (const [name, address] of gateway.addresses) {
    const url = `https://${address.address}:${address.port}`;
    logger.info({ msg: 'listening', listener: name, url });
  }
  process.on('SIGHUP', () => {
    load()
      .then((next) => gateway.reload(next))
      .then(
        () => {
          logger.info({ msg: 'configuration reloaded', file: configFile });
          sayUnusedBuiltCode();
        },
        (err: unknown) =>
          logger.error({
            msg: 'reload refused; the previous configuration keeps serving',
            error: String(err),
          }),
      );
  });
  process.on('SIGUSR2', () => {
    void Promise.all([reopenLogFile(logger), gateway.monitor.reopenEventLog()]).then(() =>
      logger.info({ msg: 'log files reopened' }),
    );
  });
  const stop = (signal: string): void => {
    logger.info({ msg: 'stopping', signal });
    gateway.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  if (link === null) {
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  } else {
    // A worker may hear a stop twice (from the primary, and from a terminal's Ctrl-C or a
    // service manager signalling the whole group): the second must not cut its drain short.
    let stopping = false;
    const once = (signal: string): void => {
      if (!stopping) stop(signal);
      stopping = true;
    };
    process.on('SIGTERM', () => once('SIGTERM'));
    process.on('SIGINT', () => once('SIGINT'));
  }
  link?.ready();
  return gateway;
}

/**
 * A start that fails leaves its reason in the log file too, where whoever reads the log after
 * the fact looks (on stdout or stderr the CLI's line is already there: once is enough).
 */
async function logStartFailure(logger: Logger, log: LogConfig, err: unknown): Promise<void> {
  if (log.destination === 'stdout' || log.destination === 'stderr') return;
  const key = err instanceof StoreUnavailable ? { key: err.path } : {};
  logger.fatal({ msg: 'start failed', ...key, error: failureLine(err) });
  await new Promise<void>((resolve) => logger.flush(() => resolve()));
}
