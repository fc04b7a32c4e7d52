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

/** The file behind each logger that writes to one, so it can be reopened after rotation. */
const files = new WeakMap<Logger, ReturnType<typeof pino.destination>>();

export function createLogger(config: LogConfig): Logger {
  const toFile = config.destination !== 'stdout' && config.destination !== 'stderr';
  const destination =
    config.destination === 'stdout'
      ? pino.destination({ dest: 1, ...BUFFERING })
      : config.destination === 'stderr'
        ? pino.destination({ dest: 2, ...BUFFERING })
        : pino.destination({ dest: config.destination, mkdir: true, ...BUFFERING });
  const logger = pino(
    {
      level: config.level,
      base: { service: 'gatehouse' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
  if (toFile) files.set(logger, destination);
  return logger;
}

/** A stream of JSON lines of our own making (security events): no logger fields, no redaction pass. */
export interface JsonLineStream {
  write(record: object): void;
  /** After log rotation; a no-op on stdout and stderr. Resolves once the new file is open. */
  reopen(): Promise<void>;
  /** Writes what is pending and closes the file. */
  close(): void;
}

/**
 * One JSON line per record, buffered like the log. For records built field by field from values
 * that are never secret (security events): they skip pino's redaction, which would cost more
 * than the line itself.
 */
export function createJsonLineStream(destination: string): JsonLineStream {
  const toFile = destination !== 'stdout' && destination !== 'stderr';
  const sink =
    destination === 'stdout'
      ? pino.destination({ dest: 1, ...BUFFERING })
      : destination === 'stderr'
        ? pino.destination({ dest: 2, ...BUFFERING })
        : pino.destination({ dest: destination, mkdir: true, ...BUFFERING });
  return {
    write: (record) => void sink.write(JSON.stringify(record) + '\n'),
    reopen: () => (toFile ? flushThenReopen(sink) : Promise.resolve()),
    close: () => {
      if (toFile) sink.end();
      else sink.flush();
    },
  };
}

/**
 * Reopens the file a logger writes to (after logrotate moved it away: `SIGUSR2`): what is pending
 * goes to the old file first, what is logged once this resolves to the new one. Loggers on stdout
 * or stderr are left as they are.
 */
export function reopenLogFile(logger: Logger): Promise<void> {
  const file = files.get(logger);
  return file === undefined ? Promise.resolve() : flushThenReopen(file);
}

/** sonic-boom reopens without writing its buffer first: it would land in the new file. */
function flushThenReopen(file: ReturnType<typeof pino.destination>): Promise<void> {
  return new Promise((resolve) => {
    const reopen = (): void => {
      // Settled either way: a file that cannot be reopened is said by the stream's own error.
      const done = (): void => {
        file.off('ready', done).off('error', done);
        resolve();
      };
      file.once('ready', done).once('error', done);
      file.reopen();
    };
    try {
      file.flush(() => reopen());
    } catch {
      reopen(); // not open yet: nothing was written to flush
    }
  });
}
