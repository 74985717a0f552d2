import net from 'node:net';
import type { Endpoint } from '../../wire';

/**
 * A box on the path that strips STARTTLS: the attack that opportunistic STARTTLS cannot
 * see. It relays an SMTP connection and, in the server's replies, writes over the
 * STARTTLS line of the EHLO reply, so the client believes the server has no TLS and (if
 * it does not insist) carries on in clear. Firewalls did exactly this for years, the
 * same number of letters in place of STARTTLS: `250-XXXXXXXA` (EFF, "ISPs removing their
 * customers' email encryption", 2014; RFC 8314 1 and 3.1, RFC 7672 1.3).
 *
 * Against TLS from the first byte (SMTPS, port 465) it has nothing to strip: it sees
 * only TLS records, and any change breaks the handshake rather than downgrading it. That
 * is the reason RFC 8314 gives for implicit TLS.
 *
 * The box runs in the runner's own process, on 127.0.0.1, between the client and the
 * lab's server: a real relay of real bytes.
 */

/** What the box writes in place of STARTTLS: as long as the word, so nothing else moves. */
export const STRIPPED = 'XXXXXXXA';

/** A server's lines with STARTTLS struck out of EHLO replies (`250-STARTTLS` -> `250-XXXXXXXA`). Pure. */
export function stripStartTls(text: string): string {
  return text.replace(/^(250[ -])STARTTLS(?=\r?$)/gim, `$1${STRIPPED}`);
}

/** A TLS record's first byte: a handshake (RFC 8446 5.1, content type 22). */
const TLS_HANDSHAKE = 0x16;

export interface Middlebox {
  /** Where clients connect to go through the box. */
  port: number;
  close(): Promise<void>;
}

/**
 * Start the box in front of `upstream`. `onStrip` is told each time it struck STARTTLS
 * out, and `onTls` when a connection turned out to be TLS (nothing to strip).
 */
export async function startStripper(upstream: Endpoint, events: { onStrip(line: string): void; onTls(): void }): Promise<Middlebox> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const server = net.connect(upstream.port, upstream.host);
    for (const s of [client, server]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {}); // either end going away ends both (below)
    }
    client.on('close', () => server.destroy());
    server.on('close', () => client.destroy());
    /** Once the client speaks TLS, what follows is encrypted bytes: relayed as they are. */
    let tls = false;
    /** A reply line not yet complete: held until its end, so a line split across segments is still seen whole. */
    let held = '';
    client.on('data', (chunk: Buffer) => {
      if (!tls && chunk[0] === TLS_HANDSHAKE) {
        tls = true;
        events.onTls();
      }
      server.write(chunk);
    });
    server.on('data', (chunk: Buffer) => {
      if (tls) return void client.write(chunk);
      const text = held + chunk.toString('latin1');
      const end = text.lastIndexOf('\n') + 1;
      held = text.slice(end);
      const lines = text.slice(0, end);
      const stripped = stripStartTls(lines);
      if (stripped !== lines) events.onStrip(lines.split('\n').find((l) => /^250[ -]STARTTLS/i.test(l))!.trimEnd());
      if (stripped) client.write(Buffer.from(stripped, 'latin1'));
    });
    client.on('end', () => server.end());
    server.on('end', () => {
      if (held) client.write(Buffer.from(held, 'latin1'));
      client.end();
    });
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
