#!/usr/bin/env node
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { defaultDataDir, defaultLabDir, packageRoot } from '../services/common/paths';
import { createLogger } from '../services/common/logger';
import { caCertificateFile } from '../services/common/tlsFaults';
import { EmbeddedBackend } from './backends/embedded';
import { registerLab } from './backends/running';
import { NetworkBackend } from './backends/network-backend';
import type { Backend, ServiceStatus } from './backends/types';
import { DockerBackend } from './backends/docker/backend';
import { composeName } from './backends/docker/compose';
import { registerGradeCommand } from './grade/command';
import { ConsoleServer } from './console/server';
import { consoleUrlFromLogs, registerQuizCommand } from './console/command';
import type { RunResult } from './result';
import type { Targets } from './backends/types';
import { FTP_PASSIVE_PORTS, splitHostPort, STACK } from './wire';
import { exploreDns, exploreFtp, exploreHttp, exploreImap, explorePop3, exploreSftp, exploreSmtp } from './explore';
import { colorsFor } from './report/colors';
import { summaryTable, terminalListener } from './report/terminal';
import { maskingListener, maskSecrets, renderReport, REPORT_FORMATS, type ReportFormat } from './report';
import { runScenarios } from './run';
import { KeylogFile } from './tls/keylog';
import { captureFile, CaptureUnavailable, DEFAULT_CAPTURE_FILE, enterHint, isCaptureFile, startCapturing, type CaptureStart } from './packets/command';
import type { CaptureTool } from './packets/namespace';
import { labFilter, RunCapture } from './packets/runCapture';
import { DEFAULT_LAB_CAPTURE_FILE, labBridge, labCaptureFile } from './backends/docker/capture';
import { findScenarioFiles, loadScenarioFile, ScenarioError, type Scenario } from './scenario/load';
import { scenarioJsonSchema } from './scenario/schema';

/**
 * `wirelab`: run scenarios against the lab, start the lab, and explore it.
 * Exit status: 0 when everything passed, 1 when a scenario failed, 2 when the
 * command could not do its job (a bad scenario file, a port in use, bad options).
 */

class UsageError extends Error {}

const program = new Command('wirelab')
  .description('A networking lab for classrooms: DNS, HTTP, a reverse proxy, SMTP, POP3, FTP and SFTP servers; run, explore and grade scenarios against them.')
  .version(require('../../package.json').version as string)
  .showHelpAfterError();

function parseTarget(value: string, previous: Targets = {}): Targets {
  const match = /^([a-z0-9-]+)=(.+)$/.exec(value);
  if (!match) throw new InvalidArgumentError('expected SERVICE=HOST:PORT, e.g. http=127.0.0.1:9000');
  const [, service, address] = match;
  if (!STACK.some((s) => s.name === service)) throw new InvalidArgumentError(`no lab service named ${service}; the lab has ${STACK.map((s) => s.name).join(', ')}`);
  const [host, port] = splitHostPort(address!, 0);
  if (!port || port > 65535) throw new InvalidArgumentError(`expected HOST:PORT after ${service}=, got ${address}`);
  return { ...previous, [service!]: { host, port } };
}

/** The explorers' choice of lab: see findLab in explore.ts. */
const dnsOption = () =>
  new Option('--dns <host:port>', "the lab DNS to resolve names with; the explorer talks to the lab `wirelab up` started with that DNS (default: the one `wirelab up` started, else 127.0.0.1:5353)");
const labPortsOption = () => new Option('--lab-ports <file>', 'where a lab\'s services listen: the file `wirelab up` prints');
const labOption = () => new Option('--lab <dir>', 'the lab world to serve').default(defaultLabDir(), 'lab/');
// The explorers' TLS options, with curl's names where curl has them.
const cacertOption = () => new Option('--cacert <file>', 'TLS: trust this CA certificate (PEM) instead of the lab CA');
const insecureOption = () => new Option('-k, --insecure', 'TLS: carry on whatever is wrong with the certificate (the transcript still says what)');
const keylogOption = () => new Option('--keylog <file>', 'TLS: append the session keys (SSLKEYLOGFILE format), so Wireshark decrypts a capture');
const freePortsOption = () => new Option('--free-ports', 'listen on free ports instead of the standard embedded ones');
const scenariosOption = () => new Option('--scenarios <dir>', "the console's scenarios").default(path.join(packageRoot(), 'scenarios'), 'scenarios/');
const quizzesOption = () => new Option('--quizzes <dir>', "the console's lessons and quizzes").default(path.join(packageRoot(), 'quizzes'), 'quizzes/');

/** The console's port: a whole number from 0 (a free one) to 65535. */
function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError(`expected a port number, got ${value}`);
  return port;
}

