import { readFile } from 'node:fs/promises';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { ContractError, fromJsonPointer } from './contract-error.js';
import { isJsonObject } from './openapi-types.js';

/**
 * An OpenAPI document (or overlay) as read from disk: its plain value, plus a way to point an
 * operator at the line a JSON pointer refers to. YAML 1.2 is a superset of JSON (YAML 1.2 §1.3),
 * so one parser reads both formats.
 */
export interface DocumentSource {
  readonly file: string;
  readonly value: unknown;
  /** " (line N)" for the node at `pointer`, or its nearest ancestor; "" when unknown. */
  lineOf(pointer: string): string;
}

/** A shared YAML anchor expanded more often than this is refused (the "billion laughs" attack). */
const MAX_ALIAS_EXPANSIONS = 100;

/** Reads and parses a YAML or JSON file; `what` names it in the message when it cannot be read. */
export async function readDocumentSource(file: string, what: string): Promise<DocumentSource> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const reason = isJsonObject(err) && typeof err.code === 'string' ? err.code : 'unreadable';
    throw new ContractError(file, null, `cannot read the ${what} (${reason})`, { cause: err });
  }
  return parseDocumentSource(file, text);
}

export function parseDocumentSource(file: string, text: string): DocumentSource {
  const lineCounter = new LineCounter();
  // Duplicate keys make a contract ambiguous (which definition wins?), so they are refused.
  const yamlDocument = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const [firstError] = yamlDocument.errors;
  if (firstError !== undefined) {
    const { line, col } = lineCounter.linePos(firstError.pos[0]);
    throw new ContractError(
      file,
      null,
      `not valid YAML or JSON (line ${line}, column ${col}): ${firstError.message}`,
    );
  }
  const value = toPlainValue(file, yamlDocument);
  return { file, value, lineOf: (pointer) => lineOfPointer(yamlDocument, lineCounter, pointer) };
}

function toPlainValue(file: string, yamlDocument: Document): unknown {
  try {
    return yamlDocument.toJS({ maxAliasCount: MAX_ALIAS_EXPANSIONS });
  } catch (err) {
    const reason = err instanceof Error ? err.message : 'unknown error';
    throw new ContractError(file, null, `cannot be read as a plain document: ${reason}`, { cause: err });
  }
}

function lineOfPointer(yamlDocument: Document, lineCounter: LineCounter, pointer: string): string {
  let node: unknown = yamlDocument.contents;
  let offset = startOffset(node);
  for (const token of fromJsonPointer(pointer)) {
    const child = childNode(node, token);
    if (child === null) break;
    node = child.value;
    offset = child.offset ?? offset;
  }
  return offset === null ? '' : ` (line ${lineCounter.linePos(offset).line})`;
}

/** The child for one pointer token, and where it starts: for a mapping, where its key is written. */
function childNode(node: unknown, token: string): { value: unknown; offset: number | null } | null {
  if (isSeq(node)) {
    const value: unknown = node.get(token, true);
    return value === undefined ? null : { value, offset: startOffset(value) };
  }
  if (!isMap(node)) return null;
  // Compared as text: an unquoted key such as `200:` is a number in YAML, "200" in the pointer.
  const pair = node.items.find(({ key }) => isScalar(key) && String(key.value) === token);
  return pair === undefined ? null : { value: pair.value, offset: startOffset(pair.key) };
}

function startOffset(node: unknown): number | null {
  if (typeof node !== 'object' || node === null || !('range' in node)) return null;
  const range: unknown = node.range;
  return Array.isArray(range) && typeof range[0] === 'number' ? range[0] : null;
}
