import type { TlsFault } from '../../services/common/tlsFaults';
import type { LabNetwork } from '../wire';

/**
 * What a `lab` step can do to a service. disconnect and connect need the Docker
 * backend's real containers. tls-fault makes a service present a broken certificate
 * (the certificate lessons), or with `none` the right one again.
 */
export type LabAction = 'stop' | 'start' | 'restart' | 'status' | 'pause' | 'unpause' | 'disconnect' | 'connect' | 'duplicate' | 'tls-fault';

/** What some actions take besides the service: tls-fault's fault. */
export interface LabActionOptions {
  /** For tls-fault: the lesson to switch on, or `none` to switch it off. */
  fault?: TlsFault | 'none';
}

export interface ServiceStatus {
  name: string;
  host: string;
  /** `target` when `--target` sent this service's traffic to another server. */
  state: 'running' | 'stopped' | 'target';
  /** Where each named port really listens: `{ http: '127.0.0.1:8080' }`. */
  endpoints: Record<string, string>;
  /** What the service says about itself: the SFTP server's host key fingerprint, `tlsFault` when a certificate lesson is on. */
  info?: Record<string, string>;
}

/**
 * A backend runs the lab stack somewhere (in this process, or in Docker) and tells
 * the runner how to reach it. Scenarios only ever see lab names and lab ports;
 * the backend's network() maps those to where the services really listen.
 */
export interface Backend {
  readonly name: string;
  /** The lab world this stack serves (lab/): where scenarios find the lab users' SSH keys. */
  readonly labDir: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  network(): LabNetwork;
  control(service: string, action: LabAction, options?: LabActionOptions): Promise<ServiceStatus>;
  /**
   * Switch every certificate lesson off (each scenario starts with none, as it starts
   * with every service up); resolves with the services a fault was on for. A backend
   * without it runs no lab services of its own.
   */
  clearTlsFaults?(): Promise<string[]>;
  /**
   * The lab CA's certificate (PEM), for a client that speaks TLS to the lab (`tcp: { tls:
   * true }`); absent where Node trusts it already (the Docker client: NODE_EXTRA_CA_CERTS).
   */
  labCa?(): Promise<string | undefined>;
  /** Every service of the stack (callers await: a Docker backend asks the Docker API). */
  status(): ServiceStatus[] | Promise<ServiceStatus[]>;
  /** The service's recent log lines (since a moment, if given): shown when a step against it fails. */
  logs(service: string, since?: Date): string[] | Promise<string[]>;
}

/** `--target http=127.0.0.1:9000`: send one service's traffic to another server. */
export type Targets = Record<string, { host: string; port: number }>;
