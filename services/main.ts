#!/usr/bin/env node
/**
 * The one entry point of the lab image: `node dist/services/main.js SERVICE`.
 * Each service reads its settings from the environment (see its main.ts); compose.yaml
 * sets them. `wirelab ...` runs the runner (the client workstation), `health` is the
 * container health check (it talks the service's protocol: `health smtp 25` reads the
 * greeting), `tls-fault SERVICE FAULT|none` switches a certificate lesson
 * on or off (the Docker backend runs it with `docker exec`: the fault file is in the
 * tls volume the services read it from; `tls-fault all none` switches every one off),
 * `ca` makes the lab's certificate authority (compose.yaml runs it once, first).
 * node starts directly: no npm, no shell in between, so SIGTERM reaches the service and
 * it closes gracefully.
 */
import { isProbeKind, PROBE_KINDS, probe } from './common/health';
import { defaultDataDir } from './common/paths';
import { clearFaults, isTlsFault, readFault, setFault, TLS_FAULTS, type TlsFault } from './common/tlsFaults';

const SERVICES: Record<string, () => unknown> = {
  dns: () => require('./dns/main'),
  http: () => require('./http/main'),
  proxy: () => require('./proxy/main'),
  app: () => require('./app/main'),
  smtp: () => require('./smtp/main'),
  pop3: () => require('./pop3/main'),
  imap: () => require('./imap/main'),
  ftp: () => require('./ftp/main'),
  sftp: () => require('./sftp/main'),
};

const [command, ...args] = process.argv.slice(2);

/** A command that does one thing and ends: its line on stdout, or its error on stderr and exit status 1. */
function oneOff(name: string, work: () => Promise<string>): void {
  work().then(
    (line) => process.stdout.write(`${line}\n`),
    (err: Error) => {
      process.stderr.write(`${name}: ${err.message}\n`);
      process.exit(1);
    },
  );
}

if (command && command in SERVICES) SERVICES[command]!();
else if (command === 'wirelab') {
  process.argv = [process.argv[0]!, 'wirelab', ...args];
  require('../lab-runner/cli');
} else if (command === 'health') {
  const [kind, port] = args;
  if (!isProbeKind(kind) || !Number(port)) {
    process.stderr.write(`usage: health ${PROBE_KINDS.join('|')} PORT\n`);
    process.exit(2);
  }
  probe(kind, Number(port)).then(
    () => process.exit(0),
    (err: Error) => {
      process.stderr.write(`unhealthy: ${err.message}\n`);
      process.exit(1);
    },
  );
} else if (command === 'tls-fault' && args[0] === 'all' && args[1] === 'none') {
  oneOff('tls-fault', async () => `tls faults off: ${(await clearFaults(defaultDataDir())).join(' ') || 'none was on'}`);
} else if (command === 'tls-fault') {
  const [service, fault] = args;
  if (!service || (fault !== undefined && fault !== 'none' && !isTlsFault(fault))) {
    process.stderr.write(`usage: tls-fault SERVICE [${TLS_FAULTS.join('|')}|none]   (no fault: print the current one)\n`);
    process.exit(2);
  }
  oneOff('tls-fault', async () => {
    if (fault !== undefined) await setFault(defaultDataDir(), service, fault === 'none' ? undefined : (fault as TlsFault));
    return `${service}: tls fault ${readFault(defaultDataDir(), service) || 'none'}`;
  });
} else if (command === 'ca') {
  // Loaded here: the X.509 library is not small, and only this command needs it.
  const { ensureCa } = require('./common/certificates') as typeof import('./common/certificates');
  oneOff('ca', async () => {
    const ca = await ensureCa(defaultDataDir());
    return `the lab CA: ${ca.subject}, SHA-256 ${ca.fingerprint256}, valid until ${ca.validTo.toISOString().slice(0, 10)}`;
  });
} else {
  process.stderr.write(`usage: main.js ${Object.keys(SERVICES).join('|')}|wirelab ...|health ${PROBE_KINDS.join('|')} PORT|tls-fault SERVICE [FAULT|none]|tls-fault all none|ca\n`);
  process.exit(command === 'help' ? 0 : 2);
}
