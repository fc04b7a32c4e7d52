import { pino, type Logger } from 'pino';
import type { LogConfig } from '../config/types.js';

/**
 * Header names and fields that must never reach a log line, whatever a later change logs.
 * pino's redaction is compiled once, so it costs nothing on lines that lack these paths.
 */
const REDACTED_PATHS = [
  'headers.authorization',
  'headers.cookie',
  'headers["set-cookie"]',
  'headers["x-api-key"]',
  'headers["proxy-authorization"]',
  '*.password',
  '*.apiKey',
  '*.token',
];

export function createLogger(config: LogConfig): Logger {
  const destination =
    config.destination === 'stdout'
      ? pino.destination({ dest: 1, sync: false })
      : config.destination === 'stderr'
        ? pino.destination({ dest: 2, sync: false })
        : pino.destination({ dest: config.destination, sync: false, mkdir: true });
  return pino(
    {
      level: config.level,
      base: { service: 'gatehouse' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
