import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { startAdminServer, type AdminServer } from '../admin/server.js';
import type { GatehouseConfig } from '../config/types.js';
import type { WholeGateway } from '../admin/services.js';
import { startGateway, type Gateway, type GatewayOptions } from '../gateway/gateway.js';
import type { TlsMaterial } from '../gateway/listener.js';
import { ensureDevCertificates } from '../tls/dev-certs.js';

/** A running Gatehouse: the gateway and, when configured, its admin listener. */
export interface Gatehouse extends Gateway {
  /** Where the admin API listens; null when the configuration has no `admin:` section. */
  readonly adminAddress: AddressInfo | null;
}

/** The gateway's options, and the admin's views over every worker (src/process/worker.ts). */
export interface GatehouseOptions extends GatewayOptions {
  readonly whole?: (gateway: Gateway) => WholeGateway;
}

/**
 * Starts the gateway, then the admin API in front of its key lifecycle and monitor. Admin
 * settings apply at start; a reload keeps them. Closing stops the admin listener first.
 */
export async function startGatehouse(
  config: GatehouseConfig,
  logger: Logger,
  options: GatehouseOptions = {},
): Promise<Gatehouse> {
  const gateway = await startGateway(config, logger, options);
  let admin: AdminServer | null = null;
  if (config.admin !== null) {
    try {
      admin = await startAdminServer({
        config: config.admin,
        tls: await adminTls(config),
        limits: config.limits,
        services: {
          lifecycle: gateway.keys.lifecycle,
          monitor: gateway.monitor,
          readiness: () => gateway.readiness(),
          ...(options.whole === undefined ? {} : { whole: options.whole(gateway) }),
        },
        scrapeToken: config.monitoring.scrapeToken,
        logger,
      });
    } catch (err) {
      await gateway.close(0);
      throw err;
    }
  }
  const started = admin;
  return Object.freeze({
    ...gateway,
    adminAddress: started?.address ?? null,
    async close(graceMs?: number): Promise<void> {
      await started?.close();
      await gateway.close(graceMs);
    },
  });
}

async function adminTls(config: GatehouseConfig): Promise<TlsMaterial> {
  const tls = config.admin!.tls;
  if (!tls.dev) return { cert: tls.cert, key: tls.key };
  const dev = await ensureDevCertificates(config.stateDir);
  return { cert: dev.serverCert, key: dev.serverKey };
}
