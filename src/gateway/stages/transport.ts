import { GatehouseError } from '../../errors/gatehouse-error.js';
import type { LimitsConfig } from '../../config/types.js';
import type { RequestContext } from '../request-context.js';
import type { Stage } from '../stage.js';

/**
 * What the transport can still refuse once Node's parser has accepted the request line and
 * headers (header size and timeouts are enforced by the listener itself, see listener.ts):
 * a declared body over the limit is refused before a byte of it is read.
 */
export function createTransportStage(limits: LimitsConfig): Stage {
  const maxBodyBytes = limits.maxBodyBytes;
  return {
    name: 'transport',
    onRequest: function checkTransport(ctx: RequestContext): void {
      if (!ctx.req.hasBody) return;
      const declared = ctx.req.header('content-length');
      if (declared !== undefined && Number(declared) > maxBodyBytes) {
        throw new GatehouseError('GH_TRANSPORT_BODY_TOO_LARGE', `declared body of ${declared} bytes`);
      }
    },
  };
}