program
  .command('run')
  .description('run scenarios (files or folders) on the lab; exit 0 only when all pass')
  .argument('[paths...]', 'scenario files or folders', ['scenarios'])
  .addOption(
    new Option('--backend <name>', 'where the lab runs: embedded (in this process), docker (containers), network (already in the lab network)')
      .choices(['embedded', 'docker', 'network'])
      .default(process.env.WIRELAB_BACKEND ?? 'embedded'),
  )
  .option('--target <service=host:port>', "send a service's traffic to another server (repeatable)", parseTarget)
  .option('--trace', "print every step's exchange")
  .option('--keylog <file>', "append the secrets of every TLS session the steps open (SSLKEYLOGFILE format): Wireshark decrypts a capture of the run with it")
  .option('--packets', "print every step's exchange with its TCP layer: the packets --capture recorded under each message")
  .addOption(new Option('--report <format>', 'report format (secrets are masked in every one)').choices([...REPORT_FORMATS]).default('terminal'))
  .option('--out <file>', 'write the report to this file instead of standard output (junit.xml, results.json, report.html...)')
  .addOption(freePortsOption())
  .option('--data <dir>', 'data directory to use (default: a fresh copy of the first state, removed afterwards)')
  .option('--keep', 'docker: leave the stack running afterwards (default: remove what the run created)')
  .option('--reuse', 'docker: run on the lab that is already up (and leave it up) instead of starting one')
  .option('--project <name>', 'docker: the Compose project name', process.env.COMPOSE_PROJECT_NAME ?? 'wirelab')
  .option('--capture [file]', `record the packets under every step (FILE.pcapng; default: ${DEFAULT_CAPTURE_FILE} beside --out, else here): as root on lo, else in a network namespace of its own; docker: the client's packets, and the whole lab network's beside them (FILE-lab.pcap)`)
  .addOption(new Option('--result-file <file>', 'also write the whole result as JSON here (the docker backend reads it from its client)').hideHelp())
  .addOption(labOption())
  .action(async (given: string[], opts, command: Command) => {
    // `--capture scenarios/x.yaml`: an optional value takes the next word; a scenario path is not a capture file.
    let paths = given;
    if (typeof opts.capture === 'string' && !isCaptureFile(opts.capture)) {
      paths = [...(command.args.length ? given : []), opts.capture];
      opts.capture = true;
    }
    if (opts.backend === 'docker') {
      if (opts.target) throw new UsageError('--target sends a service\'s traffic to another server on this machine: use it with the embedded backend');
      if (opts.keylog) throw new UsageError('--keylog writes where the runner runs, and with --backend docker that is the client container: use it with the embedded backend, or inside the client (`wirelab run --backend network --keylog /tmp/keys`)');
      process.exitCode = await runOnDocker(paths, { ...opts, capture: opts.capture ? captureFile(opts.capture, opts.out) : undefined });
      return;
    }
    const c = colorsFor(process.stdout);
    const toStdout = opts.report === 'terminal' || opts.out;
    const write = (text: string): void => void (toStdout ? process.stdout : process.stderr).write(text);
    const loaded = await loadAll(paths);
    // Scenarios that check packets need --capture: without it they are left out, and said so.
    const scenarios = opts.capture ? loaded : loaded.filter((s) => !s.needsCapture);
    const left = loaded.filter((s) => !scenarios.includes(s));
    if (!scenarios.length) throw new UsageError(`${left.map((s) => s.file).join(', ')}: these scenarios check packets: run them with --capture`);
    if (left.length) write(c.yellow(`wirelab: left out ${left.length} scenario(s) that check packets (run with --capture): ${left.map((s) => path.basename(s.file)).join(', ')}\n`));
    // Inside the lab network (the Docker client) the lab is on eth0, not lo: capture every interface.
    const iface = opts.backend === 'network' ? 'any' : 'lo';
    let capturing: { tool: CaptureTool; program: string } | undefined;
    if (opts.capture) {
      const how = await captureHere(write, iface);
      if (how.kind === 'ran') return void (process.exitCode = how.code);
      capturing = how;
    }
    const dataDir = opts.data ?? (await mkdtemp(path.join(os.tmpdir(), 'wirelab-run-')));
    const backend: Backend =
      opts.backend === 'network'
        ? new NetworkBackend(opts.lab)
        : new EmbeddedBackend({ labDir: opts.lab, dataDir, freePorts: opts.freePorts, targets: opts.target, ...(opts.capture ? { ftpPassivePorts: FTP_PASSIVE_PORTS } : {}) });
    let capture: RunCapture | undefined;
    try {
      await backend.start();
      if (capturing) {
        const file = captureFile(opts.capture, opts.out);
        await mkdir(path.dirname(path.resolve(file)), { recursive: true });
        const filter = labFilter(backend instanceof NetworkBackend ? undefined : await backend.status());
        capture = await RunCapture.start({ file, filter, tool: capturing.tool, program: capturing.program, interface: iface });
        write(c.dim(`wirelab: capturing the lab's packets with ${capturing.tool} on ${iface} into ${file}\n`));
      }
      write(c.dim(`wirelab: ${scenarios.length} scenario(s) on the ${backend.name} lab\n`));
      const keylog = opts.keylog ? new KeylogFile(opts.keylog) : undefined;
      const result = await runScenarios(scenarios, backend, maskingListener(terminalListener({ colors: c, write, trace: opts.trace, packets: opts.packets })), { keylog, capture });
      if (capture) {
        const done = await capture.stop();
        capture = undefined;
        write(c.dim(`wirelab: ${done.packets} packets captured into ${done.file} (tshark -r ${done.file}, or open it in Wireshark)\n`));
      }
      write(summaryTable(maskSecrets(result), c));
      await writeReport(result, opts.report, opts.out, write, c);
      if (opts.resultFile) await writeFile(opts.resultFile, renderReport('json', result));
      process.exitCode = result.passed ? 0 : 1;
    } finally {
      await capture?.stop();
      await backend.stop();
      if (!opts.data) await rm(dataDir, { recursive: true, force: true });
    }
  });

