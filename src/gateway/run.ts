import { loadConfig } from '../config/index.js';
import { createLogger } from '../observe/logger.js';
import { startGateway, type Gateway } from './gateway.js';

/**
 * The `gatehouse start` process: serve, reload on SIGHUP (a bad new configuration is refused and
 * the old one keeps serving), stop gracefully on SIGTERM/SIGINT.
 */
export async function runGateway(configFile: string): Promise<Gateway> {
  const config = await loadConfig(configFile);
  const logger = createLogger(config.log);
  const gateway = await startGateway(config, logger);
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
