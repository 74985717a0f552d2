/**
 * The request line (RFC 9112 §3), read as its bytes arrive on one connection, just
 * before node:http's parser (llhttp) reads the same bytes. It is for three things that
 * parser cannot do:
 *
 * - `GET / HTTP/1.2`: llhttp knows HTTP/1.0 and 1.1 only and refuses any other minor
 *   version. RFC 9110 §2.5 says a later minor version of a major version the server
 *   speaks is read as the highest one it implements, so the watch changes the digit
 *   to 1 in place, before the parser sees it: the request is served as HTTP/1.1.
 * - a request head over the size limit: was it the request line (414 URI Too Long)
 *   or the header fields (431)? llhttp says only "header overflow".
 * - a request the parser refused: its request line, for the log and the answer.
 *
 * It keeps in step with the parser by counting: one request line per request head the
 * parser reports. A client that sends its next request before the answer to the last
 * one (pipelining) gets the watch out of step; it then stops, for good on that
 * connection, and touches no more bytes.
 */

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
/** How much of a request line is kept for log lines and messages. */
const KEEP = 200;

export class RequestLineWatch {
  /** The request line so far (its first KEEP characters), without CR LF. */
  text = '';
  /** Its length in bytes so far. */
  length = 0;
  /** The length of its second word, the request target. */
  targetLength = 0;
  /** Its LF has arrived. */
  complete = false;
  /** The version as the client wrote it, when the watch read it as HTTP/1.1: `1.2`. */
  sentVersion?: string;

  private state: 'before' | 'line' | 'after' | 'lost' = 'before';
  private spaces = 0;
  private version = '';
  private lines = 0;
  private heads = 0;

  /** Bytes from the client, before the parser reads them; the version digit may be changed in place. */
  feed(chunk: Buffer): void {
    for (let i = 0; i < chunk.length && (this.state === 'before' || this.state === 'line'); i++) {
      const byte = chunk[i]!;
      if (this.state === 'before') {
        // RFC 9112 §2.2: a server ignores empty lines before a request line.
        if (byte === CR || byte === LF) continue;
        this.state = 'line';
      }
      if (byte === LF) {
        this.complete = true;
        this.lines++;
        this.state = 'after';
        return;
      }
      if (byte === CR) continue;
      this.length++;
      if (this.text.length < KEEP) this.text += String.fromCharCode(byte);
      if (byte === SP) {
        this.spaces++;
        continue;
      }
      if (this.spaces === 1) this.targetLength++;
      if (this.spaces === 2) {
        if (this.version === 'HTTP/1.' && byte >= 0x32 && byte <= 0x39) {
          this.sentVersion = `1.${String.fromCharCode(byte)}`;
          chunk[i] = 0x31; // '1': HTTP/1.x is read as HTTP/1.1
        }
        this.version += String.fromCharCode(byte);
      }
    }
  }

  /** The parser read a request head (node:http's 'request' or 'connect'). */
  parsed(): void {
    this.heads++;
    if (this.heads !== this.lines) this.stop();
  }

  /**
   * A response is finished: the next bytes start the next request. Unless the request
   * was not read to its end: its remaining body bytes would be taken for a request line.
   */
  next(requestComplete: boolean): void {
    if (this.state === 'lost') return;
    if (!requestComplete) return this.stop();
    Object.assign(this, { text: '', length: 0, targetLength: 0, complete: false, sentVersion: undefined, spaces: 0, version: '' });
    this.state = 'before';
  }

  /** The request line of the request being read, or undefined when the watch does not know it. */
  get requestLine(): string | undefined {
    return this.state === 'after' && this.complete ? this.text : undefined;
  }

  /** A head over the size limit: was the request line still arriving when it overflowed? */
  get overflowedInLine(): boolean {
    return this.state === 'line';
  }

  /** Still in step with the parser. */
  get inStep(): boolean {
    return this.state !== 'lost';
  }

  private stop(): void {
    this.state = 'lost';
  }
}
