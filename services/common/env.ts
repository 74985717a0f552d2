import { createLogger, flushLogs, type Logger } from './logger';
import { SHUTDOWN_GRACE_MS } from './shutdown';

/**
 * What every service's main.ts (the container's command) needs from its environment:
 * ports and addresses read and checked one way, and a failure to start told in one line
 * that names the service, never a stack trace.
 */

/** `FTP_PORT=2121`: a port number from the environment, or `fallback`; anything else stops the start, naming the variable. */
export function envPort(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text.trim() === '') return fallback;
  return portNumber(name, text, '');
}

/** `SUBMISSION_PORT=587`: like envPort, but set empty it means "no such port" (undefined); unset, `fallback`. */
export function envOptionalPort(name: string, fallback?: number): number | undefined {
  const text = process.env[name];
  if (text === undefined) return fallback;
  if (text.trim() === '') return undefined;
  return portNumber(name, text, ' or empty');
}

function portNumber(name: string, text: string, orElse: string): number {
  const port = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || port > 65535) throw new Error(`${name} must be a port number (0-65535)${orElse}, got ${JSON.stringify(text)}`);
  return port;
}

/** `FTP_HOST`: the address to listen on; default every address of the container. */
export function envHost(name: string, fallback = '0.0.0.0'): string {
  return process.env[name] || fallback;
}

/** `POP3_PLAINTEXT_LOGIN=no`: yes/no (also true/false, 1/0) from the environment, or `fallback`. */
export function envFlag(name: string, fallback: boolean): boolean {
  const text = (process.env[name] ?? '').trim().toLowerCase();
  if (text === '') return fallback;
  if (['yes', 'true', '1', 'on'].includes(text)) return true;
  if (['no', 'false', '0', 'off'].includes(text)) return false;
  throw new Error(`${name} must be yes or no, got ${JSON.stringify(process.env[name])}`);
}

/** `PROXY_TIMEOUT_MS=5000`: a whole number of milliseconds from the environment, or undefined when unset or empty. */
export function envMilliseconds(name: string): number | undefined {
  const text = process.env[name];
  if (!text) return undefined;
  if (!/^\d+$/.test(text)) throw new Error(`${name} must be a whole number of milliseconds, got ${JSON.stringify(text)}`);
  return Number(text);
}

/** `MAX_CONNECTIONS_PER_ADDRESS=1000`: a whole number from the environment, or undefined when unset or empty. */
export function envCount(name: string): number | undefined {
  const text = process.env[name];
  if (!text) return undefined;
  if (!/^[1-9]\d*$/.test(text)) throw new Error(`${name} must be a whole number above 0, got ${JSON.stringify(text)}`);
  return Number(text);
}

/**
 * `MAX_CONNECTIONS_PER_ADDRESS`: one client address's share of the service's connections
 * (the server's maxConnectionsPerAddress; unset: its default). A benchmark whose whole
 * load comes from one address raises it; a class never needs to.
 */
export function envConnectionsPerAddress(): { maxConnectionsPerAddress?: number } {
  const n = envCount('MAX_CONNECTIONS_PER_ADDRESS');
  return n === undefined ? {} : { maxConnectionsPerAddress: n };
}

/**
 * `SHUTDOWN_GRACE_MS=10000`: on SIGTERM, how long the service lets what is in progress
 * finish (an upload, a delivery, a response) before it cuts it; default 10 s. The
 * service's closeGraceMs, and what closeOnSignals waits for.
 */
export function envShutdownGraceMs(): number {
  return envMilliseconds('SHUTDOWN_GRACE_MS') ?? SHUTDOWN_GRACE_MS;
}

/**
 * Run a service's main(): its logger, and a failure to start (a port in use, a bad
 * variable, a broken users.yaml) as one line on stderr with exit status 1.
 */
export function runService(service: string, main: (log: Logger) => Promise<void>): void {
  const log = createLogger(service);
  main(log).catch((err: unknown) => {
    flushLogs(); // the log lines before the failure come before its message
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`${message.startsWith(`${service}:`) ? message : `${service}: ${message}`}\n`);
    process.exit(1);
  });
}
