import type { GatehouseConfig } from '../../config/types.js';
import type { CompiledApi, Operation } from '../operation.js';
import { dialectOf } from './prepare-schema.js';
import { RequestValidator, type RequestValidationLimits } from './request-validator.js';
import { ResponseContract, type ResponseContractMode } from './response-contract.js';
import { createSchemaCompiler } from './schema-compiler.js';

export { RequestValidator, ALLOW_UNKNOWN_QUERY, MAX_BODY_BYTES } from './request-validator.js';
export {
  ResponseContract,
  checkResponseBody,
  type ResponseContractMode,
  type ResponseDecision,
} from './response-contract.js';
export { parseBoundedJson, JsonRefusal, type JsonBounds } from './safe-json.js';
export { formatContractWarning, lintContract, type ContractWarning } from './lint.js';
export type { FieldError } from './messages.js';

/** Both sides of one operation's contract, compiled once per configuration. */
export interface OperationContract {
  readonly request: RequestValidator;
  readonly response: ResponseContract;
}

export interface ContractOptions extends RequestValidationLimits {
  /** The `responseContract` of each API by name; absent = strip. */
  readonly responseModes: ReadonlyMap<string, ResponseContractMode>;
}

/**
 * Compiles the validators and response filters of every operation of every API, with one ajv
 * instance for them all. Throws ContractError (at start-up or reload, never per request) when
 * a schema cannot be compiled.
 */
export function compileContracts(
  apis: readonly CompiledApi[],
  options: ContractOptions,
): ReadonlyMap<Operation, OperationContract> {
  const contracts = new Map<Operation, OperationContract>();
  for (const compile of operationCompilers(apis, options, contracts)) compile();
  return contracts;
}

/**
 * compileContracts for a running gateway (a reload): the event loop is handed back whenever
 * compiling has held it for `sliceMs`, so that requests in flight are not stalled by it.
 */
export async function compileContractsInSlices(
  apis: readonly CompiledApi[],
  options: ContractOptions,
  sliceMs = 8,
): Promise<ReadonlyMap<Operation, OperationContract>> {
  const contracts = new Map<Operation, OperationContract>();
  let sliceStart = performance.now();
  for (const compile of operationCompilers(apis, options, contracts)) {
    compile();
    if (performance.now() - sliceStart < sliceMs) continue;
    await new Promise((resolve) => setImmediate(resolve));
    sliceStart = performance.now();
  }
  return contracts;
}

/** One step per operation, each compiling its request and response contracts into `into`. */
function* operationCompilers(
  apis: readonly CompiledApi[],
  options: ContractOptions,
  into: Map<Operation, OperationContract>,
): Generator<() => void> {
  const compiler = createSchemaCompiler();
  for (const api of apis) {
    const dialect = dialectOf(api.document.openapi);
    const mode = options.responseModes.get(api.name) ?? 'strip';
    for (const operation of api.operations) {
      yield () => {
        into.set(operation, {
          request: new RequestValidator(operation, dialect, compiler, api.file, options),
          response: new ResponseContract(operation, dialect, compiler, api.file, mode),
        });
      };
    }
  }
}

/** The contract options a configuration sets: JSON bounds, and each API's response mode. */
export function contractOptionsOf(config: GatehouseConfig): ContractOptions {
  return {
    maxJsonDepth: config.validation.maxJsonDepth,
    maxJsonKeys: config.validation.maxJsonKeys,
    responseModes: new Map(config.apis.map((api) => [api.name, api.responseContract ?? 'strip'])),
  };
}
