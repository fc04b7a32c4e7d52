import type { SecurityRequirement } from '../config/types.js';
import { ContractError } from './contract-error.js';
import type { DocumentSource } from './document-source.js';
import { isJsonObject, type JsonObject } from './openapi-types.js';

/**
 * `apis[].defaultSecurity`: the operator's top-level `security` for a vendor document that declares
 * none, so that every operation without its own `security` needs a credential. This is the one
 * place the policy lives: it fills a gap and never overrides. A document that declares its own
 * top-level `security` (even []) is refused rather than silently overruled or silently kept; an
 * overlay can remove it. Run on the plain document after the overlays and before validation, so
 * the result is checked against the OpenAPI schema like the rest.
 */
export function withDefaultSecurity(
  source: DocumentSource,
  apiName: string,
  requirements: readonly SecurityRequirement[],
): DocumentSource {
  // The version check before this has made sure the document is an object.
  const document = source.value as JsonObject;
  if (Object.hasOwn(document, 'security')) throw declaredSecurityError(source, apiName);
  assertSchemesDeclared(source, document, apiName, requirements);
  return { ...source, value: { ...document, security: structuredClone(requirements) } };
}

function declaredSecurityError(source: DocumentSource, apiName: string): ContractError {
  const problem =
    `the document declares a top-level "security"${source.lineOf('/security')} and API "${apiName}" ` +
    'sets defaultSecurity in the configuration; Gatehouse will not choose between them: remove ' +
    "defaultSecurity from the configuration, or drop the document's security with an overlay action " +
    '(target: $.security, remove: true)';
  return new ContractError(source.file, '/security', problem);
}

function assertSchemesDeclared(
  source: DocumentSource,
  document: JsonObject,
  apiName: string,
  requirements: readonly SecurityRequirement[],
): void {
  const schemes = isJsonObject(document.components) ? document.components.securitySchemes : undefined;
  for (const name of requirements.flatMap((requirement) => Object.keys(requirement))) {
    if (isJsonObject(schemes) && Object.hasOwn(schemes, name)) continue;
    // Only a mapping the document has gets a line: a missing one would point at its parent.
    const [pointer, line] = isJsonObject(schemes)
      ? ['/components/securitySchemes', source.lineOf('/components/securitySchemes')]
      : ['/components', ''];
    const problem =
      `defaultSecurity of API "${apiName}" names the scheme ${JSON.stringify(name)}, which ` +
      `components.securitySchemes of the document${line} does not declare: declare it ` +
      `in an overlay, e.g. an action with target: $ and update: { components: { securitySchemes: ` +
      `{ ${JSON.stringify(name)}: { type: apiKey, in: header, name: X-Api-Key } } } }`;
    throw new ContractError(source.file, pointer, problem);
  }
}
