import { existsSync } from 'node:fs';
import { defaultDataDir } from '../../services/common/paths';
import { caCertificateFile, faultsOn } from '../../services/common/tlsFaults';
import { LabNetwork, STACK, type Endpoint } from '../wire';
import { LabContainers, discoverProject, dockerAvailable } from './docker/control';
import type { Backend, LabAction, LabActionOptions, ServiceStatus } from './types';

/**
 * The runner inside the lab network (the client container): every lab address is
 * real and every port is the standard one, so routes are the identity. With the Docker
 * socket mounted (as the docker backend does), `lab` steps act on the containers and
 * failed steps show the services' logs; without it, they say what is missing.
 */
export class NetworkBackend implements Backend {
  readonly name = 'network';
  private containers?: Promise<LabContainers | undefined>;
  private readonly net: LabNetwork;

  constructor(readonly labDir: string, private readonly project = process.env.WIRELAB_PROJECT) {
    const endpoints = new Map<string, Record<string, Endpoint>>();
    for (const plan of STACK) {
      endpoints.set(plan.name, Object.fromEntries(Object.entries(plan.ports).map(([k, p]) => [k, { host: plan.address, port: p.lab }])));
    }
    // The lab CA, in the lab's data volume ($WIRELAB_DATA/tls/ca/root.pem in the client container).
    this.net = LabNetwork.fromEndpoints(endpoints, { caFile: caCertificateFile(defaultDataDir()) });
  }

  /** The lab's containers, when this container may use Docker (its socket is mounted). */
  private docker(): Promise<LabContainers | undefined> {
    this.containers ??= (async () => {
      if (!dockerAvailable()) return undefined;
      const project = this.project ?? (await discoverProject());
      return project ? new LabContainers(project) : undefined;
    })();
    return this.containers;
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  network(): LabNetwork {
    return this.net;
  }

  async control(service: string, action: LabAction, options?: LabActionOptions): Promise<ServiceStatus> {
    const containers = await this.docker();
    if (!containers) {
      throw new Error(`"${action} ${service}" acts on the lab's containers: run it with \`wirelab run --backend docker\` from the host, or give this container the Docker socket`);
    }
    return containers.act(service, action, options);
  }

  async clearTlsFaults(): Promise<string[]> {
    // The client container has the tls volume (read-only): a look at it saves a
    // `docker exec` at every scenario's start when no certificate lesson is on.
    const dataDir = defaultDataDir();
    if (existsSync(caCertificateFile(dataDir)) && faultsOn(dataDir).length === 0) return [];
    const containers = await this.docker();
    return containers ? containers.clearTlsFaults() : [];
  }

  async status(): Promise<ServiceStatus[]> {
    const containers = await this.docker();
    if (!containers) return STACK.map((s) => ({ name: s.name, host: s.host, state: 'running' as const, endpoints: {} }));
    return Promise.all(STACK.map((s) => containers.status(s.name)));
  }

  async logs(service: string, since?: Date): Promise<string[]> {
    const containers = await this.docker();
    return containers ? containers.logs(service, since).catch(() => []) : [];
  }
}
