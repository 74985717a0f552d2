import { createHash, randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { Readable } from 'node:stream';
import { Client as FtpClient } from 'basic-ftp';
import { Client as SshClient } from 'ssh2';
import { exchange } from '../../services/common/dnsClient';

/**
 * The soak's clients: small, well-behaved ones that do one thing a student's client
 * does (a GET, a query, a delivery, a RETR, an upload) and report what the server
 * acknowledged; and bad ones (garbage, a flood, a slow reader, a wrong password).
 * Every one has a deadline: a server that stops answering is an error, never a hang.
 */

/** One request's deadline. */
export const REQUEST_MS = 15000;

/** A line-protocol connection (SMTP, POP3, IMAP): send lines, read until a line matches. */
export class LineClient {
  private buffer = '';
  private closed = false;
  private failure?: Error;
  private wake?: () => void;

  private constructor(private readonly socket: net.Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      this.wake?.();
    });
    socket.on('error', (err) => (this.failure = err));
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
  }

  static connect(port: number, signal: AbortSignal, localAddress?: string): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host: '127.0.0.1', localAddress });
      const abort = (): void => {
        socket.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' }));
      };
      signal.addEventListener('abort', abort, { once: true });
      socket.once('close', () => signal.removeEventListener('abort', abort));
      socket.once('error', reject);
      socket.once('connect', () => resolve(new LineClient(socket)));
    });
  }

  send(text: string): void {
    this.socket.write(text);
  }

  /** Everything up to and including the first line that matches `last`; fails on close or error. */
  async read(last: RegExp): Promise<string> {
    for (;;) {
      let start = 0;
      for (let end = this.buffer.indexOf('\r\n'); end !== -1; end = this.buffer.indexOf('\r\n', start)) {
        const line = this.buffer.slice(start, end);
        start = end + 2;
        if (last.test(line)) {
          const text = this.buffer.slice(0, start);
          this.buffer = this.buffer.slice(start);
          return text;
        }
      }
      if (this.failure) throw this.failure;
      if (this.closed) throw Object.assign(new Error('closed by the server'), { code: 'CLOSED' });
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A reply that is not the one wanted: its first line is the error's kind (`421`, `-ERR`). */
export class ReplyError extends Error {
  readonly code: string;
  constructor(line: string) {
    super(line.trim());
    this.code = `reply ${line.trim().split(' ')[0]}`;
  }
}

function expectReply(text: string, ok: RegExp): void {
  const last = text.trimEnd().split('\r\n').pop() ?? '';
  if (!ok.test(last)) throw new ReplyError(last);
}

// ---------------------------------------------------------------------------
// Well-behaved clients

export function httpGet(port: number, target: string, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: target, headers: { Host: host }, agent: false, timeout: REQUEST_MS }, (res) => {
      res.resume();
      res.once('end', () => (res.statusCode === 200 ? resolve() : reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { code: `http ${res.statusCode}` }))));
      res.once('error', reject);
    });
    req.once('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.once('error', reject);
  });
}

export async function dnsQuery(port: number): Promise<void> {
  const result = await exchange({ host: '127.0.0.1', port }, { name: 'www.lab.test', type: 'A', transport: 'udp', recursion: false }, AbortSignal.timeout(REQUEST_MS));
  if (result.response.rcode !== 'NOERROR') throw Object.assign(new Error(`rcode ${result.response.rcode}`), { code: `rcode ${result.response.rcode}` });
}

/** One message to `to`, with `messageId`; resolves once it was answered 250 after DATA. */
export async function smtpDeliver(port: number, to: string, messageId: string): Promise<void> {
  const c = await LineClient.connect(port, AbortSignal.timeout(REQUEST_MS));
  try {
    expectReply(await c.read(/^\d{3} /), /^220 /);
    c.send('EHLO soak.lab.test\r\n');
    expectReply(await c.read(/^\d{3} /), /^250 /);
    c.send(`MAIL FROM:<soak@example.test>\r\n`);
    expectReply(await c.read(/^\d{3} /), /^250 /);
    c.send(`RCPT TO:<${to}>\r\n`);
    expectReply(await c.read(/^\d{3} /), /^250 /);
    c.send('DATA\r\n');
    expectReply(await c.read(/^\d{3} /), /^354 /);
    const body = Array.from({ length: 40 }, (_, i) => `line ${i} of ${messageId}`).join('\r\n');
    c.send(`Message-ID: <${messageId}>\r\nSubject: soak\r\nFrom: soak@example.test\r\nTo: ${to}\r\n\r\n${body}\r\n.\r\n`);
    expectReply(await c.read(/^\d{3} /), /^250 /);
    c.send('QUIT\r\n');
    await c.read(/^\d{3} /).catch(() => ''); // acknowledged already: the goodbye is a courtesy
  } finally {
    c.close();
  }
}

