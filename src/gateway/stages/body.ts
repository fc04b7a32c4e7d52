import { GatehouseError } from '../../errors/gatehouse-error.js';
import type { LimitsConfig } from '../../config/types.js';
import type { RequestContext } from '../request-context.js';
import type { Stage } from '../stage.js';

/**
 * Reads the request body into memory, counting bytes as they arrive rather than trusting
 * Content-Length (a chunked body declares none). Runs after authorization, so an anonymous
 * caller cannot make the gateway buffer anything.
 */
export function createBodyStage(limits: LimitsConfig): Stage {
  const maxBodyBytes = limits.maxBodyBytes;
  return {
    name: 'body',
    onRequest: function readRequestBody(ctx: RequestContext): void | Promise<void> {
      if (ctx.body !== null) return; // read earlier, for a limit keyed on a body field (src/limits)
      if (!ctx.req.hasBody) return;
      return readLimited(ctx, maxBodyBytes);
    },
  };
}

function readLimited(ctx: RequestContext, maxBodyBytes: number): Promise<void> {
  const req = ctx.req;
  return new Promise<void>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let settled = false;
    req.readBody({
      onData(chunk: Buffer): void {
        if (settled) return;
        received += chunk.length;
        if (received > maxBodyBytes) {
          settled = true;
          req.stopReading();
          reject(
            new GatehouseError(
              'GH_TRANSPORT_BODY_TOO_LARGE',
              `body exceeded ${maxBodyBytes} bytes while streaming`,
            ),
          );
          return;
        }
        chunks.push(chunk);
      },
      onEnd(): void {
        if (settled) return;
        settled = true;
        ctx.body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received);
        resolve();
      },
      onAbort(timedOut: boolean): void {
        if (settled) return;
        settled = true;
        reject(
          timedOut
            ? new GatehouseError('GH_TRANSPORT_TIMEOUT', 'body not received within the time allowed')
            : new GatehouseError('GH_TRANSPORT_BAD_REQUEST', 'client went away while sending the body'),
        );
      },
    });
  });
}
