import { isIPv6 } from 'node:net';

/**
 * Per-address admission at accept time, before any TLS work: at most `maxConnections` open at
 * once and a token bucket of `handshakesPerSecond` new connections (burst: two seconds' worth)
 * from one address. One address (a slow-headers client holding slots, a handshake flood) cannot
 * take the listener's whole `maxConnections` or its CPU. An IPv6 client is counted by its /64,
 * the block one host is usually given; an IPv4-mapped address as the IPv4 address it is.
 */
export class AddressGate {
  readonly #maxConnections: number;
  readonly #rate: number;
  readonly #burst: number;
  readonly #clients = new Map<string, ClientState>();

  constructor(maxConnections: number, handshakesPerSecond: number) {
    this.#maxConnections = maxConnections;
    this.#rate = handshakesPerSecond / 1000;
    this.#burst = handshakesPerSecond * 2;
  }

  /** null when admitted (then `release` once the connection closes), else why not. */
  admit(address: string, now: number): string | null {
    const key = addressKey(address);
    let state = this.#clients.get(key);
    if (state === undefined) {
      state = { open: 0, tokens: this.#burst, at: now, reportedAt: -Infinity };
      this.#clients.set(key, state);
    }
    state.tokens = Math.min(this.#burst, state.tokens + (now - state.at) * this.#rate);
    state.at = now;
    if (state.open >= this.#maxConnections)
      return `over ${this.#maxConnections} open connections from ${key}`;
    if (state.tokens < 1) return `over ${this.#rate * 1000} new connections a second from ${key}`;
    state.tokens -= 1;
    state.open += 1;
    return null;
  }

  release(address: string): void {
    const state = this.#clients.get(addressKey(address));
    if (state !== undefined && state.open > 0) state.open -= 1;
  }

  /** Whether a refusal for this address should be reported now: once a second at most. */
  report(address: string, now: number): boolean {
    const state = this.#clients.get(addressKey(address));
    if (state === undefined || now - state.reportedAt < 1000) return false;
    state.reportedAt = now;
    return true;
  }

  /** Forgets addresses with nothing open and a full bucket: they would start over the same. */
  sweep(now: number): void {
    for (const [key, state] of this.#clients) {
      if (state.open === 0 && state.tokens + (now - state.at) * this.#rate >= this.#burst) {
        this.#clients.delete(key);
      }
    }
  }

  get size(): number {
    return this.#clients.size;
  }
}

interface ClientState {
  open: number;
  tokens: number;
  at: number;
  reportedAt: number;
}

/** The address as counted: IPv4 as written, IPv6 by its first 64 bits. */
export function addressKey(address: string): string {
  if (!address.includes(':')) return address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped !== null) return mapped[1]!;
  if (!isIPv6(address)) return address;
  return `${expandIPv6(address).slice(0, 4).join(':')}::/64`;
}

/** The eight groups of an IPv6 address, "::" expanded (an embedded IPv4 tail takes two groups). */
function expandIPv6(address: string): string[] {
  const [head = '', tail] = address.toLowerCase().split('::');
  const part = (text: string): string[] =>
    text === '' ? [] : text.split(':').flatMap((group) => (group.includes('.') ? ['0', '0'] : [group]));
  const front = part(head);
  const back = tail === undefined ? [] : part(tail);
  const zeros = new Array<string>(Math.max(0, 8 - front.length - back.length)).fill('0');
  return [...front, ...zeros, ...back].map((group) => group.replace(/^0+(?=.)/, ''));
}
