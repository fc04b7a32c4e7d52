import { ContractError, fromJsonPointer, toJsonPointer } from './contract-error.js';
import { readDocumentSource, type DocumentSource } from './document-source.js';
import { isJsonObject, type JsonObject } from './openapi-types.js';
import { applyOverlayActions, type OverlayAction } from './overlay-apply.js';

/**
 * OpenAPI Overlay 1.0 (https://spec.openapis.org/overlay/v1.0.0.html): the operator's changes to a
 * document they do not own (security, scopes, x-gatehouse-* marks, tighter schemas), kept in
 * their own files and applied before the contract is compiled, the vendor's file untouched.
 */
export interface Overlay {
  readonly file: string;
  readonly actions: readonly OverlayAction[];
}

/** Reads and checks one overlay file (YAML or JSON, parsed as safely as the OpenAPI document). */
export async function readOverlay(file: string): Promise<Overlay> {
  const source = await readDocumentSource(file, 'overlay');
  return { file, actions: checkOverlay(source) };
}

/**
 * Applies the overlays in order (Overlay 1.0 §Overlay Object: each action to the result of the
 * previous one) to a deep copy of `document`, which is left as it was. The result is plain data.
 */
export function applyOverlays(document: unknown, overlays: readonly Overlay[]): unknown {
  const copy = structuredClone(document);
  for (const overlay of overlays) applyOverlayActions(copy, overlay.file, overlay.actions);
  return copy;
}

/**
 * The document as the overlay files change it, for the loader. Lines still point into the
 * document's own file, for the parts it wrote; a part an overlay added has no line there.
 */
export async function overlaidSource(
  source: DocumentSource,
  files: readonly string[],
): Promise<DocumentSource> {
  if (files.length === 0) return source;
  const overlays: Overlay[] = [];
  for (const file of files) overlays.push(await readOverlay(file));
  const value = applyOverlays(source.value, overlays);
  const lineOf = (pointer: string) => (hasNode(source.value, pointer) ? source.lineOf(pointer) : '');
  return { file: source.file, value, lineOf };
}

function hasNode(root: unknown, pointer: string): boolean {
  let node = root;
  for (const token of fromJsonPointer(pointer)) {
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, token)) return false;
    node = (node as JsonObject)[token];
  }
  return true;
}

// Overlay 1.0 §Schema: the fixed fields of each object; any of them may also carry x- extensions.
const OVERLAY_FIELDS = ['overlay', 'info', 'extends', 'actions'];
const INFO_FIELDS = ['title', 'version'];
const ACTION_FIELDS = ['target', 'description', 'update', 'remove'];
// Overlay 1.0 §Versions: the patch number is not a feature set, so any 1.0.x is read alike.
const SUPPORTED_VERSION = /^1\.0\.[0-9]+$/;

type Tokens = readonly (string | number)[];

function checkOverlay(source: DocumentSource): OverlayAction[] {
  const root = source.value;
  if (!isJsonObject(root)) {
    throw shapeError(
      source,
      [],
      'expected an OpenAPI Overlay 1.0 document (a mapping with overlay, info and actions)',
    );
  }
  checkFields(source, [], root, OVERLAY_FIELDS);
  checkVersion(source, root.overlay);
  checkInfo(source, root.info);
  if (root.extends !== undefined) checkString(source, ['extends'], root.extends);
  return checkActions(source, root.actions);
}

function checkVersion(source: DocumentSource, version: unknown): void {
  if (version === undefined) throw shapeError(source, [], '"overlay" is missing: write overlay: 1.0.0');
  if (typeof version !== 'string') {
    throw shapeError(source, ['overlay'], 'must be a version string such as "1.0.0" (quoted in YAML)');
  }
  if (!SUPPORTED_VERSION.test(version)) {
    throw shapeError(source, ['overlay'], `Overlay ${version} is not supported: expected 1.0.x`);
  }
}

function checkInfo(source: DocumentSource, info: unknown): void {
  if (!isJsonObject(info)) {
    throw shapeError(
      source,
      info === undefined ? [] : ['info'],
      '"info" must be a mapping with title and version',
    );
  }
  checkFields(source, ['info'], info, INFO_FIELDS);
  checkString(source, ['info', 'title'], info.title);
  checkString(source, ['info', 'version'], info.version);
}

function checkActions(source: DocumentSource, actions: unknown): OverlayAction[] {
  if (!Array.isArray(actions) || actions.length === 0) {
    const at = actions === undefined ? [] : ['actions'];
    throw shapeError(
      source,
      at,
      '"actions" must be a list of at least one action (Overlay 1.0 §Overlay Object)',
    );
  }
  return actions.map((action: unknown, index) => checkAction(source, action, index));
}

function checkAction(source: DocumentSource, action: unknown, index: number): OverlayAction {
  const at = ['actions', index];
  if (!isJsonObject(action))
    throw shapeError(source, at, 'must be a mapping with target and update or remove');
  checkFields(source, at, action, ACTION_FIELDS);
  checkString(source, [...at, 'target'], action.target);
  if (action.description !== undefined) checkString(source, [...at, 'description'], action.description);
  if (action.remove !== undefined && typeof action.remove !== 'boolean') {
    throw shapeError(source, [...at, 'remove'], 'must be true or false');
  }
  const where = `${formatTokens(at)}.target${source.lineOf(toJsonPointer([...at, 'target']))}`;
  const target = action.target;
  if (action.remove === true) return { where, target, change: removeOnly(source, at, action) };
  if (!Object.hasOwn(action, 'update')) {
    throw shapeError(
      source,
      at,
      'has neither update nor remove: true, so it would change nothing: give one of them',
    );
  }
  return { where, target, change: { update: action.update } };
}

/**
 * Overlay 1.0 §Action Object lets `remove: true` silently win over an `update` beside it; an
 * update the operator wrote and that never happens could be a lost security requirement.
 */
function removeOnly(source: DocumentSource, at: Tokens, action: JsonObject): { remove: true } {
  if (!Object.hasOwn(action, 'update')) return { remove: true };
  const problem =
    'has both update and remove: true, and the update would be ignored: remove, then re-create in a second action';
  throw shapeError(source, at, problem);
}

function checkFields(source: DocumentSource, at: Tokens, value: JsonObject, fields: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (fields.includes(key) || key.startsWith('x-')) continue;
    const allowed = `${fields.join(', ')} and x- extensions`;
    throw shapeError(
      source,
      [...at, key],
      `unknown field ${JSON.stringify(key)}: allowed here are ${allowed}`,
    );
  }
}

function checkString(source: DocumentSource, at: Tokens, value: unknown): asserts value is string {
  if (typeof value === 'string' && value !== '') return;
  const field = String(at[at.length - 1]);
  if (value === undefined)
    throw shapeError(source, at.slice(0, -1), `"${field}" is missing: it must be a string`);
  throw shapeError(source, at, 'must be a non-empty string');
}

/** `actions[2].target (line 14): problem`, the place written as an operator reads the file. */
function shapeError(source: DocumentSource, at: Tokens, problem: string): ContractError {
  if (at.length === 0) return new ContractError(source.file, null, problem);
  const line = source.lineOf(toJsonPointer(at));
  return new ContractError(source.file, null, `${formatTokens(at)}${line}: ${problem}`);
}

function formatTokens(tokens: Tokens): string {
  let text = '';
  for (const token of tokens)
    text += typeof token === 'number' ? `[${token}]` : `${text === '' ? '' : '.'}${token}`;
  return text;
}
