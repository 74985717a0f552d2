/**
 * Structured, one-line logs for every service.
 *
 * A line reads `2026-11-21T17:50:00.123Z dns info query client=127.0.0.1:53011 name=www.lab.test`:
 * time, service, level, message, then key=value fields. A connection's logger is a
 * child that carries `conn=ID`, so one client's lines can be picked out with grep.
 */

export type Level = 'debug' | 'info' | 'warn' | 'error';
export type Fields = Record<string, string | number | boolean | undefined | null>;
/** Where finished lines go: stderr in a container, a buffer in the embedded lab, nothing in tests. */
export type LogSink = (line: string, level: Level) => void;

export interface Logger {
  debug(message: string, fields?: Fields): void;
  info(message: string, fields?: Fields): void;
  warn(message: string, fields?: Fields): void;
  error(message: string, fields?: Fields): void;
  /** A logger whose every line also carries `fields` (a connection id, a client address). */
  child(fields: Fields): Logger;
}

const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export const silentSink: LogSink = () => {};

/**
 * A sink that collects lines and writes them together, once per turn of the event loop
 * (or sooner, past `maxBytes`): one write(2) for a burst of lines instead of one per
 * line. A write to a file or a pipe blocks the whole process until it is done, so a busy
 * server logging a line per request or per query spent much of its time in writes.
 * Order is kept; pending lines are written at exit (process.exit(), the end of the
 * event loop, SIGTERM through closeOnSignals) and by flush(). Only a kill -9 can lose
 * what one turn of the loop logged.
 */
export interface BufferedSink extends LogSink {
  /** Write what is pending now. */
  flush(): void;
}

export function bufferedSink(write: (text: string) => void, maxBytes = 64 * 1024): BufferedSink {
  let pending: string[] = [];
  let bytes = 0;
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    if (pending.length === 0) return;
    const text = pending.join('');
    pending = [];
    bytes = 0;
    write(text);
  };
  const sink = (line: string): void => {
    pending.push(line + '\n');
    bytes += line.length + 1;
    if (bytes >= maxBytes) flush();
    else if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
  process.on('exit', flush);
  return Object.assign(sink, { flush });
}

/** stderr, where a container's log is read from (`docker logs`), through a bufferedSink. */
export const stderrSink: BufferedSink = bufferedSink((text) => process.stderr.write(text));

/** Write every log line still pending on stderr (before a message written to stderr directly, or an exit). */
export function flushLogs(): void {
  stderrSink.flush();
}

export interface LoggerOptions {
  sink?: LogSink;
  /** Lines below this level are dropped. Default: `info`, or $WIRELAB_LOG_LEVEL. */
  level?: Level;
}

export function createLogger(service: string, options: LoggerOptions = {}, bound: Fields = {}): Logger {
  const sink = options.sink ?? stderrSink;
  const min = ORDER[options.level ?? (process.env.WIRELAB_LOG_LEVEL as Level | undefined) ?? 'info'] ?? ORDER.info;
  const write = (level: Level, message: string, fields?: Fields): void => {
    if (ORDER[level] < min) return;
    const all = { ...bound, ...fields };
    sink(`${new Date().toISOString()} ${service} ${level} ${message}${formatFields(all)}`, level);
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (fields) => createLogger(service, options, { ...bound, ...fields }),
  };
}

export function formatFields(fields: Fields): string {
  let out = '';
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined || value === null) continue;
    const text = String(value);
    // Quote values with spaces or quotes so a line stays machine-splittable.
    out += ` ${key}=${/[\s"=]/.test(text) || text === '' ? JSON.stringify(text) : text}`;
  }
  return out;
}

/** Short ids for connections: `c1`, `c2`, ... per process; enough to follow one client in a log. */
let nextConnection = 1;
export function connectionId(): string {
  return `c${nextConnection++}`;
}

/**
 * A message a service itself sent or received on another connection (the SMTP relay's
 * MX lookup and its second hop), logged as one structured line:
 *   `... smtp info wire kind=send proto=smtp from=mail.lab.test to=mail.example.test:25 summary="MAIL FROM:<a@lab.test>"`
 * The runner turns such lines into transcript events, so a scenario's ladder diagram
 * shows what the lab did on its own, on every backend (they are ordinary log lines).
 */
export interface WireNote {
  kind: 'send' | 'recv' | 'connect' | 'close' | 'note';
  proto: string;
  from: string;
  to: string;
  summary: string;
}

export function logWire(log: Logger, note: WireNote): void {
  log.info('wire', { ...note });
}

export interface ParsedLogLine {
  time: string;
  service: string;
  level: Level;
  message: string;
  fields: Record<string, string>;
}

/** A line written by createLogger() read back into its parts; undefined for any other line. */
export function parseLogLine(line: string): ParsedLogLine | undefined {
  const head = /^(\S+) (\S+) (debug|info|warn|error) (\S+)/.exec(line);
  if (!head) return undefined;
  const fields: Record<string, string> = {};
  for (const m of line.slice(head[0].length).matchAll(/ ([\w.-]+)=("(?:[^"\\]|\\.)*"|\S+)/g)) {
    fields[m[1]!] = m[2]!.startsWith('"') ? (JSON.parse(m[2]!) as string) : m[2]!;
  }
  return { time: head[1]!, service: head[2]!, level: head[3] as Level, message: head[4]!, fields };
}
