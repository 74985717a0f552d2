import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EmbeddedBackend, type EmbeddedOptions } from '../../lab-runner/backends/embedded';
import type { ExecContext, Executor, StepOutput } from '../../lab-runner/executors/types';
import type { StepResult, ScenarioResult } from '../../lab-runner/result';
import type { KeylogFile } from '../../lab-runner/tls/keylog';
import { StepError, Wire, type WireEvent } from '../../lab-runner/wire';
import { caCertificateFile } from '../../services/common/certificates';
import { Maildir, maildirPath } from '../../services/common/maildir';
import type { TlsFault } from '../../services/common/tlsFaults';
import { LogCollector } from './logs';
import { LAB_DIR } from './paths';

export { LAB_DIR, SCENARIOS_DIR } from './paths';

export interface Lab {
  backend: EmbeddedBackend;
  dataDir: string;
  /** The lab CA's certificate, in the lab's data directory: what a client is given to trust. */
  caFile: string;
  /** A service's log lines, to wait on (`lab.log('ftp').waitFor(...)`). */
  log(service: string): LogCollector;
  /** Switch a certificate lesson on for a service that speaks TLS, or off (`none`): the lab's `tls-fault` step. */
  fault(service: string, fault: TlsFault | 'none'): Promise<void>;
  /**
   * Run one step of `executor` against this lab, on a fresh wire: the input parsed by the
   * executor's schema; the output, or the failure (a StepError) and the transcript.
   * Without `session`, what the step kept open is closed when it ends.
   */
  step<I>(executor: Executor<I>, input: unknown, options?: { keylog?: KeylogFile; session?: ExecContext['session'] }): Promise<StepRun>;
  /** The messages in a lab.test user's Maildir, oldest first, as delivered (the Received fields on top). */
  mailbox(user: string): Promise<string[]>;
  stop(): Promise<void>;
}

export interface StepRun {
  output?: StepOutput;
  error?: StepError;
  events: WireEvent[];
}

/** A whole embedded lab on free ports with its own fresh data directory. */
export async function startLab(options: Partial<EmbeddedOptions> = {}): Promise<Lab> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'wirelab-test-'));
  const logs: Record<string, LogCollector> = {};
  const collector = (service: string): LogCollector => (logs[service] ??= new LogCollector());
  const backend = new EmbeddedBackend({
    labDir: LAB_DIR,
    dataDir,
    freePorts: true,
    ...options,
    onLog: (service, line, level) => {
      collector(service).add(line);
      options.onLog?.(service, line, level);
    },
  });
  try {
    await backend.start(); // a failed start stops what it had started (tests/lab-runner/backends/embedded-start.test.ts)
  } catch (err) {
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    backend,
    dataDir,
    caFile: caCertificateFile(dataDir),
    log: collector,
    async fault(service, fault) {
      await backend.control(service, 'tls-fault', { fault });
    },
    async step(executor, input, stepOptions = {}) {
      const wire = new Wire();
      const ctx: ExecContext = {
        network: backend.network(),
        backend,
        wire,
        signal: AbortSignal.timeout(15000),
        session: stepOptions.session ?? { resources: new Map() },
        keylog: stepOptions.keylog,
      };
      try {
        const output = await executor.run(executor.schema.parse(input), ctx);
        return { output, events: wire.events };
      } catch (err) {
        if (!(err instanceof StepError)) throw err;
        return { error: err, events: wire.events };
      } finally {
        if (!stepOptions.session) for (const r of ctx.session.resources.values()) r.close();
      }
    },
    async mailbox(user) {
      const maildir = new Maildir(maildirPath(dataDir, 'lab.test', user));
      return Promise.all((await maildir.list()).map((m) => readFile(path.join(maildir.dir, m.file), 'utf8')));
    },
    async stop() {
      await backend.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A failing scenario's steps in a form that reads well in a test failure. */
export function problems(result: ScenarioResult): string[] {
  return result.steps.filter((s) => s.status !== 'passed').map(describeStep);
}

export function describeStep(s: StepResult): string {
  return `${s.file}:${s.line} ${s.name}: ${s.status}: ${s.error ?? ''}`;
}
