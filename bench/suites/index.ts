import type { Recorder } from '../figures';
import { dnsSuite } from './dns';
import { dockerSuite } from './docker';
import { ftpSuite } from './ftp';
import { httpSuite } from './http';
import { labSuite } from './lab';
import { mailboxSuite } from './mailbox';
import { sftpSuite } from './sftp';
import { smtpSuite } from './smtp';

/**
 * The suites, in the order a full run takes them. A suite measures and records its
 * figures; it returns a sentence instead when it cannot run here (no Docker, no IMAP yet).
 */
export type Suite = (rec: Recorder, lab: string) => Promise<void | string>;

export const SUITES: Record<string, Suite> = {
  http: httpSuite,
  dns: dnsSuite,
  ftp: ftpSuite,
  sftp: sftpSuite,
  smtp: smtpSuite,
  pop3: mailboxSuite('pop3'),
  imap: mailboxSuite('imap'),
  lab: labSuite,
  docker: dockerSuite,
};
