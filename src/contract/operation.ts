import type { JsonObject, OpenApiDocument } from './openapi-types.js';

/** One declared operation, with everything the later stages read, resolved once at load. */
export interface Operation {
  readonly apiName: string;
  readonly operationId: string | null;
  /** Uppercase, as it arrives on the wire (RFC 9110 §9.1: methods are case-sensitive). */
  readonly method: string;
  /** The public template: the API's basePath joined with the document path. */
  readonly template: string;
  /** The key under `paths` in the document, for messages that point into it. */
  readonly documentPath: string;
  /** Path of the upstream URL without its trailing "/"; "" when the upstream is at its root. */
  readonly upstreamPathPrefix: string;
  readonly pathParamNames: readonly string[];
  /** The dereferenced Operation Object: security, parameters, requestBody, responses, x-gatehouse-*. */
  readonly operation: JsonObject;
  readonly pathItemParameters: readonly JsonObject[];
  /** Path-item and operation parameters merged; the operation's win on the same name and `in`. */
  readonly parameters: readonly JsonObject[];
  /** The operation's `security`, else the document's; [] means no credential is declared. */
  readonly security: readonly JsonObject[];
  /** `components.securitySchemes` of the document, which `security` names refer to. */
  readonly securitySchemes: JsonObject;
}

export interface CompiledApi {
  readonly name: string;
  /** The OpenAPI document's path, named in every message about this API. */
  readonly file: string;
  /** The normalised public prefix: "" for the root, else "/x" without a trailing "/". */
  readonly basePath: string;
  readonly document: OpenApiDocument;
  readonly operations: readonly Operation[];
  /** Verified credentials go on to the upstream (`apis[].forwardCredentials`); operations may override. */
  readonly forwardCredentials: boolean;
}
