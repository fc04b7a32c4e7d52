import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

/**
 * True when the connection presented a certificate that chains to the configured CA (the TLS
 * layer checked that: `authorized`) and names the gateway (RFC 5280 subject CN). Judged once per
 * connection: the peer cannot change its certificate on a kept-alive connection (renegotiation
 * is refused by Node's TLS 1.3 and limited under 1.2).
 */
export function createGatewayConnectionCheck(gatewayName: string): (socket: Socket) => boolean {
  const judged = new WeakMap<Socket, boolean>();
  return function isGatewayConnection(socket) {
    let verdict = judged.get(socket);
    if (verdict === undefined) {
      verdict = judge(socket as TLSSocket, gatewayName);
      judged.set(socket, verdict);
    }
    return verdict;
  };
}

function judge(socket: TLSSocket, gatewayName: string): boolean {
  if (socket.authorized !== true || typeof socket.getPeerCertificate !== 'function') return false;
  const subject = socket.getPeerCertificate().subject as { CN?: string | string[] } | undefined;
  return subject?.CN === gatewayName;
}
