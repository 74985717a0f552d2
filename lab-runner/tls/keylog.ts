import { appendFileSync } from 'node:fs';

/**
 * `--keylog FILE`: the secrets of every TLS session the runner opens, one line each in
 * the SSLKEYLOGFILE format (NSS key log format: `CLIENT_RANDOM ...` for TLS 1.2,
 * `CLIENT_HANDSHAKE_TRAFFIC_SECRET ...` and friends for TLS 1.3), which is what curl and
 * browsers write for $SSLKEYLOGFILE. Wireshark reads it (Preferences > Protocols > TLS >
 * (Pre)-Master-Secret log filename; tshark -o tls.keylog_file:FILE) and shows a capture
 * of the run decrypted.
 *
 * Anyone with the file can read those sessions: it is written 0600, and only for lab traffic.
 */

/** What emits 'keylog' with a line: a tls.TLSSocket, an https.Agent, a tls.Server. */
interface KeylogSource {
  on(event: 'keylog', listener: (line: Buffer) => void): unknown;
}

export class KeylogFile {
  constructor(readonly file: string) {}

  /** Record every session `source` makes from now on. Attach before the handshake (right after tls.connect). */
  attach(source: KeylogSource): void {
    source.on('keylog', this.write);
  }

  /** Node hands each line with its newline; lines of parallel sessions stay whole (one append each). */
  readonly write = (line: Buffer): void => {
    appendFileSync(this.file, line, { mode: 0o600 });
  };
}
