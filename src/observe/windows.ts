/**
 * Counters over fixed windows, one per subject (an address, a username, a key id), bounded in
 * number: past `maxSubjects` the subject counted least recently gives way, so a run of new
 * subjects (random usernames) cannot push out one being counted now. A subject's window starts with its
 * first event and restarts with the first event after it ends. `fired` lets a detector fire once
 * per subject and window.
 */
interface Entry {
  start: number;
  count: number;
  fired: boolean;
  /** Distinct values seen (DistinctWindows only); capped at the threshold. */
  seen: Set<string> | null;
}

abstract class Windows {
  readonly #entries = new Map<string, Entry>();
  readonly #windowMs: number;
  readonly #maxSubjects: number;
  /** The subject counted last: already at the recent end of the map. */
  #last = '';

  constructor(windowMs: number, maxSubjects: number) {
    this.#windowMs = windowMs;
    this.#maxSubjects = maxSubjects;
  }

  get size(): number {
    return this.#entries.size;
  }

  protected entry(subject: string, now: number, distinct: boolean): Entry {
    let entry = this.#entries.get(subject);
    if (entry !== undefined && subject !== this.#last) {
      // Map order is insertion order: re-inserting keeps the least recently counted first.
      this.#entries.delete(subject);
      this.#entries.set(subject, entry);
    }
    this.#last = subject;
    if (entry === undefined) {
      if (this.#entries.size >= this.#maxSubjects) {
        const oldest = this.#entries.keys().next();
        if (oldest.done !== true) this.#entries.delete(oldest.value);
      }
      entry = { start: now, count: 0, fired: false, seen: distinct ? new Set() : null };
      this.#entries.set(subject, entry);
    } else if (now - entry.start >= this.#windowMs) {
      entry.start = now;
      entry.count = 0;
      entry.fired = false;
      entry.seen?.clear();
    }
    return entry;
  }
}

/** Events per subject: `add` answers the count once it reaches `threshold` for the first time in the window, else 0. */
export class CountWindows extends Windows {
  add(subject: string, threshold: number, now: number): number {
    const entry = this.entry(subject, now, false);
    entry.count += 1;
    if (entry.fired || entry.count < threshold) return 0;
    entry.fired = true;
    return entry.count;
  }
}

/** Distinct values per subject: `add` answers how many once they reach `threshold` for the first time, else 0. */
export class DistinctWindows extends Windows {
  add(subject: string, value: string, threshold: number, now: number): number {
    const entry = this.entry(subject, now, true);
    if (entry.fired) return 0;
    const seen = entry.seen!;
    seen.add(value);
    if (seen.size < threshold) return 0;
    entry.fired = true;
    const count = seen.size;
    seen.clear();
    return count;
  }
}
