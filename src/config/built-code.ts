import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** A module built ahead of time that this process could not use, and why. */
export interface UnusedBuiltCode {
  readonly file: string;
  readonly reason: 'missing' | 'stale' | 'unreadable';
}

const unused: UnusedBuiltCode[] = [];

/**
 * A module `npm run build` compiled ahead of time (a validator's standalone code), `file` next to
 * the module at `from` (its `import.meta.url`), if `matches` says it was made from what this
 * process would compile; else null, and the caller compiles at run time. From the compiled
 * gateway (`from` a .js file), a missing, stale or unreadable module is a build out of step with
 * the code or the libraries installed: it is noted for `builtCodeNotUsed`. From the sources (the
 * tests), nothing is built, and nothing is noted.
 */
export function loadBuilt<T>(from: string, file: string, matches: (built: T) => boolean): T | null {
  const compiled = from.endsWith('.js');
  const where = fileURLToPath(new URL(file, from));
  let built: T;
  try {
    built = createRequire(from)(file) as T;
  } catch {
    // Not there at all, or there and failing to load (a syntax error, a library it needs gone).
    if (compiled) note(where, existsSync(where) ? 'unreadable' : 'missing');
    return null;
  }
  if (matches(built)) return built;
  if (compiled) note(where, 'stale');
  return null;
}

function note(file: string, reason: UnusedBuiltCode['reason']): void {
  if (!unused.some((one) => one.file === file)) unused.push({ file, reason });
}

/**
 * The modules built ahead of time that this process compiled at run time instead (each costs
 * about 0.1 s at every start and reload): `npm run build` makes them again.
 */
export function builtCodeNotUsed(): readonly UnusedBuiltCode[] {
  return unused;
}