program
  .command('check')
  .description('validate scenario files without running them')
  .argument('[paths...]', 'scenario files or folders', ['scenarios'])
  .action(async (paths: string[]) => {
    const scenarios = await loadAll(paths);
    for (const s of scenarios) console.log(`${s.file}: ok, ${s.steps.length} steps, ${s.maxPoints} points`);
  });

program
  .command('up')
  .description('start the lab and print its hosts and ports: embedded in the foreground (Ctrl+C stops it), or in Docker')
  .addOption(new Option('--backend <name>', 'embedded or docker').choices(['embedded', 'docker']).default('embedded'))
  .option('--project <name>', 'docker: the Compose project name', process.env.COMPOSE_PROJECT_NAME ?? 'wirelab')
  .addOption(freePortsOption())
  .option('--data <dir>', 'data directory (state: notes, later mailboxes and uploads)', defaultDataDir())
  .option('--quiet', 'do not print the services\' log lines')
  .addOption(labOption())
  .option('--console-port <port>', 'the lab console on 127.0.0.1 (default 8000; with --free-ports a free one)', parsePort)
  .option('--no-console', 'do not serve the lab console')
  .option('--capture [file]', `record the lab's packets until Ctrl+C (FILE.pcapng, default ${DEFAULT_CAPTURE_FILE} here): as root on lo, else in a network namespace of its own; docker: the whole lab network until \`wirelab down\` (default ${DEFAULT_LAB_CAPTURE_FILE}, pcap)`)
  .addOption(scenariosOption())
  .addOption(quizzesOption())
  .action(async (opts) => {
    const c = colorsFor(process.stdout);
    if (typeof opts.capture === 'string' && !isCaptureFile(opts.capture)) throw new UsageError(`--capture ${opts.capture}: a capture file's name ends in .pcapng`);
    let capturing: { tool: CaptureTool; program: string } | undefined;
    if (opts.capture && opts.backend !== 'docker') {
      const how = await captureHere((line) => process.stdout.write(line));
      if (how.kind === 'ran') return void (process.exitCode = how.code);
      capturing = how;
    }
    if (opts.backend === 'docker') {
      // Up is up: a lab that is already up is used as it is (with --capture, the capture service is started on it).
      const captureTo = opts.capture ? path.resolve(typeof opts.capture === 'string' ? opts.capture : DEFAULT_LAB_CAPTURE_FILE) : undefined;
      const lab = new DockerBackend({ project: opts.project, reuse: true, keep: true, capture: captureTo });
      console.log(c.dim(`starting the lab in Docker (project ${opts.project})...`));
      await lab.start();
      console.log(c.bold(`wirelab lab is ${lab.reused ? 'already up' : 'up'} (Docker, project ${lab.project})`));
      printDockerStatus(await lab.status());
      if (lab.capturingAlready !== undefined) console.log(c.yellow(`the lab's capture runs already, into ${lab.capturingAlready || 'its file'}: \`wirelab down\` ends it`));
      else if (captureTo) console.log(c.bold(`capturing the lab network's packets (bridge ${labBridge(lab.settings)}) into ${captureTo}: \`wirelab down\` ends the file`));
      // The console runs in its own container and logs its address with the token: read it from there.
      const consoleUrl = await consoleUrlFromLogs((since) => lab.containers.logs('console', since)).catch((err: Error) => err);
      console.log(typeof consoleUrl === 'string' ? `console: ${consoleUrl}` : c.yellow(`the console did not say where it is (${consoleUrl.message}): \`${composeName()} logs console\` shows its address`));
      const dns = lab.network().dns;
      const compose = composeName();
      console.log(c.dim(`try:  dig @${dns.host} -p ${dns.port} www.lab.test   ·   ${compose} run --rm client   ·   wirelab down${lab.project === 'wirelab' ? '' : ` --project ${lab.project}`}`));
      return;
    }
    const backend = new EmbeddedBackend({
      labDir: opts.lab,
      dataDir: opts.data,
      freePorts: opts.freePorts,
      ...(capturing ? { ftpPassivePorts: FTP_PASSIVE_PORTS } : {}),
      onLog: opts.quiet ? undefined : (_s, line) => process.stderr.write(c.dim(line) + '\n'),
    });
    // Listen for Ctrl+C before saying the lab is up: a signal that came between the two would kill it uncleanly.
    // \`on\`, not \`once\`: in a capture namespace Ctrl+C comes twice (from the terminal, and forwarded by the parent).
    const stopped = new Promise<void>((resolve) => {
      process.on('SIGINT', resolve);
      process.on('SIGTERM', resolve);
    });
    await backend.start();
    let capture: RunCapture | undefined;
    if (capturing) {
      const file = captureFile(opts.capture);
      try {
        capture = await RunCapture.start({ file, filter: labFilter(backend.status()), tool: capturing.tool, program: capturing.program });
      } catch (err) {
        await backend.stop();
        throw err;
      }
      console.log(c.bold(`capturing the lab's packets with ${capturing.tool} on lo into ${file} (until Ctrl+C)`));
      const hint = enterHint();
      if (hint) console.log(c.yellow(hint));
    }
    console.log(c.bold('wirelab lab is up (embedded, 127.0.0.1)'));
    // Each lab port, and where it really listens: `25 → 127.0.0.1:2525`.
    for (const s of backend.status()) {
      const plan = STACK.find((p) => p.name === s.name)!;
      const ports = Object.entries(s.endpoints).map(([port, where]) => `${plan.ports[port]!.lab} → ${where}`.padEnd(22));
      console.log(`  ${s.name.padEnd(13)} ${s.host.padEnd(18)} ${ports.join(' ').trimEnd()}`);
    }
    // What services say about themselves: the SSH host key fingerprint to compare with ssh's prompt.
    for (const s of backend.status()) for (const [key, value] of Object.entries(s.info ?? {})) console.log(`${s.name} ${key}: ${value}`);
    let registered: ReturnType<typeof registerLab> | undefined;
    let consoleServer: ConsoleServer | undefined;
    try {
      if (opts.console) consoleServer = await startConsole(backend, opts, c, capture);
      // The explorers (`wirelab http`, ...) read where this lab really listens from this file.
      try {
        registered = registerLab(backend.status(), opts.data);
      } catch (err) {
        console.log(c.yellow(`the explorers cannot be told where this lab listens (${(err as Error).message}): give them the addresses above`));
      }
      const ca = path.resolve(caCertificateFile(opts.data));
      console.log(c.dim(`data: ${opts.data}${registered ? `\nports: ${registered.file}` : ''}\ntls:  the lab CA is ${ca} (\`wirelab ca\` says how to trust it)`));
      console.log(c.dim(tryLines(backend.status(), ca).join('\n')));
      console.log(c.dim('Ctrl+C stops the lab.'));
      await stopped;
      console.log('stopping the lab...');
      if (capture) {
        const done = await capture.stop();
        capture = undefined;
        console.log(`${done.packets} packets captured into ${done.file}`);
      }
    } finally {
      await capture?.stop();
      registered?.remove();
      await consoleServer?.close();
      await backend.stop();
    }
  });

