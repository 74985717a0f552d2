import type { Connection } from '../../wire';
import { codeValues, describeResponse, imapResponse, type CommandPiece, type ImapResponse, type ImapStatus, type ImapValue } from './protocol';

/**
 * The client's side of one IMAP connection: it tags each command (a1, a2, ...), sends
 * it (a literal only after the server's `+`, RFC 9051 4.3), and reads responses until
 * the one with its tag. Every response is its own event in the transcript, as it
 * crossed the wire. The untagged ones are news that can come at any time (RFC 9051
 * 7: "the client MUST be prepared to accept any response at all times"): each is kept,
 * and what it says about the selected mailbox (EXISTS, EXPUNGE, FLAGS, UIDVALIDITY...)
 * updates the client's view of it.
 */

/** What the client knows of the selected mailbox: from SELECT's responses, then from news. */
export interface SelectedView {
  name: string;
  readOnly: boolean;
  exists?: number;
  recent?: number;
  uidvalidity?: number;
  uidnext?: number;
  unseen?: number;
  flags?: string[];
  permanentFlags?: string[];
}

/** An untagged response, as the output lists it. */
export interface Untagged {
  text: string;
  type: string;
  number?: number;
  code?: string;
}

/** A command's end: its tagged status, and the untagged responses that came with it. */
export interface Completion {
  tag: string;
  command: string;
  status: ImapStatus;
  code?: string;
  /** The code's arguments (`APPENDUID 1796419832 4` -> `1796419832 4`). */
  codeArgs?: string;
  text: string;
  untagged: ImapResponse[];
}

const CRLF = Buffer.from('\r\n');

export class ImapSession {
  private next = 1;
  /** Every untagged response of the session, in order. */
  readonly untagged: Untagged[] = [];
  /** Every command and how it ended. */
  readonly commands: Omit<Completion, 'untagged' | 'codeArgs'>[] = [];
  selected?: SelectedView;
  /** The server's last word on its capabilities (greeting, CAPABILITY, OK [CAPABILITY ...]). */
  capabilities: string[] = [];

  constructor(
    readonly connection: Connection,
    private readonly signal: AbortSignal,
  ) {}

  /** The next response, whatever it is; untagged ones are noted on the way. */
  async read(signal = this.signal): Promise<ImapResponse> {
    const response = await this.connection.read(imapResponse, { describe: describeResponse }, signal);
    if (response.tag === '*') this.observe(response);
    return response;
  }

  /** A new tag: a1, a2, ... */
  tag(): string {
    return `a${this.next++}`;
  }

  /**
   * Send one command and read until its tagged response. A literal is announced with
   * `{n}` and sent once the server answers `+`; if the server answers with the tag
   * instead (a refusal, RFC 9051 7.5), the literal is not sent.
   */
  async command(pieces: CommandPiece[], tag = this.tag()): Promise<Completion> {
    const untagged: ImapResponse[] = [];
    const shown = shownCommand(pieces);
    let line = `${tag} `;
    for (const [i, piece] of pieces.entries()) {
      if (typeof piece === 'string') {
        line += piece;
        continue;
      }
      this.connection.send(`${line}{${piece.literal.length}}`);
      const go = await this.untilContinuation(tag, untagged);
      if (go.tag !== '+') return this.completion(tag, shown, go, untagged);
      const last = i === pieces.length - 1;
      // The octets as they are; after the last one, the CRLF that ends the command.
      this.connection.write(last ? Buffer.concat([piece.literal, CRLF]) : piece.literal, `(${piece.literal.length} octets)`);
      if (last) return this.untilTagged(tag, shown, untagged);
      line = '';
    }
    this.connection.send(line);
    return this.untilTagged(tag, shown, untagged);
  }

  /** Read until `+` (go on) or this tag (the command is over already). */
  async untilContinuation(tag: string, untagged: ImapResponse[], signal = this.signal): Promise<ImapResponse> {
    for (;;) {
      const response = await this.read(signal);
      if (response.tag === '+' || response.tag === tag) return response;
      if (response.tag === '*') untagged.push(response);
    }
  }

  async untilTagged(tag: string, shown: string, untagged: ImapResponse[] = []): Promise<Completion> {
    for (;;) {
      const response = await this.read();
      if (response.tag === tag) return this.completion(tag, shown, response, untagged);
      if (response.tag === '*') untagged.push(response);
    }
  }

  /** How the command tagged `tag` ended: its tagged response, with the untagged ones that came before it. */
  completion(tag: string, command: string, response: ImapResponse, untagged: ImapResponse[]): Completion {
    const status = response.status ?? 'BAD';
    const done: Completion = { tag, command, status, text: response.text, untagged };
    if (response.code) {
      done.code = response.code.name;
      done.codeArgs = response.code.args;
      this.observeCode(response);
    }
    this.commands.push({ tag, command, status, text: response.text, ...(done.code ? { code: done.code } : {}) });
    return done;
  }

  /** What an untagged response says, kept and applied to the view of the selected mailbox. */
  private observe(r: ImapResponse): void {
    this.untagged.push({ text: r.line, type: r.type ?? '', ...(r.number !== undefined ? { number: r.number } : {}), ...(r.code ? { code: r.code.name } : {}) });
    if (r.type === 'CAPABILITY') this.capabilities = r.values.map(String);
    this.observeCode(r);
    const view = this.selected;
    if (!view) return;
    if (r.type === 'EXISTS') view.exists = r.number;
    else if (r.type === 'RECENT') view.recent = r.number;
    else if (r.type === 'EXPUNGE' && view.exists !== undefined) view.exists -= 1;
    else if (r.type === 'FLAGS') view.flags = strings(r.values[0]);
  }

  /** Response codes that say something about the session or the mailbox (RFC 9051 7.1). */
  private observeCode(r: ImapResponse): void {
    const code = r.code;
    if (!code) return;
    if (code.name === 'CAPABILITY') this.capabilities = code.args.split(' ').filter(Boolean);
    const view = this.selected;
    if (!view) return;
    const n = Number(code.args);
    if (code.name === 'UIDVALIDITY') view.uidvalidity = n;
    else if (code.name === 'UIDNEXT') view.uidnext = n;
    else if (code.name === 'UNSEEN') view.unseen = n;
    else if (code.name === 'PERMANENTFLAGS') view.permanentFlags = strings(codeValues(code)[0]);
    else if (code.name === 'READ-ONLY') view.readOnly = true;
    else if (code.name === 'READ-WRITE') view.readOnly = false;
  }
}

/** A list of atoms or strings as text (flags, attributes). */
export function strings(value: ImapValue | undefined): string[] {
  return Array.isArray(value) ? value.map((v) => String(v)) : [];
}

/** The command as the output lists it: literals as `{n}`. */
function shownCommand(pieces: CommandPiece[]): string {
  return pieces.map((p) => (typeof p === 'string' ? p : `{${p.literal.length}}`)).join('');
}