/** Log in, RETR the first message, QUIT (nothing deleted). */
export async function pop3Retr(port: number, user: string, password = user): Promise<void> {
  const c = await LineClient.connect(port, AbortSignal.timeout(REQUEST_MS));
  try {
    expectReply(await c.read(/^[+-]/), /^\+OK/);
    c.send(`USER ${user}\r\n`);
    expectReply(await c.read(/^[+-]/), /^\+OK/);
    c.send(`PASS ${password}\r\n`);
    expectReply(await c.read(/^[+-]/), /^\+OK/);
    c.send('RETR 1\r\n');
    const first = await c.read(/^[+-]/);
    expectReply(first, /^\+OK/);
    await c.read(/^\.$/);
    c.send('QUIT\r\n');
    expectReply(await c.read(/^[+-]/), /^\+OK/);
  } finally {
    c.close();
  }
}

export async function imapFetch(port: number, user: string): Promise<void> {
  const c = await LineClient.connect(port, AbortSignal.timeout(REQUEST_MS));
  try {
    expectReply(await c.read(/^\* /), /^\* OK/);
    c.send(`a1 LOGIN ${user} ${user}\r\n`);
    expectReply(await c.read(/^a1 /), /^a1 OK/);
    c.send('a2 SELECT INBOX\r\n');
    expectReply(await c.read(/^a2 /), /^a2 OK/);
    c.send('a3 FETCH 1 (FLAGS RFC822.SIZE)\r\n');
    expectReply(await c.read(/^a3 /), /^a3 OK/);
    c.send('a4 LOGOUT\r\n');
    expectReply(await c.read(/^a4 /), /^a4 OK/);
  } finally {
    c.close();
  }
}

/** Bytes to upload, with their SHA-256. */
export function uploadBytes(size: number): { bytes: Buffer; sha256: string } {
  const bytes = randomBytes(size);
  return { bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/** STOR `name` as `user`; resolves once the server answered 226. */
export async function ftpUpload(port: number, user: string, name: string, bytes: Buffer): Promise<void> {
  const client = new FtpClient(REQUEST_MS);
  try {
    await client.access({ host: '127.0.0.1', port, user, password: user });
    const reply = await client.uploadFrom(Readable.from([bytes]), name);
    if (reply.code !== 226) throw new ReplyError(`${reply.code} ${reply.message}`);
  } finally {
    client.close();
  }
}

/** OPEN, WRITE, CLOSE `name` in `user`'s home; resolves once CLOSE was answered OK. */
export function sftpUpload(port: number, user: string, name: string, bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const client = new SshClient();
    let settled = false;
    const done = (err?: Error): void => {
      if (settled) return;
      settled = true;
      client.end();
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(() => done(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })), REQUEST_MS);
    client.on('error', (err) => done(err));
    client.on('close', () => done(Object.assign(new Error('closed by the server'), { code: 'CLOSED' })));
    client.on('ready', () => {
      client.sftp((err, sftp) => {
        if (err) return done(err);
        sftp.writeFile(name, bytes, (e) => {
          clearTimeout(timer);
          done(e ?? undefined);
        });
      });
    });
    client.connect({ host: '127.0.0.1', port, username: user, password: user, readyTimeout: REQUEST_MS, keepaliveInterval: 0 });
  });
}

// ---------------------------------------------------------------------------
// Bad clients: each resolves with how it ended, as a kind for the table.

/** Random bytes, then whatever the server says, until it closes (or 3 s). */
export async function garbage(port: number): Promise<string> {
  const c = await LineClient.connect(port, AbortSignal.timeout(3000));
  c.send(randomBytes(2048).toString('latin1'));
  try {
    await c.read(/^\0never$/);
    return 'garbage';
  } catch (err) {
    return (err as { code?: string }).code === 'CLOSED' ? 'garbage:closed' : 'garbage';
  } finally {
    c.close();
  }
}

/** `count` connections at once from 127.0.0.2, held for a moment, then closed. */
export async function flood(port: number, count: number): Promise<string> {
  const signal = AbortSignal.timeout(3000);
  setMaxListeners(count + 10, signal); // one deadline for every connection of the flood
  const opened = await Promise.allSettled(Array.from({ length: count }, () => LineClient.connect(port, signal, '127.0.0.2')));
  await new Promise((resolve) => setTimeout(resolve, 500));
  for (const o of opened) if (o.status === 'fulfilled') o.value.close();
  return `flood:${opened.filter((o) => o.status === 'fulfilled').length}/${count}`;
}

/** A GET of a page, not read for two seconds, then dropped. */
export async function slowReader(port: number): Promise<string> {
  const c = await LineClient.connect(port, AbortSignal.timeout(5000));
  c.send('GET / HTTP/1.1\r\nHost: www.lab.test\r\n\r\n'.repeat(20)); // pipelined: answers pile up unread
  await new Promise((resolve) => setTimeout(resolve, 2000));
  c.close();
  return 'slow-reader';
}

/** USER and a wrong PASS on POP3: -ERR expected. */
export async function wrongPassword(port: number): Promise<string> {
  try {
    await pop3Retr(port, 'alice', 'not-the-password');
    return 'wrong-password:accepted!';
  } catch (err) {
    return (err as { code?: string }).code === 'reply -ERR' ? 'wrong-password:-ERR' : `wrong-password:${(err as { code?: string }).code ?? 'error'}`;
  }
}
