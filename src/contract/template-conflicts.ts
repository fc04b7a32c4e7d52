import type { Operation } from './operation.js';
import { ContractError, toJsonPointer } from './contract-error.js';
import type { ParsedTemplate } from './path-template.js';

export interface RouteEntry {
  readonly operation: Operation;
  readonly parsed: ParsedTemplate;
  /** The document the operation comes from, blamed when it conflicts with an earlier one. */
  readonly file: string;
}

/**
 * Refuses routes that would make matching ambiguous: two templates of one shape ("/a/{x}" and
 * "/a/{y}": OpenAPI, Paths Object, "templated paths with the same hierarchy but different templated
 * names MUST NOT exist as they are identical"), and one method + template declared twice (across APIs).
 */
export function assertNoTemplateConflicts(entries: readonly RouteEntry[]): void {
  const byShape = new Map<string, RouteEntry>();
  const byOperation = new Map<string, RouteEntry>();
  for (const entry of entries) {
    const { operation, parsed } = entry;
    const sameShape = byShape.get(parsed.shape);
    if (sameShape !== undefined && sameShape.parsed.template !== parsed.template) {
      throw conflict(entry, sameShape, 'the same path with different parameter names is ambiguous');
    }
    byShape.set(parsed.shape, sameShape ?? entry);
    const key = `${operation.method} ${parsed.template}`;
    const sameOperation = byOperation.get(key);
    if (sameOperation !== undefined)
      throw conflict(entry, sameOperation, 'the same operation is declared twice');
    byOperation.set(key, entry);
  }
}

function conflict(entry: RouteEntry, earlier: RouteEntry, why: string): ContractError {
  const { operation } = entry;
  const other = earlier.operation;
  const pointer = toJsonPointer(['paths', operation.documentPath, operation.method.toLowerCase()]);
  const problem =
    `${operation.method} ${operation.template} (api "${operation.apiName}") conflicts with ` +
    `${other.method} ${other.template} (api "${other.apiName}", ${earlier.file}): ${why}`;
  return new ContractError(entry.file, pointer, problem);
}
