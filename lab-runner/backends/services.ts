import { DnsServer } from '../../services/dns/server';
import { HttpServer } from '../../services/http/server';
import type { Logger } from '../../services/common/logger';

/**
 * How the embedded backend starts each lab service inside this process: the same
 * server classes the containers run, handed the lab world, a data directory and a
 * logger, and bound to the ports the backend chose.
 */

export interface ServiceEnv {
  labDir: string;
  dataDir: string;
  log: Logger;
}

export interface RunningService {
  /** The real port of each named port. */
  ports: Record<string, number>;
  close(): Promise<void>;
}

export type ServiceFactory = (env: ServiceEnv, ports: Record<string, number>, host: string) => Promise<RunningService>;

export const SERVICE_FACTORIES: Record<string, ServiceFactory> = {
  async dns(env, ports, host) {
    const server = DnsServer.fromLab(env.labDir, { log: env.log });
    const address = await server.listen(ports.dns, host);
    return { ports: { dns: address.port }, close: () => server.close() };
  },
  async http(env, ports, host) {
    const server = await HttpServer.fromLab(env.labDir, env.dataDir, { log: env.log });
    const address = await server.listen(ports.http, host);
    return { ports: { http: address.port }, close: () => server.close() };
  },
};
