import type { Executor } from './types';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each executor has its own input type
type AnyExecutor = Executor<any>;
import { dnsExecutor } from './dns';
import { httpExecutor } from './http';
import { tcpExecutor } from './tcp';
import { waitExecutor } from './wait';
import { labExecutor } from './lab';
import { pop3Executor } from './pop3';
import { smtpExecutor } from './smtp';
import { ftpExecutor } from './ftp';
import { sftpExecutor } from './sftp';
import { tlsExecutor } from './tls';

/** Every action a step can take, by the key that names it in a scenario file. */
export const EXECUTORS = {
  dns: dnsExecutor,
  http: httpExecutor,
  tcp: tcpExecutor,
  wait: waitExecutor,
  lab: labExecutor,
  smtp: smtpExecutor,
  pop3: pop3Executor,
  ftp: ftpExecutor,
  sftp: sftpExecutor,
  tls: tlsExecutor,
} as const satisfies Record<string, AnyExecutor>;

export type ActionName = keyof typeof EXECUTORS;
export const ACTION_NAMES = Object.keys(EXECUTORS) as ActionName[];

export function executorFor(name: ActionName): Executor<unknown> {
  return EXECUTORS[name] as Executor<unknown>;
}
