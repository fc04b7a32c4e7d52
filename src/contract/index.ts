export { loadApiDocument, loadOpenApiDocument } from './load-document.js';
export { compileApi } from './compile.js';
export type { CompiledApi, Operation } from './operation.js';
export { buildRouteTable, type RouteMatch, type RouteTable, type RouteTableOptions } from './route-table.js';
export { checkRequestTarget, DEFAULT_MAX_TARGET_BYTES } from './request-target.js';
export { ContractError } from './contract-error.js';
export { OPENAPI_METHODS, type JsonObject, type OpenApiDocument } from './openapi-types.js';