/** May this process capture? Else it ran itself again in a namespace (`ran`), or a UsageError says why not. */
async function captureHere(say: (line: string) => void, iface?: string): Promise<CaptureStart> {
  try {
    return await startCapturing(say, iface);
  } catch (err) {
    throw err instanceof CaptureUnavailable ? new UsageError(err.message) : err;
  }
}

/** `wirelab up`'s console, on 127.0.0.1 (with the lab's capture, if on); a port in use is said and the lab goes on without it. */
async function startConsole(backend: Backend, opts: { consolePort?: number; freePorts?: boolean; scenarios: string; quizzes: string; quiet?: boolean }, c: ReturnType<typeof colorsFor>, capture?: RunCapture): Promise<ConsoleServer | undefined> {
  const log = createLogger('console', { sink: opts.quiet ? () => {} : (line) => process.stderr.write(c.dim(line) + '\n') });
  // With --capture, the console's runs take their steps' packets from the lab's one capture.
  const server = new ConsoleServer({ backend, scenariosDir: opts.scenarios, quizzesDir: opts.quizzes, log, capture });
  const port = opts.consolePort ?? (opts.freePorts ? 0 : 8000);
  try {
    await server.listen(port);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    console.log(c.yellow(`the console cannot listen on 127.0.0.1:${port} (${code ?? (err as Error).message}): \`ss -lntp 'sport = :${port}'\` shows who holds it; start with --console-port PORT, or --no-console`));
    await server.close().catch(() => {});
    return undefined;
  }
  console.log(c.bold(`console: ${server.url}`));
  return server;
}

