import { isIP } from 'node:net';

/**
 * Whether `host` names this machine's loopback interface only: 127.0.0.0/8, ::1, localhost.
 * The admin API can create keys; it is never reachable from another machine (DESIGN.md).
 */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  if (isIP(host) !== 4) return false;
  return host.split('.')[0] === '127';
}
