import { exec, type JsonValue, type Path } from 'jsonpath-rfc9535';
import { ContractError } from './contract-error.js';

/** One checked Action Object of an overlay (Overlay 1.0 §Action Object). */
export interface OverlayAction {
  /** `actions[2].target (line 14)`: where the action is written, for messages. */
  readonly where: string;
  /** An RFC 9535 JSONPath query. */
  readonly target: string;
  readonly change: { readonly remove: true } | { readonly update: unknown };
}

type PlainObject = Record<string, unknown>;

interface Match {
  readonly value: unknown;
  /** Member names as RFC 9535 §2.7 normalized paths write them (escaped), indexes as numbers. */
  readonly path: Path;
}

/** Applies the actions in order to `document`, in place. */
export function applyOverlayActions(
  document: unknown,
  file: string,
  actions: readonly OverlayAction[],
): void {
  for (const action of actions) {
    const matches = select(document, file, action);
    if ('remove' in action.change) removeMatches(document, file, action, matches);
    else for (const match of matches) updateMatch(file, action, match, action.change.update);
  }
}

function select(document: unknown, file: string, action: OverlayAction): Match[] {
  const matches: Match[] = [];
  try {
    // The document is parsed YAML/JSON: plain objects, arrays and primitives only.
    exec(document as JsonValue, action.target, (value, path) => matches.push({ value, path }));
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw actionError(
      file,
      action,
      `${action.target} is not a valid RFC 9535 JSONPath query: ${reason}`,
      err,
    );
  }
  // Overlay 1.0 allows a target that selects nothing; here it is refused, because a misspelt
  // target would otherwise drop the security requirement or limit it carries without a word.
  if (matches.length === 0) {
    const problem = `${action.target} matches nothing in the document (as changed by the actions before it); a target that misses is refused so that a typo cannot silently drop a policy: correct the target, or delete the action`;
    throw actionError(file, action, problem);
  }
  return matches;
}

/**
 * Overlay 1.0 §Action Object: an object target merges the update's properties, an array target
 * gets the update appended as one entry. A primitive cannot be updated in 1.0; its parent can.
 */
function updateMatch(file: string, action: OverlayAction, match: Match, update: unknown): void {
  const { value } = match;
  if (Array.isArray(value)) {
    // 1.0 appends the list as one entry, 1.1 concatenates it: refused rather than guessed.
    if (Array.isArray(update)) {
      const problem = `selects the list ${formatPath(match.path)} and update is a list too: give one entry to append, or update the list's parent to replace the list`;
      throw actionError(file, action, problem);
    }
    value.push(structuredClone(update));
  } else if (isPlainObject(value)) {
    if (!isPlainObject(update)) {
      throw actionError(
        file,
        action,
        `selects the object ${formatPath(match.path)}: update must be a mapping to merge into it`,
      );
    }
    mergeInto(value, structuredClone(update));
  } else {
    const problem = `selects ${describeValue(value)} at ${formatPath(match.path)}, which Overlay 1.0 cannot update: target the object that holds it and give the new value in update, e.g. target: $.info with update: { title: … }`;
    throw actionError(file, action, problem);
  }
}

/**
 * Overlay 1.0 §Action Object: "the properties in the update object are recursively merged with
 * the properties in the target object with the same names; new properties are added". A list is
 * replaced, not merged: 1.0 says a complete array can only be replaced, which lets an overlay
 * swap the vendor's `security` for the operator's.
 */
function mergeInto(target: PlainObject, update: PlainObject): void {
  for (const [key, value] of Object.entries(update)) {
    const current = Object.hasOwn(target, key) ? target[key] : undefined;
    if (isPlainObject(current) && isPlainObject(value)) mergeInto(current, value);
    // Defined, not assigned: an assignment to "__proto__" would replace the object's prototype.
    else Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  }
}

/**
 * Removes every selected node from the object or list holding it. All parents are found before
 * anything is removed, list entries go from the highest index down so that the indexes still
 * hold, and a node selected twice is removed once. A primitive may be removed too (Overlay 1.1
 * allows it; 1.0 offers no other way to drop a property such as a vendor's mark).
 */
function removeMatches(
  document: unknown,
  file: string,
  action: OverlayAction,
  matches: readonly Match[],
): void {
  const removals = new Map<object, Set<string | number>>();
  for (const { path } of matches) {
    const last = path[path.length - 1];
    if (last === undefined)
      throw actionError(file, action, 'selects the document root ($), which cannot be removed');
    const parent = nodeAt(document, path.slice(0, -1));
    const keys = removals.get(parent) ?? new Set<string | number>();
    removals.set(parent, keys.add(memberName(last)));
  }
  for (const [parent, keys] of removals) {
    if (Array.isArray(parent)) {
      const indexes = [...keys].map(Number).sort((a, b) => b - a);
      for (const index of indexes) parent.splice(index, 1);
    } else for (const key of keys) delete (parent as PlainObject)[key];
  }
}

/** The object or list at `path`; it exists, since the query has just found a node below it. */
function nodeAt(document: unknown, path: Path): object {
  let node = document;
  for (const token of path) node = (node as PlainObject)[memberName(token)];
  if (typeof node !== 'object' || node === null) throw new Error('overlay: a selected node has no parent');
  return node;
}

const NORMALIZED_ESCAPE = /\\(?:u([0-9a-f]{4})|([bfnrt'\\]))/g;
const ESCAPED: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', "'": "'", '\\': '\\' };

/** RFC 9535 §2.7: a normalized path escapes "'", "\" and control characters in member names. */
function memberName(token: string | number): string | number {
  if (typeof token === 'number') return token;
  return token.replace(NORMALIZED_ESCAPE, (_, hex: string | undefined, char: string | undefined) =>
    hex === undefined ? (ESCAPED[char ?? ''] ?? '') : String.fromCharCode(parseInt(hex, 16)),
  );
}

/** RFC 9535 §2.7 normalized path, e.g. $['paths']['/notes']; the names are already escaped. */
function formatPath(path: Path): string {
  return '$' + path.map((token) => (typeof token === 'number' ? `[${token}]` : `['${token}']`)).join('');
}

function describeValue(value: unknown): string {
  return value === null ? 'null' : `a ${typeof value}`;
}

function isPlainObject(value: unknown): value is PlainObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function actionError(file: string, action: OverlayAction, problem: string, cause?: unknown): ContractError {
  const options = cause === undefined ? undefined : { cause };
  return new ContractError(file, null, `${action.where}: ${problem}`, options);
}