program
  .command('console')
  .description("serve the lab console for a lab that is up, from inside the lab network (compose.yaml's console service)")
  .option('--listen <address>', 'the address to listen on (in a container: 0.0.0.0, published on 127.0.0.1 only)', '127.0.0.1')
  .option('--port <port>', 'the port to listen on', parsePort, 8000)
  .option('--public-port <port>', 'the port the browser uses, when it is published elsewhere (Docker: LAB_CONSOLE_PORT)', parsePort)
  .addOption(scenariosOption())
  .addOption(quizzesOption())
  .addOption(labOption())
  .action(async (opts) => {
    const backend = new NetworkBackend(opts.lab);
    const log = createLogger('console');
    const server = new ConsoleServer({ backend, scenariosDir: opts.scenarios, quizzesDir: opts.quizzes, log, publicPort: opts.publicPort });
    const stopped = new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await server.listen(opts.port, opts.listen);
    // `wirelab up --backend docker` reads this line from the container's log.
    console.log(`console: ${server.url}`);
    await stopped;
    await server.close();
  });

program
  .command('down')
  .description('stop the Docker lab and remove its containers and network (--volumes: its data too)')
  .option('--volumes', 'also remove the volumes: mailboxes, uploads, the SSH host key')
  .option('--project <name>', 'the Compose project name', process.env.COMPOSE_PROJECT_NAME ?? 'wirelab')
  .action(async (opts) => {
    const captured = await new DockerBackend({ project: opts.project }).down({ volumes: Boolean(opts.volumes) });
    if (captured) console.log(`${captured.packets ?? 'the'} packets captured into ${captured.file ?? 'the capture file'} (tshark -r FILE, or open it in Wireshark)`);
    console.log(`lab stopped (project ${opts.project})${opts.volumes ? ', volumes removed' : ''}`);
  });

program
  .command('status')
  .description('the Docker lab: containers, health, addresses, published ports')
  .option('--project <name>', 'the Compose project name', process.env.COMPOSE_PROJECT_NAME ?? 'wirelab')
  .action(async (opts) => {
    printDockerStatus(await new DockerBackend({ project: opts.project }).status());
  });

program
  .command('logs')
  .description("a Docker lab service's log")
  .argument('<service>', STACK.map((s) => s.name).join(', '))
  .option('--project <name>', 'the Compose project name', process.env.COMPOSE_PROJECT_NAME ?? 'wirelab')
  .action(async (service: string, opts) => {
    if (!STACK.some((s) => s.name === service)) throw new UsageError(`no lab service named ${service}; the lab has ${STACK.map((s) => s.name).join(', ')}`);
    for (const line of await new DockerBackend({ project: opts.project }).logs(service)) console.log(line);
  });

program
  .command('reset')
  .description('return the lab to its first state (deletes the data directory)')
  .option('--data <dir>', 'data directory', defaultDataDir())
  .action(async (opts) => {
    await rm(opts.data, { recursive: true, force: true });
    console.log(`lab reset: removed ${opts.data}; the next start seeds it again from lab/`);
  });

program
  .command('ca')
  .description("the lab's certificate authority: where its certificate is, how to trust it and remove it again (made if needed)")
  .option('--data <dir>', 'data directory', defaultDataDir())
  .option('--pem', 'print only the CA certificate (PEM)')
  .action(async (opts) => {
    const { ensureLabCa, trustGuide } = require('./tls/ca') as typeof import('./tls/ca'); // loaded here: the X.509 library is not small
    const ca = await ensureLabCa(opts.data);
    process.stdout.write(opts.pem ? ca.rootPem : trustGuide(ca, opts.data));
  });

