import cluster from 'node:cluster';
import { failureLine } from './failure-line.js';
import { workerRole } from './worker-messages.js';

/**
 * `gatehouse start`: one process serving alone (`--workers 1`), or the primary of several
 * workers (src/process/workers.ts), or one of those workers, which tells the primary why it could
 * not start instead of printing it (the primary prints it once). Each loads only what it runs:
 * the primary forks its first worker before it loads the configuration code.
 */
export async function startCommand(configFile: string, workers: number): Promise<void> {
  const role = workerRole();
  if (role === null && workers > 1 && cluster.isPrimary) {
    const { runWorkers } = await import('./workers.js');
    await runWorkers(configFile, workers);
    return;
  }
  const { runGateway } = await import('./run.js');
  if (role === null) {
    await runGateway(configFile);
    return;
  }
  // Until its own handlers are in place, a reload or reopen (the primary sends those only once
  // the worker serves; a terminal may send them to the whole group) must not end the worker.
  const early = (): void => undefined;
  process.on('SIGHUP', early).on('SIGUSR2', early);
  const { WorkerLink } = await import('./worker.js');
  const link = new WorkerLink(role);
  try {
    await runGateway(configFile, link);
  } catch (err) {
    link.failed(failureLine(err));
  } finally {
    process.off('SIGHUP', early).off('SIGUSR2', early);
  }
}
