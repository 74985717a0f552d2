/**
 * The lab a soak drives: its services as processes on this machine (processes.ts), or
 * as the Docker lab's containers (docker.ts). The soak itself (soak.ts) only needs a
 * port per service, a way to kill one and bring it back on the same data, a stop, and
 * the lab's data as files to count what was kept.
 */
export interface SoakLab {
  /** Start every service; resolves once each one serves. */
  start(): Promise<void>;
  /** The port on 127.0.0.1 of a service's main listener (`smtp`: 25's). */
  port(service: string): number;
  /** The service killed without warning (SIGKILL), then started again on the same data; resolves once it serves. `when` is for the log line. */
  killAndRestart(service: string, when: string): Promise<void>;
  /** SIGTERM to every service, as `docker stop` sends it: each one's exit code (null: it had to be killed). */
  stop(): Promise<Map<string, number | null>>;
  /** The highest memory each service used, in bytes. */
  peakMemory(): Map<string, number>;
  /** A folder on this machine with the lab's data as the services left it: mail/ and homes/ (after stop()). */
  data(): Promise<string>;
  /** Remove what start() made, whatever happened; keep the data folder when asked (its path is printed). */
  close(keep: boolean): Promise<void>;
}

/** The services a soak drives, and the ones it can kill. */
export const SOAK_SERVICES = ['dns', 'http', 'app', 'smtp', 'pop3', 'imap', 'ftp', 'sftp', 'proxy'];