program
  .command('dns')
  .description('ask the lab DNS a question and print the exchange')
  .argument('<name>', 'the name to look up')
  .argument('[type]', 'record type', 'A')
  .option('--server <host:port>', 'the DNS server to ask (default: the lab `wirelab up` started, else 127.0.0.1:5353)')
  .addOption(labPortsOption())
  .option('--tcp', 'use TCP instead of UDP')
  .option('--norec', 'clear the RD (recursion desired) bit')
  .option('--raw', 'show the bytes as a hex dump')
  .action(async (name: string, type: string, opts) => {
    process.exitCode = await exploreDns(name, type.toUpperCase(), opts);
  });

program
  .command('http')
  .description('send one HTTP request through the lab and print the exchange')
  .argument('<url>', 'e.g. http://www.lab.test/')
  .option('-X, --method <method>', 'request method', 'GET')
  .option('-H, --header <header>', 'a header, "Name: value" (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
  .option('-d, --data <body>', 'request body')
  .option('--json <json>', 'request body as JSON (sets Content-Type)')
  .option('--follow', 'follow redirects')
  .addOption(dnsOption())
  .addOption(labPortsOption())
  .addOption(cacertOption())
  .addOption(insecureOption())
  .addOption(keylogOption())
  .option('--raw', 'show the bytes as a hex dump')
  .action(async (url: string, opts) => {
    process.exitCode = await exploreHttp(url, opts);
  });

program
  .command('smtp')
  .description('send one mail through the lab and print the SMTP dialogue')
  .requiredOption('--from <address>', 'envelope sender, e.g. alice@lab.test')
  .requiredOption('--to <address...>', 'recipients')
  .option('--subject <text>', 'Subject header')
  .option('--body <text>', 'message text')
  .option('--host <host>', 'SMTP server', 'mail.lab.test')
  .option('--port <port>', '25 to deliver, 587 to submit with --user, 465 with --tls (default 25, or 465 with --tls)')
  .option('--starttls', 'STARTTLS after EHLO (RFC 3207), and stop if the server does not offer it')
  .option('--tls', 'TLS from the first byte (SMTPS, port 465)')
  .option('--user <name>', 'log in with AUTH (PLAIN unless --login)')
  .option('--password <password>', 'password for --user')
  .option('--login', 'use AUTH LOGIN instead of AUTH PLAIN')
  .addOption(dnsOption())
  .addOption(labPortsOption())
  .addOption(cacertOption())
  .addOption(insecureOption())
  .addOption(keylogOption())
  .option('--raw', 'show the bytes as a hex dump')
  .action(async (opts) => {
    process.exitCode = await exploreSmtp(opts);
  });

program
  .command('pop3')
  .description('read a mailbox over POP3 and print the dialogue')
  .requiredOption('--user <name>', 'mailbox user, e.g. bob')
  .requiredOption('--password <password>', 'password')
  .option('--host <host>', 'POP3 server', 'mail.lab.test')
  .option('--port <port>', 'POP3 port (default 110, or 995 with --tls)')
  .option('--stls', 'STLS before logging in (RFC 2595), and stop if the server refuses it')
  .option('--tls', 'TLS from the first byte (POP3S, port 995)')
  .option('--retrieve <which>', 'all, none, first, last, or a message number', 'all')
  .option('--delete', 'delete the retrieved messages (at QUIT)')
  .addOption(dnsOption())
  .addOption(labPortsOption())
  .addOption(cacertOption())
  .addOption(insecureOption())
  .addOption(keylogOption())
  .option('--raw', 'show the bytes as a hex dump')
  .action(async (opts) => {
    process.exitCode = await explorePop3(opts);
  });

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

program
  .command('imap')
  .description('log in to a mailbox over IMAP, look at it, and print the dialogue (tagged commands, untagged responses)')
  .requiredOption('--user <name>', 'mailbox user, e.g. bob')
  .requiredOption('--password <password>', 'password')
  .option('--plain', 'log in with AUTHENTICATE PLAIN instead of LOGIN')
  .option('--mailbox <name>', 'the mailbox to look into', 'INBOX')
  .option('--select', 'SELECT it (read-write: reading with BODY[] sets \\Seen) instead of EXAMINE (read-only)')
  .option('--list', 'LIST every mailbox first')
  .option('--fetch <set>', 'fetch these message numbers: 1, 2:4, 1:*, * (the last)')
  .option('--uid', 'the --fetch set holds UIDs (UID FETCH)')
  .option('--search <criteria>', 'fetch what a search finds: UNSEEN, FROM carol, SUBJECT "Lunch" (default: ALL)')
  .option('--items <item...>', 'what to fetch: uid flags envelope size internaldate bodystructure body text header, or IMAP items', )
  .option('--peek', 'BODY.PEEK[]: read the text without setting \\Seen')
  .option('--idle <seconds>', 'then IDLE that long, showing what the server pushes (new mail: * n EXISTS)')
  .option('--command <line>', 'then send this command, as typed after the tag (repeatable)', collect)
  .option('--host <host>', 'IMAP server', 'mail.lab.test')
  .option('--port <port>', 'IMAP port (default 143, or 993 with --tls)')
  .option('--starttls', 'STARTTLS before logging in (RFC 9051 6.2.1), and stop if the server does not offer it')
  .option('--tls', 'TLS from the first byte (IMAPS, port 993)')
  .addOption(dnsOption())
  .addOption(labPortsOption())
  .addOption(cacertOption())
  .addOption(insecureOption())
  .addOption(keylogOption())
  .option('--raw', 'show the bytes as a hex dump')
  .action(async (opts) => {
    process.exitCode = await exploreImap(opts);
  });

program
  .command('ftp')
  .description('log in to the lab FTP server, list, download, upload; print the control connection')
  .option('--user <name>', 'a lab user, or anonymous', 'anonymous')
  .option('--password <password>', 'password (anonymous: anything)')
  .option('--list <path>', 'list a folder (repeatable)', collect)
  .option('--get <path>', 'download a file and print it (repeatable)', collect)
  .option('--put <local[:remote]>', 'upload a local file (repeatable)', collect)
  .option('--active', 'active mode: the server connects back (EPRT/PORT)')
  .addOption(new Option('--command <cmd>', 'the data connection command').choices(['EPSV', 'PASV', 'EPRT', 'PORT']))
  .option('--host <host>', 'FTP server', 'ftp.lab.test')
  .option('--port <port>', 'FTP port (default 21, or 990 with --tls implicit)')
  .addOption(new Option('--tls <mode>', 'FTP inside TLS: explicit (AUTH TLS, PBSZ 0, PROT P) or implicit (port 990)').choices(['explicit', 'implicit']))
  .addOption(dnsOption())
  .addOption(labPortsOption())
  .addOption(cacertOption())
  .addOption(insecureOption())
  .addOption(keylogOption())
  .option('--raw', 'show the bytes as a hex dump')
  .action(async (opts) => {
    process.exitCode = await exploreFtp(opts);
  });

program
  .command('sftp')
  .description("log in to the lab SSH server and use SFTP; print the host key and each operation")
  .requiredOption('--user <name>', 'a lab user')
  .option('--password <password>', 'log in with the password')
  .option('--key <user>', "log in with that lab user's key (lab/keys/<user>)")
  .option('--list <path>', 'list a folder (repeatable)', collect)
  .option('--get <path>', 'download a file and print it (repeatable)', collect)
  .option('--put <local[:remote]>', 'upload a local file (repeatable)', collect)
  .option('--host <host>', 'SSH server', 'files.lab.test')
  .option('--port <port>', 'SSH port', '22')
  .addOption(dnsOption())
  .addOption(labPortsOption())
  .action(async (opts) => {
    process.exitCode = await exploreSftp(opts);
  });

program
  .command('schema')
  .description('write the JSON Schema of scenario files (for editors)')
  .option('--out <file>', 'write it here instead of standard output')
  .action(async (opts) => {
    const text = JSON.stringify(scenarioJsonSchema(), null, 2) + '\n';
    if (opts.out) await writeFile(opts.out, text);
    else process.stdout.write(text);
  });

/** What to try on a lab that is up, with the ports it really got. */
function tryLines(statuses: ServiceStatus[], ca: string): string[] {
  const where = (service: string, port: string): [string, string] => splitHostPort(statuses.find((s) => s.name === service)?.endpoints[port] ?? '', 0).map(String) as [string, string];
  const [dnsHost, dnsPort] = where('dns', 'dns');
  const [httpHost, httpPort] = where('http', 'http');
  const [, httpsPort] = where('http', 'https');
  const [smtpHost, smtpPort] = where('smtp', 'smtp');
  return [
    `try:  dig @${dnsHost} -p ${dnsPort} www.lab.test   ·   curl http://${httpHost}:${httpPort}/   ·   swaks --server ${smtpHost}:${smtpPort} --to bob@lab.test`,
    // localhost: a name the lab CA's certificates are made out to, as 127.0.0.1 is.
    `      curl --cacert ${ca} https://localhost:${httpsPort}/`,
    `      wirelab http http://www.lab.test/   ·   wirelab dns lab.test MX   (the explorers find this lab; another terminal's lab: --dns ${dnsHost}:${dnsPort})`,
  ];
}

function printDockerStatus(statuses: ServiceStatus[]): void {
  const rows = statuses.map((s) => [s.name, s.host, s.info?.address ?? '', s.info?.health ?? s.info?.state ?? s.state, s.info?.published ?? '']);
  const widths = [13, 18, 14, 10];
  for (const row of rows) console.log('  ' + row.map((cell, i) => (i < widths.length ? cell.padEnd(widths[i]!) : cell)).join(' '));
  for (const s of statuses) if (s.info?.fingerprint) console.log(`${s.name} fingerprint: ${s.info.fingerprint}`);
}

/**
 * `wirelab run --backend docker`: the Docker backend brings the lab up (or, with
 * --reuse, takes the one that is up), runs the scenarios from its client container
 * inside the lab network, and removes what it made unless --keep. Reports are written
 * here from the client's result.
 */
async function runOnDocker(paths: string[], opts: { project: string; keep?: boolean; reuse?: boolean; trace?: boolean; packets?: boolean; report: ReportFormat; out?: string; capture?: string }): Promise<number> {
  const scenarios = await loadAll(paths); // a broken file is reported here, before anything starts
  const toStdout = opts.report === 'terminal' || Boolean(opts.out);
  const write = (text: string): void => void (toStdout ? process.stdout : process.stderr).write(text);
  const c = colorsFor(toStdout ? process.stdout : process.stderr);
  // With --capture: the client's own packets (matched to steps) into FILE, and the whole lab network's beside it.
  const labCapture = opts.capture ? labCaptureFile(opts.capture) : undefined;
  const lab = new DockerBackend({ project: opts.project, keep: opts.keep, reuse: opts.reuse, capture: labCapture });
  write(c.dim(`wirelab: ${opts.reuse ? 'looking for the lab in Docker' : `starting the lab in Docker (project ${opts.project})`}...\n`));
  const started = Date.now();
  await lab.start();
  try {
    const how = lab.reused ? `using the lab that is up (project ${lab.project})` : `lab healthy in ${((Date.now() - started) / 1000).toFixed(1)} s`;
    write(c.dim(`wirelab: ${how}; running ${scenarios.length} scenario(s) from the client container\n`));
    const { code, result } = await lab.runScenarios(scenarios, { trace: opts.trace, packets: opts.packets, show: toStdout ? 'stdout' : 'stderr', capture: opts.capture });
    if (result) await writeReport(result, opts.report, opts.out, write, colorsFor(process.stdout));
    if (opts.capture && result) write(c.dim(`wirelab: the client's packets captured into ${opts.capture}\n`));
    const captured = await lab.stopCapture();
    if (captured) write(c.dim(`wirelab: the lab network's packets (${captured.packets ?? '?'}) captured into ${captured.file ?? labCapture}\n`));
    else if (lab.capturingAlready !== undefined) write(c.dim(`wirelab: the lab's own capture (wirelab up --capture) has this run's packets too: ${lab.capturingAlready}\n`));
    return code;
  } finally {
    await lab.stop();
    if (lab.reused || opts.keep) write(c.dim(`wirelab: the lab is still running; stop it with \`wirelab down${lab.project === 'wirelab' ? '' : ` --project ${lab.project}`}\`\n`));
  }
}

registerGradeCommand(program);
registerQuizCommand(program);

/** --report FORMAT [--out FILE]: every format from the one result, secrets masked (renderReport does it). */
async function writeReport(result: RunResult, format: ReportFormat, out: string | undefined, write: (t: string) => void, c: ReturnType<typeof colorsFor>): Promise<void> {
  if (format === 'terminal') return;
  const text = renderReport(format, result);
  if (!out) return void process.stdout.write(text.endsWith('\n') ? text : text + '\n');
  await mkdir(path.dirname(path.resolve(out)), { recursive: true });
  await writeFile(out, text);
  write(c.dim(`${format} report written to ${out}\n`));
}

async function loadAll(paths: string[]): Promise<Scenario[]> {
  const files = await findScenarioFiles(paths);
  if (!files.length) throw new UsageError(`no scenario files (*.yaml) in ${paths.join(', ')}`);
  const scenarios: Scenario[] = [];
  const errors: ScenarioError[] = [];
  for (const file of files) {
    try {
      scenarios.push(await loadScenarioFile(file));
    } catch (err) {
      if (err instanceof ScenarioError) errors.push(err);
      else throw err;
    }
  }
  if (errors.length) throw new UsageError(errors.map((e) => e.message).join('\n'));
  return scenarios;
}

program.parseAsync().catch((err: unknown) => {
  // A person reads this: the message, never a stack trace (WIRELAB_DEBUG=1 shows one).
  process.stderr.write(`wirelab: ${err instanceof Error ? err.message : String(err)}\n`);
  if (process.env.WIRELAB_DEBUG) console.error(err);
  process.exitCode = 2;
});
