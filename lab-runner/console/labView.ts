import { isUp } from '../../services/common/health';
import type { Backend, LabAction, ServiceStatus } from '../backends/types';
import { STACK, type LabNetwork } from '../wire';

/**
 * The Lab page's picture of the lab: every service of the plan with its host, address,
 * ports (the lab port and where it really listens), its state and its health, and the
 * actions the backend can take on it. Health is what a client would find: a DNS that
 * replies, a port that accepts a connection (Docker's own health check, in Docker).
 */

export interface ServicePort {
  name: string;
  lab: number;
  transport: string;
  /** Where it really listens: `127.0.0.1:8080` embedded, `172.28.0.80:80` in the lab network. */
  where?: string;
}

export interface ServiceView {
  name: string;
  host: string;
  address: string;
  description: string;
  ports: ServicePort[];
  state: 'running' | 'stopped' | 'paused' | 'target';
  /** `up` (it answers), `down`, or Docker's word: healthy, unhealthy, starting. */
  health: string;
  info: Record<string, string>;
}

export interface LabView {
  backend: string;
  services: ServiceView[];
  /** What the Lab page's buttons may do on this backend. */
  actions: LabAction[];
  /** The lab was started with capture on (`wirelab up --capture`): steps carry their packets. */
  capture: boolean;
}

/** Actions a person takes from the Lab page; disconnect and connect take a container off the lab network (Docker). */
export const EMBEDDED_ACTIONS: LabAction[] = ['stop', 'start', 'restart', 'pause', 'unpause'];
export const DOCKER_ACTIONS: LabAction[] = [...EMBEDDED_ACTIONS, 'disconnect', 'connect'];

export function actionsOf(backend: Backend): LabAction[] {
  return backend.name === 'embedded' ? EMBEDDED_ACTIONS : DOCKER_ACTIONS;
}

/** How long a health probe waits for an answer. */
const PROBE_MS = 400;

async function healthOf(status: ServiceStatus, network: LabNetwork | undefined, paused: boolean): Promise<string> {
  if (status.info?.health) return status.info.health;
  if (status.state === 'stopped') return 'down';
  if (paused) return 'no answer';
  const plan = STACK.find((s) => s.name === status.name);
  const [portName, port] = Object.entries(plan?.ports ?? {})[0] ?? [];
  if (!plan || !port || !network) return 'unknown';
  try {
    const route = network.route(plan.address, port.lab);
    await isUp(portName === 'dns' ? 'dns' : 'tcp', route, AbortSignal.timeout(PROBE_MS));
    return 'up';
  } catch {
    return 'down';
  }
}

export async function labView(backend: Backend, capture = false): Promise<LabView> {
  const statuses = await backend.status();
  let network: LabNetwork | undefined;
  try {
    network = backend.network();
  } catch {
    network = undefined; // not started yet: no health to probe
  }
  const services = await Promise.all(
    STACK.map(async (plan): Promise<ServiceView> => {
      const status = statuses.find((s) => s.name === plan.name) ?? { name: plan.name, host: plan.host, state: 'stopped' as const, endpoints: {} };
      const paused = status.info?.state === 'paused';
      return {
        name: plan.name,
        host: plan.host,
        address: status.info?.address ?? plan.address,
        description: plan.description,
        ports: Object.entries(plan.ports).map(([name, p]) => ({ name, lab: p.lab, transport: p.transport, where: status.endpoints[name] })),
        state: paused ? 'paused' : status.state,
        health: await healthOf(status, network, paused),
        info: status.info ?? {},
      };
    }),
  );
  return { backend: backend.name, services, actions: actionsOf(backend), capture };
}
