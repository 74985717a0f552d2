import type { Endpoint } from '../executors/dns/client';
import { LabContainers, dockerAvailable } from './docker/control';
import { LabNetwork } from './network';
import { STACK } from './stack';
import type { Backend, LabAction, ServiceStatus } from './types';

/**
 * The runner inside the lab network (the client container): every lab address is
 * real and every port is the standard one, so routes are the identity. With the Docker
 * socket mounted (as the docker backend does), `lab` steps act on the containers and
 * failed steps show the services' logs; without it, they say what is missing.
 */
export class NetworkBackend implements Backend {
  readonly name = 'network';
  private readonly containers?: LabContainers;
  private readonly net: LabNetwork;

  constructor(readonly labDir: string, project = process.env.WIRELAB_PROJECT ?? 'wirelab') {
    if (dockerAvailable()) this.containers = new LabContainers(project);
    const endpoints = new Map<string, Record<string, Endpoint>>();
    for (const plan of STACK) {
      endpoints.set(plan.name, Object.fromEntries(Object.entries(plan.ports).map(([k, p]) => [k, { host: plan.address, port: p.lab }])));
    }
    this.net = LabNetwork.fromEndpoints(endpoints);
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  network(): LabNetwork {
    return this.net;
  }

  async control(service: string, action: LabAction): Promise<ServiceStatus> {
    if (!this.containers) {
      throw new Error(`"${action} ${service}" acts on the lab's containers: run it with \`wirelab run --backend docker\` from the host (this container has no Docker access)`);
    }
    return this.containers.act(service, action);
  }

  async status(): Promise<ServiceStatus[]> {
    if (!this.containers) return STACK.map((s) => ({ name: s.name, host: s.host, state: 'running' as const, endpoints: {} }));
    return Promise.all(STACK.map((s) => this.containers!.status(s.name)));
  }

  async logs(service: string, since?: Date): Promise<string[]> {
    return this.containers ? this.containers.logs(service, since).catch(() => []) : [];
  }
}
