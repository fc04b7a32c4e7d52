/**
 * Path templates ("/accounts/{id}/transfer", "/files/{name}.{ext}") parsed once at load into
 * segments the route trie can match without building anything per request.
 */

/** A template expression inside a segment, between two literal parts (either may be ""). */
export interface SegmentPattern {
  /** Literal parts around the expressions: one more than there are names. */
  readonly literals: readonly string[];
  readonly names: readonly string[];
  /** Count of literal characters: a more literal pattern is more specific and is tried first. */
  readonly literalLength: number;
}

export type TemplateSegment =
  | { readonly kind: 'literal'; readonly text: string; readonly shape: string }
  | { readonly kind: 'param'; readonly name: string; readonly shape: string }
  | { readonly kind: 'pattern'; readonly pattern: SegmentPattern; readonly shape: string };

export interface ParsedTemplate {
  readonly template: string;
  readonly segments: readonly TemplateSegment[];
  readonly paramNames: readonly string[];
  /** The template with every expression written "{}": two templates of one shape are identical. */
  readonly shape: string;
}

/** Thrown by the parser; the caller knows which file and pointer to blame. */
export class TemplateSyntaxError extends Error {
  override readonly name = 'TemplateSyntaxError';
}

/**
 * RFC 3986 §3.3 pchar minus "%": a literal in a template is compared with the raw request path,
 * so it must be written as the client sends it, with nothing that has two spellings.
 */
const LITERAL_CHAR = /^[A-Za-z0-9\-._~!$&'()*+,;=:@]*$/;

export function parsePathTemplate(template: string): ParsedTemplate {
  if (!template.startsWith('/')) throw new TemplateSyntaxError(`"${template}" must start with "/"`);
  const texts = template.slice(1).split('/');
  const segments: TemplateSegment[] = [];
  const paramNames: string[] = [];
  texts.forEach((text, index) => {
    const isLast = index === texts.length - 1;
    segments.push(parseSegment(template, text, isLast, paramNames));
  });
  return { template, segments, paramNames, shape: '/' + segments.map((s) => s.shape).join('/') };
}

function parseSegment(
  template: string,
  text: string,
  isLast: boolean,
  paramNames: string[],
): TemplateSegment {
  // A trailing "/" is a declared empty last segment; an empty one elsewhere could never be requested.
  if (text === '' && !isLast) throw new TemplateSyntaxError(`"${template}" has an empty segment ("//")`);
  if (text === '.' || text === '..')
    throw new TemplateSyntaxError(`"${template}" has a dot segment "${text}"`);
  const { literals, names } = splitExpressions(template, text);
  for (const name of names) {
    if (paramNames.includes(name)) throw new TemplateSyntaxError(`"${template}" uses {${name}} twice`);
    paramNames.push(name);
  }
  const shape = literals.join('{}');
  if (names.length === 0) return { kind: 'literal', text, shape };
  if (names.length === 1 && literals[0] === '' && literals[1] === '')
    return { kind: 'param', name: names[0]!, shape };
  const literalLength = literals.reduce((sum, literal) => sum + literal.length, 0);
  return { kind: 'pattern', pattern: { literals, names, literalLength }, shape };
}

function splitExpressions(template: string, text: string): { literals: string[]; names: string[] } {
  const literals: string[] = [];
  const names: string[] = [];
  let rest = text;
  for (let open = rest.indexOf('{'); open !== -1; open = rest.indexOf('{')) {
    const close = rest.indexOf('}', open);
    const name = close === -1 ? '' : rest.slice(open + 1, close);
    if (name === '' || name.includes('{'))
      throw new TemplateSyntaxError(`"${template}" has a malformed {expression}`);
    // "{a}{b}": nothing says where a ends and b begins.
    if (names.length > 0 && open === 0)
      throw new TemplateSyntaxError(`"${template}" has two adjacent {expressions}`);
    literals.push(checkedLiteral(template, rest.slice(0, open)));
    names.push(name);
    rest = rest.slice(close + 1);
  }
  literals.push(checkedLiteral(template, rest));
  return { literals, names };
}

function checkedLiteral(template: string, literal: string): string {
  if (LITERAL_CHAR.test(literal)) return literal;
  throw new TemplateSyntaxError(
    `"${template}" has a character that must be percent-encoded or is not allowed in a path ("${literal}"); ` +
      'only RFC 3986 unreserved and sub-delimiter characters, ":" and "@" may be written literally',
  );
}

/**
 * Matches one raw segment against a pattern such as "{name}.{ext}", pushing the captured raw
 * values. Linear time and no RegExp: a greedy multi-capture RegExp backtracks polynomially on a
 * crafted segment. Each separator is taken at its rightmost possible place, which gives the earlier
 * expressions the longest values ("a.b.c" → name "a.b", ext "c"), as a greedy RegExp would.
 */
export function matchSegmentPattern(pattern: SegmentPattern, segment: string, captures: string[]): boolean {
  const { literals } = pattern;
  const head = literals[0]!;
  const tail = literals[literals.length - 1]!;
  if (segment.length < pattern.literalLength + pattern.names.length) return false;
  if (!segment.startsWith(head) || !segment.endsWith(tail)) return false;
  const found: string[] = [];
  let end = segment.length - tail.length;
  for (let i = literals.length - 2; i >= 1; i--) {
    const separator = literals[i]!;
    const at = segment.lastIndexOf(separator, end - separator.length - 1);
    if (at <= head.length) return false;
    found.push(segment.slice(at + separator.length, end));
    end = at;
  }
  if (end <= head.length) return false;
  captures.push(segment.slice(head.length, end));
  for (let i = found.length - 1; i >= 0; i--) captures.push(found[i]!);
  return true;
}
