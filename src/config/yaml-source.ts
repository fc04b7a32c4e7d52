import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, type Document } from 'yaml';
import type { ConfigIssue, ConfigPath } from './issues.js';

/** A parsed configuration file that still knows where each value was written. */
export interface YamlSource {
  readonly data: unknown;
  /** The line of the key (or list item) at `at`; for a missing key, the line of its nearest parent. */
  lineOf(at: ConfigPath): number | null;
}

const syntaxHints: Partial<Record<string, string>> = {
  DUPLICATE_KEY: 'remove one of the two; each key may appear once in a mapping',
  MULTIPLE_DOCS: 'keep one YAML document in the file (remove the "---" separators)',
  TAB_AS_INDENT: 'indent with spaces, not tabs',
};
const aliasHint = 'use fewer aliases (*name): write the values out';
const defaultSyntaxHint =
  'fix the YAML syntax on this line: check the indentation, the ": " after each key and matching quotes';

/**
 * Parses YAML text. A syntax error is one issue with its line: after one, positions and
 * values are unreliable, so nothing further is checked.
 */
export function parseYamlSource(text: string): YamlSource | ConfigIssue {
  const lines = new LineCounter();
  // prettyErrors off: the pretty form quotes the source line, which may hold a secret.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    return {
      path: '',
      line: lines.linePos(first.pos[0]).line,
      message: `YAML syntax error: ${first.message}`,
      hint: first.code === 'RESOURCE_EXHAUSTION' ? aliasHint : (syntaxHints[first.code] ?? defaultSyntaxHint),
    };
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch {
    return { path: '', line: null, message: 'YAML aliases expand too much', hint: aliasHint };
  }
  return { data, lineOf: (at) => findLine(doc, lines, at) };
}

function findLine(doc: Document, lines: LineCounter, at: ConfigPath): number | null {
  const lineAt = (node: { range?: readonly number[] | null | undefined } | null | undefined) =>
    node?.range ? lines.linePos(node.range[0]!).line : null;
  let node: unknown = doc.contents;
  let line = at.length === 0 ? lineAt(doc.contents) : null;
  for (const segment of at) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
      if (!pair || !isScalar(pair.key)) break;
      line = lineAt(pair.key) ?? line;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      node = node.items[segment];
      if (!node) break;
      line = lineAt(node as { range?: readonly number[] }) ?? line;
    } else break;
  }
  return line;
}
