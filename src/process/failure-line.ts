import { ConfigError } from '../config/issues.js';
import { StoreUnavailable } from '../config/store-failure.js';
import { ContractError } from '../contract/contract-error.js';
import { WorkersFailed } from './worker-messages.js';

/**
 * What a command that failed prints: one line an operator can act on, never a stack trace
 * (GATEHOUSE_DEBUG=1 adds it). A ConfigError is the exception: it lists every issue, one a line.
 * `gatehouse start` writes the same text to its log file.
 */
export function failureLine(err: unknown): string {
  if (
    err instanceof ConfigError ||
    err instanceof ContractError ||
    err instanceof StoreUnavailable ||
    err instanceof WorkersFailed // a worker's own failure line
  ) {
    return err.message;
  }
  const { code, syscall } = (err ?? {}) as NodeJS.ErrnoException;
  // A worker of `gatehouse start --workers` meets the same refusal as `bind` (the primary binds).
  const listening = syscall === 'listen' || syscall === 'bind';
  if (listening && (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL')) {
    const { address, port } = err as NodeJS.ErrnoException & { address?: string; port?: number };
    return (
      `cannot listen on ${address ?? '?'}:${port ?? '?'} (${code}): another process holds it or the address is not ` +
      "this machine's; stop that process or change the port in the configuration"
    );
  }
  const message = err instanceof Error ? err.message : String(err);
  return `gatehouse: ${message.replace(/\s*\n\s*/g, ' ')}`;
}
