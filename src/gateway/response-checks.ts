import type { ResponseCondition } from '../auth/policy/conditions.js';
import type { AuthPolicy } from '../auth/policy/auth-policy.js';
import type { Operation } from '../contract/index.js';
import type { OperationContract, ResponseContract } from '../contract/validation/index.js';

/**
 * What the respond stage checks an operation's upstream response against, and what the forward
 * stage leaves out of the request so that the response can be checked. Compiled once per
 * configuration from the operation's contract and policies: nothing here changes per request.
 */
export interface ResponseChecks {
  readonly contract: ResponseContract;
  /** `x-gatehouse-require` conditions on the response (`response.owner: principal.sub`); null when none. */
  readonly ownerConditions: readonly ResponseCondition[] | null;
  /**
   * Request headers not passed on because the response must be read whole: `Accept-Encoding`
   * (identity only), and where the owner is checked, the conditional and range headers too (a 304
   * or a range would tell an existing object from a missing one). null when the response need not
   * be read.
   */
  readonly requestDrops: ReadonlySet<string> | null;
}

const READABLE: ReadonlySet<string> = new Set(['accept-encoding']);
const OWNER_CHECKED: ReadonlySet<string> = new Set([
  'accept-encoding',
  'if-match',
  'if-none-match',
  'if-modified-since',
  'if-unmodified-since',
  'if-range',
  'range',
]);

/**
 * The checks of every operation. `readsLoginResponse` says whether an operation's login tests
 * (`x-gatehouse-login` failedWhen) read the response's JSON.
 */
export function compileResponseChecks(
  contracts: ReadonlyMap<Operation, OperationContract>,
  policies: ReadonlyMap<Operation, AuthPolicy>,
  readsLoginResponse: (operation: Operation) => boolean,
): Map<Operation, ResponseChecks> {
  const checks = new Map<Operation, ResponseChecks>();
  for (const [operation, contract] of contracts) {
    const conditions = policies.get(operation)?.access?.responseConditions ?? [];
    const ownerConditions = conditions.length > 0 ? conditions : null;
    const read = contract.response.filters || readsLoginResponse(operation);
    const requestDrops = ownerConditions !== null ? OWNER_CHECKED : read ? READABLE : null;
    checks.set(operation, Object.freeze({ contract: contract.response, ownerConditions, requestDrops }));
  }
  return checks;
}
