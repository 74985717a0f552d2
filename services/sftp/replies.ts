import type { Attributes, FileEntry } from 'ssh2';
import { JailError } from '../common/jail';
import { PathTooLongError } from './clientPath';

/**
 * What an SFTP request gets back: exactly one reply, a STATUS (OK, EOF, NO_SUCH_FILE,
 * PERMISSION_DENIED, FAILURE, OP_UNSUPPORTED; draft-02 7), or HANDLE, DATA, NAME or
 * ATTRS; an OpenSSH extension may answer with an EXTENDED_REPLY of its own bytes.
 * And which status a failure gets: statusFor() below, the one place that decides it.
 */

export type StatusName = 'OK' | 'EOF' | 'NO_SUCH_FILE' | 'PERMISSION_DENIED' | 'FAILURE' | 'BAD_MESSAGE' | 'OP_UNSUPPORTED';

/** A failure with the status code the client should get. */
export class SftpStatusError extends Error {
  constructor(readonly status: StatusName, message: string) {
    super(message);
    this.name = 'SftpStatusError';
  }
}

export type Reply =
  | { status: StatusName; message: string }
  | { handle: Buffer }
  | { data: Buffer }
  | { names: FileEntry[] }
  | { attrs: Attributes }
  | { extended: Buffer };

export const OK: Reply = { status: 'OK', message: 'OK' };

/** ATTRS with no fields, for NAME entries that only carry a name (REALPATH, READLINK). */
export const NO_ATTRS = {} as Attributes;

/**
 * An error as a STATUS reply; `undefined` for an error nobody expected (the caller logs it
 * and answers FAILURE). The message never carries a host path.
 */
export function statusFor(e: unknown): { status: StatusName; message: string } | undefined {
  if (e instanceof SftpStatusError) return { status: e.status, message: e.message };
  if (e instanceof JailError) return { status: 'PERMISSION_DENIED', message: `refused: ${e.reason.replace('the root', 'your home')}` };
  if (e instanceof PathTooLongError) return { status: 'FAILURE', message: e.message };
  const code = (e as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return { status: 'NO_SUCH_FILE', message: 'no such file or folder' };
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return { status: 'PERMISSION_DENIED', message: 'permission denied' };
    case 'EEXIST':
      return { status: 'FAILURE', message: 'already exists' };
    case 'ENOTEMPTY':
      return { status: 'FAILURE', message: 'the folder is not empty' };
    case 'EISDIR':
      return { status: 'FAILURE', message: 'is a folder' };
    case 'EINVAL':
      return { status: 'FAILURE', message: 'invalid request' };
    case 'EXDEV':
      return { status: 'FAILURE', message: 'not on the same file system' };
    case 'ENAMETOOLONG':
    case 'ELOOP':
    case 'ENOSPC':
    case 'EDQUOT':
    case 'EFBIG':
    case 'EMLINK':
      return { status: 'FAILURE', message: code === 'ELOOP' ? 'too many levels of symbolic links' : `cannot: ${code}` };
    default:
      return undefined;
  }
}
