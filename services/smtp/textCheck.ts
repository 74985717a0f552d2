/**
 * Checks the text of a message while DATA streams in, byte by byte, so nothing has to
 * be held back to decide. Pure: it only counts.
 *
 * - Size: the bytes so far, against the limit (RFC 5321 4.5.3.1.7 allows refusing what
 *   is too big; the reply is 552, RFC 5321 4.5.3.1.9).
 * - Line ends: CR and LF appear only together, as CRLF (RFC 5321 2.3.8). A bare LF or
 *   a bare CR is refused, because servers disagree on what `<LF>.<LF>` means: one that
 *   passed it on to a server that ends DATA there would let a sender hide a second,
 *   forged message inside the first ("SMTP smuggling"). Refusing the whole message is
 *   the simplest safe answer.
 * - Line length: at most 1000 octets with the CRLF (RFC 5321 4.5.3.1.6, RFC 5322 2.1.1).
 */

export type TextProblem =
  | { kind: 'too-big'; limit: number }
  | { kind: 'bare-lf' | 'bare-cr'; line: number }
  | { kind: 'line-too-long'; line: number; limit: number };

const CR = 0x0d;
const LF = 0x0a;

export class TextCheck {
  /** Bytes seen so far. */
  bytes = 0;
  /** The first problem found; later ones are not looked for. */
  problem?: TextProblem;
  private line = 1;
  private lineLength = 0;
  private afterCr = false;

  constructor(
    /** Largest message in bytes. */
    private readonly maxBytes: number,
    /** Longest line in octets, counting its CRLF. */
    private readonly maxLineOctets: number,
  ) {}

  push(chunk: Buffer): void {
    this.bytes += chunk.length;
    if (this.problem) return;
    if (this.bytes > this.maxBytes) {
      this.problem = { kind: 'too-big', limit: this.maxBytes };
      return;
    }
    for (const byte of chunk) {
      if (this.afterCr) {
        this.afterCr = false;
        if (byte === LF) {
          this.line++;
          this.lineLength = 0;
          continue;
        }
        this.problem = { kind: 'bare-cr', line: this.line };
        return;
      }
      if (byte === CR) {
        this.afterCr = true;
      } else if (byte === LF) {
        this.problem = { kind: 'bare-lf', line: this.line };
        return;
      } else if (++this.lineLength + 2 > this.maxLineOctets) {
        this.problem = { kind: 'line-too-long', line: this.line, limit: this.maxLineOctets };
        return;
      }
    }
  }

  /** Call at the end of the message: a CR as the very last byte is bare too. */
  end(): TextProblem | undefined {
    if (!this.problem && this.afterCr) this.problem = { kind: 'bare-cr', line: this.line };
    return this.problem;
  }
}
