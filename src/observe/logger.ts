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

/**
 * Lines are gathered up to 4 KiB and written at least every 100 ms: one write per request
 * (a thread-pool hop and a system call each) costs more than the rest of the access log.
 * Shutdown flushes what is pending.
 */
const BUFFERING = { sync: false, minLength: 4096, periodicFlush: 100 } as const;

export function createLogger(config: LogConfig): Logger {
  const destination =
    config.destination === 'stdout'
      ? pino.destination({ dest: 1, ...BUFFERING })
      : config.destination === 'stderr'
        ? pino.destination({ dest: 2, ...BUFFERING })
        : pino.destination({ dest: config.destination, mkdir: true, ...BUFFERING });
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
