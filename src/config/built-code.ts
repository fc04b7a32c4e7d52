import { createRequire } from 'node:module';

/**
 * A module `npm run build` compiled ahead of time (a validator's standalone code), `file` next to
 * the module at `from` (its `import.meta.url`), if `matches` says it was made from what this
 * process would compile; else null: not built (the sources run by the tests), or stale.
 */
export function loadBuilt<T>(from: string, file: string, matches: (built: T) => boolean): T | null {
  try {
    const built = createRequire(from)(file) as T;
    return matches(built) ? built : null;
  } catch {
    return null;
  }
}
