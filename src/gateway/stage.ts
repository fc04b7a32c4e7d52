import type { RequestContext } from './request-context.js';
import type { StageName } from './stage-names.js';

/**
 * One step of the request journey (DESIGN.md). A stage lets the request through by returning
 * (or resolving) nothing, and refuses it by throwing a GatehouseError; it never writes to the
 * socket itself. Stages are built once per configuration by a factory and are read-only
 * afterwards.
 */
export interface Stage {
  readonly name: StageName;
  onRequest(ctx: RequestContext): void | Promise<void>;
  /**
   * Called once the response is complete (or the client has gone), for every stage of the
   * pipeline the request entered, whatever decided it: for counting outcomes (failed logins,
   * refused credentials), never for changing the response.
   */
  onComplete?(ctx: RequestContext): void;
}
