import { readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../../services/common/paths';
import { LAB_PREFIX as DEFAULT_PREFIX } from '../../../services/dns/renumber';
import { STACK } from '../../wire';

/**
 * The Docker lab's settings as Compose sees them: the variables of .env beside
 * compose.yaml, overridden by the environment (Compose gives the environment the last
 * word). compose.yaml reads LAB_PREFIX (the lab network's /24) and one LAB_*_PORT per
 * published port; the runner reads the same, to explain a failure and to name the
 * variable that moves a port.
 */
export type ComposeSettings = Record<string, string>;

export function composeSettings(env: NodeJS.ProcessEnv = process.env, root = packageRoot()): ComposeSettings {
  const settings: ComposeSettings = {};
  let text = '';
  try {
    text = readFileSync(path.join(root, '.env'), 'utf8');
  } catch {
    // No .env: the defaults written in compose.yaml.
  }
  // Compose 1.29's .env: KEY=VALUE lines, `#` comments, optional quotes around the value.
  for (const line of text.split(/\r?\n/)) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (match) settings[match[1]!] = match[2]!.replace(/^(['"])(.*)\1$/, '$2');
  }
  for (const [key, value] of Object.entries(env)) if (value !== undefined && key.startsWith('LAB_')) settings[key] = value;
  return settings;
}

/** The lab network, `172.28.0.0/24` unless LAB_PREFIX moves it. */
export function labSubnet(settings: ComposeSettings): string {
  return `${settings.LAB_PREFIX || DEFAULT_PREFIX}.0/24`;
}

/**
 * The .env variable that publishes a service's port on 127.0.0.1. The main port is
 * named after the service: LAB_HTTP_PORT, LAB_SMTP_EXAMPLE_PORT. Another port takes the
 * service's name with its protocol (its main port's name) replaced by the port's:
 * LAB_SUBMISSION_PORT (smtp's 587), LAB_HTTPS_PORT (http's 443), LAB_SMTPS_EXAMPLE_PORT,
 * LAB_POP3S_PORT; a service named otherwise gets the port's name after its own:
 * LAB_PROXY_HTTPS_PORT.
 */
export function portVariable(service: string, portName: string): string {
  const plan = STACK.find((s) => s.name === service);
  const main = plan ? Object.keys(plan.ports)[0]! : portName;
  const name = main === portName ? service : service.includes(main) ? service.replace(main, portName) : `${service}-${portName}`;
  return `LAB_${name.toUpperCase().replace(/-/g, '_')}_PORT`;
}

export interface PublishedPort {
  variable: string;
  service: string;
  portName: string;
  /** The port on 127.0.0.1: the variable's value, else the embedded lab's number. */
  hostPort: number;
}

/** The lab console (compose.yaml's console service): 127.0.0.1:8000, LAB_CONSOLE_PORT to move it. */
export const CONSOLE_PORT = { variable: 'LAB_CONSOLE_PORT', port: 8000 };

/** Every port the lab publishes on 127.0.0.1, with the variable that moves it. */
export function publishedPorts(settings: ComposeSettings): PublishedPort[] {
  const lab = STACK.flatMap((service) =>
    Object.entries(service.ports).map(([portName, plan]) => {
      const variable = portVariable(service.name, portName);
      return { variable, service: service.name, portName, hostPort: Number(settings[variable] || plan.embedded) };
    }),
  );
  const console = { variable: CONSOLE_PORT.variable, service: 'console', portName: 'console', hostPort: Number(settings[CONSOLE_PORT.variable] || CONSOLE_PORT.port) };
  return [...lab, console];
}

/** FTP's passive data ports, published at the same numbers: LAB_FTP_PASSIVE_PORTS. */
export const PASSIVE_PORTS_VARIABLE = 'LAB_FTP_PASSIVE_PORTS';
