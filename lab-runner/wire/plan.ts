import { prefixFromEnv } from '../../services/dns/renumber';

/**
 * The lab network plan: which service answers for which host, on which port in the
 * lab network, and on which port of 127.0.0.1 when the lab runs embedded.
 *
 * Addresses here are the lab network's (the Docker network of compose.yaml); the
 * zone files in lab/zones publish the same ones, and a test keeps the two in step.
 * Scenarios never name these ports: they name hosts, resolve them through the lab
 * DNS, and the backend routes each (address, lab port) to where the service really is.
 */

export interface PortPlan {
  /** The port inside the lab network (the protocol's standard port). */
  lab: number;
  /** The port on 127.0.0.1 when the lab runs embedded, and the host port Docker publishes. */
  embedded: number;
  transport: 'tcp' | 'udp+tcp';
  /**
   * TLS on this port, with the lab CA's certificate: `implicit` from the first byte
   * (HTTPS, SMTPS, POP3S, FTPS: RFC 8314), or `starttls` when the client asks for it in
   * the plain protocol (STARTTLS, STLS, AUTH TLS). None: plain text only.
   */
  tls?: 'implicit' | 'starttls';
}

export interface ServicePlan {
  /** The service's name on the command line: `--target http=...`, `lab: { stop: http }`. */
  name: string;
  /** The host name a scenario uses. */
  host: string;
  /** The host's address in the lab network. */
  address: string;
  /** Named ports: `dns`, `http`, ... The first one is the service's main port. */
  ports: Record<string, PortPlan>;
  description: string;
}

/**
 * The lab network's first three octets: 172.28.0 unless WIRELAB_PREFIX says otherwise
 * (compose.yaml passes LAB_PREFIX from .env, for a classroom whose network clashes).
 */
export const LAB_PREFIX = prefixFromEnv();
const at = (host: number): string => `${LAB_PREFIX}.${host}`;

export const STACK: readonly ServicePlan[] = [
  {
    name: 'dns',
    host: 'ns.lab.test',
    address: at(53),
    ports: { dns: { lab: 53, embedded: 5353, transport: 'udp+tcp' } },
    description: 'DNS, authoritative for lab.test, example.test and the lab reverse zone',
  },
  {
    name: 'http',
    host: 'www.lab.test',
    address: at(80),
    ports: {
      http: { lab: 80, embedded: 8080, transport: 'tcp' },
      https: { lab: 443, embedded: 8443, transport: 'tcp', tls: 'implicit' },
    },
    description: 'HTTP and HTTPS: the lab guide, a JSON API, /inspect, token login',
  },
  {
    name: 'proxy',
    host: 'shop.lab.test',
    address: at(81),
    ports: {
      http: { lab: 80, embedded: 8081, transport: 'tcp' },
      https: { lab: 443, embedded: 8444, transport: 'tcp', tls: 'implicit' },
    },
    description: 'the reverse proxy in front of app.lab.test:5000 (the lesson on 502 and 504)',
  },
  {
    name: 'app',
    host: 'app.lab.test',
    address: at(82),
    ports: { http: { lab: 5000, embedded: 8082, transport: 'tcp' } },
    description: 'the application behind the proxy, with a slow page',
  },
  {
    name: 'smtp',
    host: 'mail.lab.test',
    address: at(25),
    ports: {
      smtp: { lab: 25, embedded: 2525, transport: 'tcp', tls: 'starttls' },
      submission: { lab: 587, embedded: 2587, transport: 'tcp', tls: 'starttls' },
      smtps: { lab: 465, embedded: 2465, transport: 'tcp', tls: 'implicit' },
    },
    description: 'SMTP for lab.test: mail for its users on 25, submission with AUTH on 587 and 465 (TLS), relay by MX',
  },
  {
    name: 'pop3',
    host: 'mail.lab.test',
    address: at(25),
    ports: {
      pop3: { lab: 110, embedded: 1110, transport: 'tcp', tls: 'starttls' },
      pop3s: { lab: 995, embedded: 1995, transport: 'tcp', tls: 'implicit' },
    },
    description: 'POP3 for the lab.test mailboxes (STLS on 110, POP3S on 995)',
  },
  {
    name: 'imap',
    host: 'mail.lab.test',
    address: at(25),
    ports: {
      imap: { lab: 143, embedded: 1143, transport: 'tcp', tls: 'starttls' },
      imaps: { lab: 993, embedded: 1993, transport: 'tcp', tls: 'implicit' },
    },
    description: 'IMAP for the lab.test mailboxes (STARTTLS on 143, IMAPS on 993)',
  },
  {
    name: 'smtp-example',
    host: 'mail.example.test',
    address: at(26),
    ports: {
      smtp: { lab: 25, embedded: 2526, transport: 'tcp', tls: 'starttls' },
      smtps: { lab: 465, embedded: 2466, transport: 'tcp', tls: 'implicit' },
    },
    description: 'SMTP for example.test, the second mail domain (reached by MX lookup)',
  },
  {
    name: 'pop3-example',
    host: 'mail.example.test',
    address: at(26),
    ports: {
      pop3: { lab: 110, embedded: 1111, transport: 'tcp', tls: 'starttls' },
      pop3s: { lab: 995, embedded: 1996, transport: 'tcp', tls: 'implicit' },
    },
    description: 'POP3 for the example.test mailboxes (STLS on 110, POP3S on 995)',
  },
  {
    name: 'ftp',
    host: 'ftp.lab.test',
    address: at(21),
    ports: {
      ftp: { lab: 21, embedded: 2121, transport: 'tcp', tls: 'starttls' },
      ftps: { lab: 990, embedded: 2990, transport: 'tcp', tls: 'implicit' },
    },
    description: 'FTP on the users\' homes (AUTH TLS on 21, implicit FTPS on 990); anonymous read-only pub/; passive ports 30000-30009',
  },
  {
    name: 'sftp',
    host: 'files.lab.test',
    address: at(22),
    ports: { sftp: { lab: 22, embedded: 2222, transport: 'tcp' } },
    description: 'SFTP (SSH) on the same homes; user web\'s public_html is served by www',
  },
];

/** How long the lab's proxy waits for the app's response: the gateway-timeout lesson's 504 after 2 s. */
export const PROXY_TIMEOUT_MS = 2000;

/** FTP's passive data ports, the same inside the lab network and on 127.0.0.1 (EPSV/PASV name them). */
export const FTP_PASSIVE_PORTS = { from: 30000, to: 30009 };

/**
 * The ports the runner's FTP client listens on for an active-mode data connection
 * (EPRT/PORT): a fixed range too, so that a packet capture's filter can name them.
 */
export const FTP_ACTIVE_PORTS = { from: 30010, to: 30019 };

export function findService(name: string): ServicePlan | undefined {
  return STACK.find((s) => s.name === name);
}

/** Does the service speak TLS (on any of its ports)? Those are the services a `tls-fault` lab step can break. */
export function hasTls(service: ServicePlan): boolean {
  return Object.values(service.ports).some((p) => p.tls !== undefined);
}

/** The main (first) port of a service. */
export function mainPort(service: ServicePlan): PortPlan {
  return Object.values(service.ports)[0]!;
}
