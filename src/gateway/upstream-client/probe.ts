import { connectUpstream, type ConnectionOptions } from './connection.js';

/**
 * Opens one connection the way the pool does (same trust, same client certificate) and
 * closes it once the handshake is done: true when the upstream would take a request now. Never
 * rejects; a handshake that has not finished within the connect timeout counts as a failure.
 */
export function probeConnection(options: ConnectionOptions): Promise<boolean> {
  return new Promise((resolve) => {
    const { socket, ready } = connectUpstream(options);
    const settle = (reachable: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(reachable);
    };
    const timer = setTimeout(() => settle(false), options.connectTimeoutMs);
    socket.once(ready, () => settle(true));
    socket.once('error', () => settle(false));
  });
}
