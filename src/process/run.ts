import type { Logger } from 'pino';
import { loadConfig } from '../config/index.js';
import { StoreUnavailable } from '../config/store-failure.js';
import type { LogConfig } from '../config/types.js';
import { configWarnings } from '../config/warnings.js';
import { JSON_SCANNER } from '../contract/validation/json-wasm.js';
import { createLogger, reopenLogFile } from '../observe/logger.js';
import { failureLine } from './failure-line.js';
import { startGatehouse, type Gatehouse } from './gatehouse.js';

/**
 * The `gatehouse start` process: serve, reload on SIGHUP (a bad new configuration is refused and
 * the old one keeps serving), reopen log files on SIGUSR2 (after logrotate moved them), stop
 * gracefully on SIGTERM/SIGINT.
 */
export async function runGateway(configFile: string): Promise<Gatehouse> {
  const config = await loadConfig(configFile);
  const logger = createLogger(config.log);
  for (const warning of configWarnings(config)) logger.warn({ msg: 'configuration warning', warning });
  const gateway = await startGatehouse(config, logger).catch(async (err: unknown) => {
    await logStartFailure(logger, config.log, err);
    throw err; // the CLI prints the same line on stderr and exits 1
  });
  logger.info({ msg: 'JSON scanner', scanner: JSON_SCANNER, node: process.versions.node });
  for (const [name, address] of gateway.addresses) {
    logger.info({ msg: 'listening', listener: name, url: `https://${address.address}:${address.port}` });
  }
  process.on('SIGHUP', () => {
    loadConfig(configFile)
      .then((next) => gateway.reload(next))
      .then(
        () => logger.info({ msg: 'configuration reloaded', file: configFile }),
        (err: unknown) =>
          logger.error({
            msg: 'reload refused; the previous configuration keeps serving',
            error: String(err),
          }),
      );
  });
  process.on('SIGUSR2', () => {
    reopenLogFile(logger);
    gateway.monitor.reopenEventLog();
    logger.info({ msg: 'log files reopened' });
  });
  const stop = (signal: string): void => {
    logger.info({ msg: 'stopping', signal });
    gateway.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
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
