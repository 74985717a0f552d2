import { format } from 'node:util';
import type { Logger } from '../common/logger';

/**
 * smtp-server's own log lines, in our log format. It logs every command and reply
 * (`C: MAIL FROM:<a@lab.test>`, `S: 250 2.1.0 Accepted`) with its connection id: these go
 * out at debug level (`WIRELAB_LOG_LEVEL=debug` shows the whole dialogue) as
 *
 *   ... smtp debug smtp-server conn=c4 tnx=send text="S: 250 2.1.0 Accepted"
 *
 * Refusals that end or stall a session (421 early talker, idle timeout, too many
 * connections, line too long; 530; syntax errors; EXPN, TURN) are worth an info line:
 *
 *   ... smtp info refused conn=c4 code=421 reply="421 mail.lab.test You talk too soon"
 *
 * smtp-server writes the arguments of AUTH as `/* secured *\/`: passwords never reach the log.
 */

/** A bunyan-style logger, as smtp-server expects one. */
export interface LibraryLogger {
  level(): void;
  trace(...args: unknown[]): void;
  debug(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
  fatal(...args: unknown[]): void;
}

/**
 * Replies worth an info line: those that end or stall a session, and commands refused for
 * their syntax or order (500-504: unknown, bad arguments, EXPN/TURN, out of sequence).
 * Ours of these codes are logged where they are made as well.
 */
const NOTABLE = /^S: (421|50[0-4]|530) /;

export function libraryLogger(logFor: (connectionId: string | undefined) => Logger): LibraryLogger {
  const write = (level: 'debug' | 'warn', args: unknown[]): void => {
    const [entry, ...rest] = args as [{ cid?: string; tnx?: string } | undefined, ...unknown[]];
    const text = format(...rest).replace(/\r?\n/g, '\\n'); // a multi-line reply stays one log line
    const log = logFor(entry?.cid);
    const notable = NOTABLE.exec(text);
    if (notable) log.info('refused', { code: Number(text.slice(3, 6)), reply: text.slice(3) });
    else log[level]('smtp-server', { tnx: entry?.tnx, text });
  };
  return {
    level: () => {},
    trace: (...a) => write('debug', a),
    debug: (...a) => write('debug', a),
    info: (...a) => write('debug', a),
    warn: (...a) => write('warn', a),
    error: (...a) => write('debug', a), // mostly socket errors: clients that hang up
    fatal: (...a) => write('warn', a),
  };
}
