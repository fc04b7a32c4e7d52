/**
 * A contract that cannot be loaded or compiled. Raised at start-up or reload only, never per
 * request: the message is for the operator and says what is wrong and where (file, JSON pointer,
 * line), so it may quote the document. Library errors are kept as `cause`, never thrown as they are.
 */
export class ContractError extends Error {
  /** The OpenAPI document (or config) the problem is in. */
  readonly file: string;
  /** RFC 6901 JSON pointer of the offending part of the document, when one is known. */
  readonly pointer: string | null;
  /** The message without its file and pointer prefix, so a caller can add context and rethrow. */
  readonly problem: string;

  constructor(file: string, pointer: string | null, problem: string, options?: { cause?: unknown }) {
    super(`${file}${pointer === null ? '' : ` at ${pointer}`}: ${problem}`, options);
    this.name = 'ContractError';
    this.file = file;
    this.pointer = pointer;
    this.problem = problem;
  }
}

/** RFC 6901 §3: "~" and "/" inside a reference token are escaped as "~0" and "~1". */
export function toJsonPointer(tokens: readonly (string | number)[]): string {
  let pointer = '';
  for (const token of tokens) pointer += '/' + String(token).replaceAll('~', '~0').replaceAll('/', '~1');
  return pointer;
}

/** The reference tokens of an RFC 6901 pointer (the inverse of `toJsonPointer`). */
export function fromJsonPointer(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((token) => token.replaceAll('~1', '/').replaceAll('~0', '~'));
}
