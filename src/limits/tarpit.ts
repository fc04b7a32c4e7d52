import type { Socket } from 'node:net';
import type { GatehouseError } from '../errors/gatehouse-error.js';
import type { LimitedRequest } from './request.js';

/**
 * Load shedding at the source, two ways.
 *
 * A client over its flood limit (or shed by the concurrency guard) gets its refusal after a
 * second, the shortest Retry-After it is told anyway: a client waiting for its responses (HTTP/1.1
 * without pipelining, which is every browser and most clients) can then cost the gateway one
 * refusal per connection per second, however fast it would like to go, and the other clients
 * keep their turns on the event loop. At most MAX_HELD_PER_ADDRESS refusals are held per address;
 * past that they go out at once.
 *
 * A client that sends a second request on the same connection within a second of a refusal
 * (pipelining, or not waiting for answers) gets that second refusal with `Connection: close`, and
 * whatever it pipelined behind it is dropped with the connection instead of costing a refusal each.
 */
const HOLD_MS = 1000;
/**
 * Held refusals are released over a quarter of a second, not all at once: a flood's connections
 * would otherwise come back in step, and the burst of what is then admitted would hit everyone
 * else's requests once a second.
 */
const HOLD_JITTER_MS = 250;
const MAX_HELD_PER_ADDRESS = 256;
const CLOSING = -1;

/** When each connection last got a pre-auth refusal (ms, performance clock), or CLOSING. */
const refusedAt = new WeakMap<Socket, number>();
const heldPerAddress = new Map<string, number>();

export function refuseOnConnection(ctx: LimitedRequest, refusal: GatehouseError): GatehouseError {
  const socket = ctx.req.socket;
  const now = performance.now();
  const last = refusedAt.get(socket);
  if (last !== undefined && last !== CLOSING && now - last < HOLD_MS) {
    ctx.res.shouldKeepAlive = false;
    refusedAt.set(socket, CLOSING);
  } else if (last !== CLOSING) {
    refusedAt.set(socket, now);
  }
  return refusal;
}

/** A request that arrived on a connection being closed after a refusal: drop the connection now. */
export function arrivedOnClosingConnection(ctx: LimitedRequest): boolean {
  const socket = ctx.req.socket;
  if (refusedAt.get(socket) !== CLOSING) return false;
  socket.destroy();
  return true;
}

/** The refusal, delivered a second from now; null when this address already has its share held. */
export function holdRefusal(ctx: LimitedRequest, refusal: GatehouseError): Promise<never> | null {
  const address = ctx.journey.clientAddress;
  const held = heldPerAddress.get(address) ?? 0;
  if (held >= MAX_HELD_PER_ADDRESS) return null;
  heldPerAddress.set(address, held + 1);
  return new Promise<never>((_, reject) => {
    setTimeout(releaseRefusal, HOLD_MS + Math.random() * HOLD_JITTER_MS, address, refusal, reject).unref();
  });
}

function releaseRefusal(
  address: string,
  refusal: GatehouseError,
  reject: (err: GatehouseError) => void,
): void {
  const held = heldPerAddress.get(address) ?? 1;
  if (held <= 1) heldPerAddress.delete(address);
  else heldPerAddress.set(address, held - 1);
  reject(refusal);
}
