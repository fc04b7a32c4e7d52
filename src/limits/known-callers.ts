/**
 * Credentials that have authenticated from an address before, remembered per address for a
 * while. When a key scan from a shared address (NAT, an office proxy) has spent that address's
 * failed-authentication budget, its callers who were already using a valid credential from there
 * keep their access; a credential never seen from that address (every guess of the scanner) still
 * meets the budget, so the scan learns nothing more than before.
 */
const REFRESH_MS = 60_000;

export class KnownCallers {
  readonly #maxAddresses: number;
  readonly #maxPerAddress: number;
  readonly #forgetAfterMs: number;
  /** address → credential id → when it last authenticated there; oldest address first. */
  readonly #byAddress = new Map<string, Map<string, number>>();

  constructor(maxAddresses: number, maxPerAddress: number, forgetAfterMs: number) {
    this.#maxAddresses = maxAddresses;
    this.#maxPerAddress = maxPerAddress;
    this.#forgetAfterMs = forgetAfterMs;
  }

  /** The credential authenticated from the address just now. */
  remember(address: string, credentialId: string, now: number): void {
    let ids = this.#byAddress.get(address);
    // Seen within the minute: nothing to update (this runs for every authenticated request).
    if (now - (ids?.get(credentialId) ?? -Infinity) < REFRESH_MS) return;
    if (ids === undefined) {
      if (this.#byAddress.size >= this.#maxAddresses) {
        this.#byAddress.delete(this.#byAddress.keys().next().value!);
      }
      ids = new Map();
      this.#byAddress.set(address, ids);
    } else if (ids.has(credentialId)) {
      ids.delete(credentialId); // moved to the end: the most recently used
    } else if (ids.size >= this.#maxPerAddress) {
      ids.delete(ids.keys().next().value!);
    }
    ids.set(credentialId, now);
  }

  /** Whether the credential authenticated from the address within forgetAfter. */
  knows(address: string, credentialId: string, now: number): boolean {
    const at = this.#byAddress.get(address)?.get(credentialId);
    return at !== undefined && now - at <= this.#forgetAfterMs;
  }
}
