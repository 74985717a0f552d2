import { mkdir, open, rename, rmdir, stat, unlink, lstat } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { Fields } from '../common/logger';
import { addressFamily, formatEpsv, formatPasv, parseEprtArgument, parseEpsvArgument, parsePortArgument, type HostPort } from './addresses';
import { toNetworkLines } from './ascii';
import { Code } from './codes';
import type { DataChannel, TransferSpec } from './data';
import { fileSource, isRoot, readEntries, readEntry, Upload, type Root } from './files';
import { listingBytes, listLine, MLST_FACTS, mlsxLine, nlstLines, timeVal, type MlstFact } from './listing';
import { quotePath, reply, type Reply } from './reply';

/**
 * The FTP commands, one small handler each (RFC 959 4.1 and 5.3, RFC 2389, RFC 2428,
 * RFC 3659). A handler gets the session and the text after the verb, and returns the
 * final reply; server.ts has already checked that the verb is allowed (logged in?
 * allowed to write?), sends the reply, and logs one line per command. A verb that is not
 * in this table does not exist here: 500 (or 502 for the ones RFC 959 names, see
 * NOT_IMPLEMENTED).
 */

/** TYPE: A is ASCII (line ends converted), I is image (bytes unchanged). RFC 959 3.1.1. */
export type TransferType = 'A' | 'I';

/** Who is logged in on a session. */
export interface SessionUser {
  /** The lab user's name, or `anonymous`. */
  name: string;
  /** Anonymous FTP: read-only, rooted at the lab's public area. */
  anonymous: boolean;
}

/** What a handler may see and do; server.ts implements it, one per control connection. */
export interface Session {
  /** Set by a successful PASS. */
  readonly user?: SessionUser;
  /** The name given by USER, waiting for PASS (cleared by any other command). */
  pendingUser?: string;
  /** The current directory as the client sees it ("/" is the root). */
  cwd: string;
  /** The transfer type; RFC 959 3.1.1.5: ASCII until the client says otherwise. */
  type: TransferType;
  /** REST n: where the next RETR starts (or how much of the file the next STOR keeps). */
  restOffset: number;
  /** RNFR done: the path waiting for RNTO (cleared by any other command). */
  renameFrom?: string;
  /** EPSV ALL was sent (RFC 2428 4): only EPSV may set up a data connection from now on. */
  epsvAll: boolean;
  /** The facts MLSD and MLST show (OPTS MLST picks them, RFC 3659 7.9). */
  mlstFacts: readonly MlstFact[];
  /** The client's address on the control connection. */
  readonly clientAddress: string;
  /** The address the client reached this server on. */
  readonly localAddress: string;

  /** The user for this name and password (any password for anonymous), or undefined. */
  authenticate(name: string, password: string): SessionUser | undefined;
  /** Count a failed login, wait authFailureDelayMs, and build the 530 (closing after maxAuthFailures). */
  loginFailed(name: string): Promise<Reply>;
  /** Log the user in: root, cwd "/". */
  startSession(user: SessionUser): Promise<void>;
  /** Is anonymous login offered? */
  readonly anonymousAllowed: boolean;

  /** The session's root ("/"); there after login. */
  readonly root: Root;
  /** A path to read: confined, symlinks followed (jail.confineReal). Throws JailError or ENOENT. */
  resolveRead(arg: string): Promise<string>;
  /** A path to write, create, rename or remove: confined (jail.confineForWrite). */
  resolveWrite(arg: string): Promise<string>;
  /** An absolute path inside the root as the client sees it. */
  shown(absolute: string): string;

  /** The data connections: PASV/EPSV/PORT/EPRT set up the next transfer, RETR/STOR/LIST... run it (data.ts). */
  readonly data: DataChannel;
  /** Is the control connection encrypted (AUTH TLS done, or port 990)? */
  readonly secure: boolean;
  /** Can AUTH TLS start TLS here (the server has a certificate, and the connection is in clear)? */
  readonly tlsAvailable: boolean;
  /** May a lab user's password be sent in clear (the "FTP sends your password in clear" lesson)? */
  readonly plaintextLoginAllowed: boolean;
  /** PBSZ was sent inside TLS (RFC 4217 9: before PROT). */
  pbszDone: boolean;
  /** AUTH TLS: answer 234, then the TLS handshake; false if it failed (the connection is closed then). */
  startTls(goAhead: Reply): Promise<boolean>;

  /** Close the control connection once this command's reply is sent. */
  hangUp(reason: string): void;
  /** Extra fields for this command's log line. */
  note(fields: Fields): void;
  /** A status summary for STAT. */
  status(): string[];
}

/** A handler's reply; undefined when it answered already (AUTH TLS answers before its handshake). */
export type Handler = (session: Session, arg: string) => Reply | undefined | Promise<Reply | undefined>;

/**
 * Who may use a verb: `any` also before login (RFC 959 says little; this is vsftpd's
 * list), `user` after login, `write` after login and not anonymous.
 */
export type Access = 'any' | 'user' | 'write';

export interface Verb {
  access: Access;
  /** For HELP: the verb's arguments. */
  syntax: string;
  /**
   * A transfer command: it uses up the data connection set up before it (PASV, PORT...),
   * even when it fails before any data moves, so a refused RETR leaves no port open.
   */
  transfer?: true;
  run: Handler;
}

/** RFC 959 verbs this server knows but does not offer: 502 "not implemented" rather than 500 "unknown". */
export const NOT_IMPLEMENTED = ['ACCT', 'SMNT', 'REIN', 'STOU', 'SITE', 'CCC', 'ADAT', 'LANG', 'XPWD', 'XCWD', 'XMKD', 'XRMD'];

/** The names anonymous FTP answers to (RFC 1635 2). */
export const ANONYMOUS_NAMES = ['anonymous', 'ftp'];

const A = reply; // short, for the table below

export const VERBS: Readonly<Record<string, Verb>> = {
  // --- Login (RFC 959 4.1.1) --------------------------------------------------------

  USER: {
    access: 'any',
    syntax: 'USER <name>',
    run: (s, arg) => {
      if (s.user) return A(Code.NOT_LOGGED_IN, `Already logged in as ${s.user.name}; QUIT and connect again to change user.`);
      if (arg.trim() === '') return A(Code.BAD_ARGUMENTS, 'USER needs a name: USER alice, or USER anonymous.');
      const name = arg.trim();
      // The same 331 for every name, known or not: the reply must not tell a guesser which users exist.
      if (s.anonymousAllowed && ANONYMOUS_NAMES.includes(name.toLowerCase())) {
        s.pendingUser = name;
        return A(Code.NEED_PASSWORD, 'Anonymous login okay; send your e-mail address as the password.');
      }
      // vsftpd's force_local_logins_ssl: a real password only inside TLS, unless the lesson allows it.
      if (!s.secure && !s.plaintextLoginAllowed) return A(Code.NOT_LOGGED_IN, 'Non-anonymous sessions must use encryption: send AUTH TLS first.');
      s.pendingUser = name;
      return A(Code.NEED_PASSWORD, 'Please specify the password.');
    },
  },

  // The password crosses the network in plain text: anyone on the path can read it (see README).
  PASS: {
    access: 'any',
    syntax: 'PASS <password>',
    run: async (s, arg) => {
      if (s.user) return A(Code.LOGGED_IN, 'Already logged in.');
      const name = s.pendingUser;
      s.pendingUser = undefined;
      if (name === undefined) return A(Code.BAD_SEQUENCE, 'Login with USER first.');
      const user = s.authenticate(name, arg);
      if (!user) return s.loginFailed(name);
      await s.startSession(user);
      s.note({ user: user.name });
      return A(Code.LOGGED_IN, user.anonymous ? 'Login successful: anonymous, read-only.' : 'Login successful.');
    },
  },

  // --- TLS (RFC 4217, with RFC 2228's commands) -----------------------------------------

  // AUTH TLS: switch the control connection to TLS, then log in inside it. Whatever the
  // client sent after AUTH in clear is thrown away unread (the engine does it).
  AUTH: {
    access: 'any',
    syntax: 'AUTH TLS',
    run: async (s, arg) => {
      const mechanism = arg.trim().toUpperCase();
      if (!['TLS', 'TLS-C', 'SSL'].includes(mechanism)) return A(Code.NOT_IMPLEMENTED_FOR_PARAMETER, 'AUTH mechanism not supported; use AUTH TLS.');
      if (s.secure) return A(Code.POLICY_DENIED, 'The control connection is encrypted already.');
      if (!s.tlsAvailable) return A(Code.NOT_IMPLEMENTED, 'AUTH TLS is not offered here.');
      if (s.user) return A(Code.BAD_SEQUENCE, 'AUTH TLS comes before USER; connect again to use TLS.');
      s.pendingUser = undefined;
      await s.startTls(A(Code.AUTH_OK, 'Proceed with TLS negotiation.'));
      return undefined;
    },
  },

  // RFC 4217 9: PBSZ 0 is required before PROT, and means nothing else for TLS.
  PBSZ: {
    access: 'any',
    syntax: 'PBSZ 0',
    run: (s, arg) => {
      if (!s.secure) return A(Code.BAD_SEQUENCE, 'PBSZ needs AUTH TLS first.');
      if (!/^\d+$/.test(arg.trim())) return A(Code.BAD_ARGUMENTS, 'PBSZ needs a number: PBSZ 0');
      s.pbszDone = true;
      return A(Code.OK, 'PBSZ=0');
    },
  },

  // RFC 4217 9: PROT P protects the data connections with TLS too, PROT C leaves them in clear.
  PROT: {
    access: 'any',
    syntax: 'PROT C|P',
    run: (s, arg) => {
      if (!s.secure || !s.pbszDone) return A(Code.BAD_SEQUENCE, 'PROT needs AUTH TLS and PBSZ 0 first.');
      const level = arg.trim().toUpperCase();
      if (level === 'S' || level === 'E') return A(Code.PROT_NOT_SUPPORTED, `PROT ${level} is not supported; use P or C.`);
      if (level !== 'P' && level !== 'C') return A(Code.NOT_IMPLEMENTED_FOR_PARAMETER, 'PROT takes C (clear) or P (private).');
      s.data.protect(level === 'P');
      return A(Code.OK, level === 'P' ? 'PROT now Private: data connections use TLS.' : 'PROT now Clear: data connections are not encrypted.');
    },
  },

  // RFC 959 4.1.1: QUIT waits for a transfer in progress (server.ts answers commands in order).
  QUIT: {
    access: 'any',
    syntax: 'QUIT',
    run: (s) => {
      s.hangUp('QUIT');
      return A(Code.GOODBYE, 'Goodbye.');
    },
  },

  // --- Where am I (RFC 959 4.1.1, 4.1.3) ---------------------------------------------

  PWD: { access: 'user', syntax: 'PWD', run: (s) => A(Code.PATH_CREATED, `${quotePath(s.cwd)} is the current directory.`) },

  CWD: {
    access: 'user',
    syntax: 'CWD <folder>',
    run: async (s, arg) => {
      if (arg === '') return A(Code.BAD_ARGUMENTS, 'CWD needs a folder: CWD pub');
      return changeDir(s, await s.resolveRead(arg));
    },
  },

  // RFC 959 5.4 lists 200 for CDUP; 250, what CWD answers, is what servers send and clients expect (any 2yz).
  CDUP: {
    access: 'user',
    syntax: 'CDUP',
    run: async (s) => {
      if (s.cwd === '/') return A(Code.FILE_UNAVAILABLE, 'Already at the top: "/" is your home folder.');
      return changeDir(s, await s.resolveRead('..'));
    },
  },

  // --- Listings (RFC 959 4.1.3, RFC 3659 7) --------------------------------------------

  LIST: {
    access: 'user',
    transfer: true,
    syntax: 'LIST [-a] [path]',
    run: async (s, arg) => {
      const { flags, target } = listArguments(arg);
      const real = await s.resolveRead(target);
      const owner = s.user?.anonymous ? 'ftp' : (s.user?.name ?? 'ftp');
      const now = new Date();
      const entries = (await stat(real)).isDirectory() ? await readEntries(real, flags.includes('a')) : [await readEntry(real)];
      return s.data.transfer(listing(entries.map((e) => listLine(e, now, owner))));
    },
  },

  NLST: {
    access: 'user',
    transfer: true,
    syntax: 'NLST [path]',
    run: async (s, arg) => {
      const { target } = listArguments(arg);
      const real = await s.resolveRead(target);
      const isDir = (await stat(real)).isDirectory();
      const lines = isDir ? nlstLines(await readEntries(real, false), target === '.' ? '' : target) : [target];
      return s.data.transfer(listing(lines));
    },
  },

  MLSD: {
    access: 'user',
    transfer: true,
    syntax: 'MLSD [folder]',
    run: async (s, arg) => {
      const real = await s.resolveRead(arg === '' ? '.' : arg);
      // RFC 3659 7.1: MLSD lists a folder; for one file there is MLST.
      if (!(await stat(real)).isDirectory()) return A(Code.BAD_ARGUMENTS, 'MLSD lists a folder; use MLST for a file.');
      const writable = !s.user?.anonymous;
      return s.data.transfer(listing((await readEntries(real, true)).map((e) => mlsxLine(e, s.mlstFacts, writable))));
    },
  },

  // RFC 3659 7.2: one entry, on the control connection, each line of facts after a space.
  MLST: {
    access: 'user',
    syntax: 'MLST [path]',
    run: async (s, arg) => {
      const real = await s.resolveRead(arg === '' ? '.' : arg);
      const entry = await readEntry(real);
      const shown = s.shown(real);
      return A(Code.FILE_ACTION_OK, `Listing ${shown}`, [' ' + mlsxLine(entry, s.mlstFacts, !s.user?.anonymous, shown)], 'End');
    },
  },

  // --- Files (RFC 959 4.1.3, RFC 3659 3-5) -------------------------------------------

  RETR: {
    access: 'user',
    transfer: true,
    syntax: 'RETR <file>',
    run: async (s, arg) => {
      const offset = takeRest(s);
      if (arg === '') return A(Code.BAD_ARGUMENTS, 'RETR needs a file name: RETR notes.txt');
      const real = await s.resolveRead(arg);
      const info = await stat(real);
      if (!info.isFile()) return A(Code.FILE_UNAVAILABLE, 'Not a plain file.');
      // REST n (RFC 3659 5): start at octet n of the file, to resume a broken download.
      if (offset > info.size) return A(Code.INVALID_REST, `REST ${offset} is beyond the end of the file (${info.size} octets).`);
      const handle = await open(real, 'r'); // opened now, so a problem is a 550 before any data connection
      s.note({ size: info.size, offset: offset || undefined });
      return s.data.transfer({
        what: `${path.basename(real)} (${info.size} bytes)`,
        mode: modeName(s),
        ascii: s.type === 'A',
        source: fileSource(handle, offset),
      });
    },
  },

  STOR: { access: 'write', syntax: 'STOR <file>', transfer: true, run: (s, arg) => store(s, arg, 'STOR') },
  APPE: { access: 'write', syntax: 'APPE <file>', transfer: true, run: (s, arg) => store(s, arg, 'APPE') },

  // RFC 3659 4: the size of the file as it would be transferred, so it depends on TYPE.
  SIZE: {
    access: 'user',
    syntax: 'SIZE <file>',
    run: async (s, arg) => {
      const real = await s.resolveRead(arg);
      const info = await stat(real);
      if (!info.isFile()) return A(Code.FILE_UNAVAILABLE, 'Not a plain file.');
      return A(Code.FILE_STATUS, String(s.type === 'I' ? info.size : await asciiSize(real)));
    },
  },

  // RFC 3659 3: the time of the last change, YYYYMMDDHHMMSS in UTC.
  MDTM: {
    access: 'user',
    syntax: 'MDTM <file>',
    run: async (s, arg) => A(Code.FILE_STATUS, timeVal((await stat(await s.resolveRead(arg))).mtime)),
  },

  DELE: {
    access: 'write',
    syntax: 'DELE <file>',
    run: async (s, arg) => {
      const target = await s.resolveWrite(arg);
      if ((await lstat(target)).isDirectory()) return A(Code.FILE_UNAVAILABLE, 'That is a folder; RMD removes folders.');
      await unlink(target);
      return A(Code.FILE_ACTION_OK, 'Delete operation successful.');
    },
  },

  MKD: {
    access: 'write',
    syntax: 'MKD <folder>',
    run: async (s, arg) => {
      if (arg === '') return A(Code.BAD_ARGUMENTS, 'MKD needs a name: MKD photos');
      const target = await s.resolveWrite(arg);
      await mkdir(target);
      return A(Code.PATH_CREATED, `${quotePath(s.shown(target))} created.`);
    },
  },

  RMD: {
    access: 'write',
    syntax: 'RMD <folder>',
    run: async (s, arg) => {
      const target = await s.resolveWrite(arg);
      if (isRoot(s.root, target)) return A(Code.FILE_UNAVAILABLE, 'Permission denied: that is your home folder.');
      await rmdir(target);
      return A(Code.FILE_ACTION_OK, 'Remove directory operation successful.');
    },
  },

  // RFC 959 4.1.3: a rename is two commands; RNTO must come right after RNFR.
  RNFR: {
    access: 'write',
    syntax: 'RNFR <old name>',
    run: async (s, arg) => {
      const source = await s.resolveWrite(arg);
      if (isRoot(s.root, source)) return A(Code.FILE_UNAVAILABLE, 'Permission denied: that is your home folder.');
      await lstat(source); // it must exist: ENOENT is a 550 now, not after RNTO
      s.renameFrom = source;
      return A(Code.PENDING, 'Ready for RNTO.');
    },
  },

  RNTO: {
    access: 'write',
    syntax: 'RNTO <new name>',
    run: async (s, arg) => {
      const source = s.renameFrom;
      s.renameFrom = undefined;
      if (source === undefined) return A(Code.BAD_SEQUENCE, 'RNFR required first.');
      const target = await s.resolveWrite(arg);
      await rename(source, target);
      return A(Code.FILE_ACTION_OK, 'Rename successful.');
    },
  },

  // --- Transfer parameters (RFC 959 4.1.2) ---------------------------------------------

  TYPE: {
    access: 'user',
    syntax: 'TYPE A | I',
    run: (s, arg) => {
      const type = arg.trim().toUpperCase().replace(/\s+/g, ' ');
      if (type === 'A' || type === 'A N') {
        s.type = 'A';
        return A(Code.OK, 'Switching to ASCII mode.');
      }
      // L 8, "local byte size 8", is the same as I on every computer of today.
      if (type === 'I' || type === 'L 8') {
        s.type = 'I';
        return A(Code.OK, 'Switching to Binary mode.');
      }
      if (/^(A [TC]|E( [NTC])?|L \d+)$/.test(type)) return A(Code.NOT_IMPLEMENTED_FOR_PARAMETER, `TYPE ${type} is not supported; use A or I.`);
      return A(Code.BAD_ARGUMENTS, 'TYPE needs A (ASCII) or I (binary).');
    },
  },

  // RFC 959 5.1: MODE S and STRU F are the minimum every server implements; nobody uses the others.
  MODE: { access: 'user', syntax: 'MODE S', run: (_s, arg) => onlyOne('MODE', arg, 'S', ['B', 'C']) },
  STRU: { access: 'user', syntax: 'STRU F', run: (_s, arg) => onlyOne('STRU', arg, 'F', ['R', 'P']) },

  PASV: {
    access: 'user',
    syntax: 'PASV',
    run: async (s) => {
      if (s.epsvAll) return A(Code.BAD_SEQUENCE, 'EPSV ALL was sent: only EPSV may open a data connection now.');
      // PASV can only carry an IPv4 address; over IPv6 there is EPSV (RFC 2428).
      if (addressFamily(s.data.pasvAddress) !== 1) return A(Code.CANT_OPEN_DATA, 'PASV needs IPv4; use EPSV.');
      const listener = await s.data.openPassive();
      s.note({ port: listener.port });
      return A(Code.PASSIVE, `Entering Passive Mode ${formatPasv(s.data.pasvAddress, listener.port)}.`);
    },
  },

  // RFC 2428 3: the port only. The client connects to the address it already reaches the
  // server on, so NAT and Docker's port publishing cannot give it a wrong one.
  EPSV: {
    access: 'user',
    syntax: 'EPSV [1 | 2 | ALL]',
    run: async (s, arg) => {
      const want = parseEpsvArgument(arg);
      if ('error' in want) return A(Code.BAD_ARGUMENTS, 'EPSV takes 1 (IPv4), 2 (IPv6) or ALL.');
      if ('all' in want) {
        s.epsvAll = true;
        return A(Code.OK, 'EPSV ALL ok: from now on only EPSV.');
      }
      // The data connection goes to the address the control connection reached: its
      // protocol is the one supported. Another one, known (2 over IPv4) or not (3): 522
      // with the list, the form RFC 2428 2 gives for EPRT and 3 for EPSV.
      const family = addressFamily(s.localAddress);
      if (want.protocol !== undefined && want.protocol !== family) return protocolNotSupported(family);
      const listener = await s.data.openPassive();
      s.note({ port: listener.port });
      return A(Code.EXTENDED_PASSIVE, `Entering Extended Passive Mode ${formatEpsv(listener.port)}`);
    },
  },

  PORT: {
    access: 'user',
    syntax: 'PORT h1,h2,h3,h4,p1,p2',
    run: (s, arg) => {
      if (s.epsvAll) return A(Code.BAD_SEQUENCE, 'EPSV ALL was sent: only EPSV may open a data connection now.');
      const target = parsePortArgument(arg);
      if (!target) return A(Code.BAD_ARGUMENTS, 'Illegal PORT command: PORT h1,h2,h3,h4,p1,p2');
      return active(s, target, 'PORT');
    },
  },

  EPRT: {
    access: 'user',
    syntax: 'EPRT |1|address|port|',
    run: (s, arg) => {
      if (s.epsvAll) return A(Code.BAD_SEQUENCE, 'EPSV ALL was sent: only EPSV may open a data connection now.');
      const target = parseEprtArgument(arg);
      if ('error' in target) {
        if (target.error === 'protocol') return protocolNotSupported(addressFamily(s.clientAddress));
        return A(Code.BAD_ARGUMENTS, 'Illegal EPRT command: EPRT |1|127.0.0.1|50000|');
      }
      return active(s, target, 'EPRT');
    },
  },

  // RFC 3659 5: REST n makes the next RETR start at octet n ("REST STREAM" in FEAT).
  REST: {
    access: 'user',
    syntax: 'REST <offset>',
    run: (s, arg) => {
      const text = arg.trim();
      if (!/^\d{1,15}$/.test(text)) return A(Code.BAD_ARGUMENTS, 'REST needs a number of octets: REST 1000');
      s.restOffset = Number(text);
      return A(Code.PENDING, `Restarting at ${s.restOffset}. Send RETR (or STOR) to go on.`);
    },
  },

  // RFC 959 4.1.3: with a transfer running, that transfer gets 426 and then ABOR gets 226
  // (server.ts sees ABOR arrive during a transfer and stops it). Otherwise any pending
  // data connection is closed and ABOR gets 226.
  ABOR: {
    access: 'user',
    syntax: 'ABOR',
    run: (s) => {
      const stopped = s.data.takeAborted();
      const closed = s.data.close();
      if (stopped) return A(Code.TRANSFER_COMPLETE, 'ABOR successful: the transfer was stopped.');
      return A(Code.TRANSFER_COMPLETE, closed ? 'No transfer in progress; data connection closed.' : 'No transfer to abort.');
    },
  },

  // RFC 959 4.1.3: "superfluous" on this system: there is no space to reserve.
  ALLO: { access: 'user', syntax: 'ALLO <size>', run: () => A(Code.SUPERFLUOUS, 'ALLO is not needed here.') },

  // --- Information (RFC 959 4.1.3, RFC 2389) -------------------------------------------

  NOOP: { access: 'any', syntax: 'NOOP', run: () => A(Code.OK, 'NOOP ok.') },

  // The classic answer of every Unix server; clients read "UNIX" and "L8" (8-bit bytes) to parse LIST.
  SYST: { access: 'any', syntax: 'SYST', run: () => A(Code.SYSTEM_TYPE, 'UNIX Type: L8') },

  STAT: {
    access: 'user',
    syntax: 'STAT',
    run: (s, arg) => {
      if (arg.trim() !== '') return A(Code.NOT_IMPLEMENTED_FOR_PARAMETER, 'STAT with a path is not supported here; use LIST.');
      return A(Code.SYSTEM_STATUS, 'FTP server status:', s.status(), 'End of status');
    },
  },

  // RFC 2389 3: what this server supports beyond RFC 959, one feature a line, each after a space.
  FEAT: {
    access: 'any',
    syntax: 'FEAT',
    run: (s) => A(Code.SYSTEM_STATUS, 'Features:', features(s).map((f) => ' ' + f), 'End'),
  },

  // RFC 2389 4: options of a command. UTF8 (RFC 2640), and MLST's facts (RFC 3659 7.9).
  OPTS: {
    access: 'any',
    syntax: 'OPTS UTF8 ON | OPTS MLST type;size;...',
    run: (s, arg) => {
      const [name = '', ...rest] = arg.trim().split(/\s+/);
      const value = rest.join(' ').toUpperCase();
      if (name.toUpperCase() === 'UTF8' || name.toUpperCase() === 'UTF-8') {
        if (value === 'ON' || value === '') return A(Code.OK, 'Always in UTF8 mode.');
        return A(Code.NOT_IMPLEMENTED_FOR_PARAMETER, 'This server only speaks UTF-8.');
      }
      if (name.toUpperCase() === 'MLST') {
        const wanted = value.toLowerCase().split(';');
        s.mlstFacts = MLST_FACTS.filter((f) => wanted.includes(f));
        return A(Code.OK, `MLST OPTS ${s.mlstFacts.map((f) => f + ';').join('')}`);
      }
      return A(Code.BAD_ARGUMENTS, `Option not understood: OPTS ${name}`);
    },
  },

  HELP: {
    access: 'any',
    syntax: 'HELP',
    run: () =>
      A(
        Code.HELP,
        'The following commands are recognized:',
        Object.values(VERBS).map((v) => ` ${v.syntax}`),
        'Help OK.',
      ),
  },
};

// ---------------------------------------------------------------------------

async function changeDir(s: Session, real: string): Promise<Reply> {
  if (!(await stat(real)).isDirectory()) return A(Code.FILE_UNAVAILABLE, 'Not a folder.');
  s.cwd = s.shown(real);
  return A(Code.FILE_ACTION_OK, `Directory successfully changed to ${quotePath(s.cwd)}.`);
}

/** STOR and APPE: checks now (553/550 before any data connection), data into a temporary file, rename at the end. */
async function store(s: Session, arg: string, verb: 'STOR' | 'APPE'): Promise<Reply> {
  const offset = takeRest(s);
  if (arg === '') return A(Code.BAD_ARGUMENTS, `${verb} needs a file name: ${verb} report.txt`);
  const target = await s.resolveWrite(arg);
  if (isRoot(s.root, target)) return A(Code.FILE_UNAVAILABLE, 'That is a folder.');
  const upload = await Upload.begin(target, verb === 'APPE' ? 'all' : offset > 0 ? offset : 'nothing');
  s.note({ offset: offset || undefined });
  return s.data.transfer({
    what: path.basename(target),
    mode: modeName(s),
    ascii: s.type === 'A',
    upload,
  });
}

/** 522 for EPRT and EPSV (RFC 2428 2): the text ends with the protocols the server supports, `(1)` or `(2)`. */
function protocolNotSupported(family: 1 | 2): Reply {
  return A(Code.PROTOCOL_NOT_SUPPORTED, `Network protocol not supported, use (${family})`);
}

/** PORT and EPRT: only to the client itself, unless the server is told otherwise (no FTP bounce, RFC 2577 3). */
function active(s: Session, target: HostPort, verb: 'PORT' | 'EPRT'): Reply {
  if (!s.data.activeAllowed(target, verb, s.user?.name)) {
    return A(Code.UNKNOWN_COMMAND, `Illegal ${verb} command: the data connection can only go back to your own address (${s.clientAddress}).`);
  }
  s.data.setActive(target);
  s.note({ to: `${target.host}:${target.port}` });
  return A(Code.OK, `${verb} command successful. Consider using EPSV.`);
}

/** REST applies to the next transfer only. */
function takeRest(s: Session): number {
  const offset = s.restOffset;
  s.restOffset = 0;
  return offset;
}

function modeName(s: Session): 'ASCII' | 'BINARY' {
  return s.type === 'A' ? 'ASCII' : 'BINARY';
}

/** A listing as a transfer: already CR LF lines, so sent as is whatever the TYPE. */
function listing(lines: readonly string[]): TransferSpec {
  return { what: 'the directory listing', mode: 'ASCII', ascii: false, source: Readable.from([listingBytes(lines)]) };
}

/** `LIST -la pub` -> flags 'la', target 'pub'. Clients add ls options; '.' when no path. */
function listArguments(arg: string): { flags: string; target: string } {
  let flags = '';
  let rest = arg;
  for (let m = /^(-[a-zA-Z]+)(\s+|$)/.exec(rest); m; m = /^(-[a-zA-Z]+)(\s+|$)/.exec(rest)) {
    flags += m[1]!.slice(1);
    rest = rest.slice(m[0].length);
  }
  return { flags, target: rest === '' ? '.' : rest };
}

/** MODE and STRU: one value accepted, some known but not supported (504), anything else 501. */
function onlyOne(verb: string, arg: string, accepted: string, known: string[]): Reply {
  const value = arg.trim().toUpperCase();
  if (value === accepted) return A(Code.OK, `${verb} set to ${accepted}.`);
  if (known.includes(value)) return A(Code.NOT_IMPLEMENTED_FOR_PARAMETER, `${verb} ${value} is not supported; only ${verb} ${accepted}.`);
  return A(Code.BAD_ARGUMENTS, `${verb} needs ${accepted}.`);
}

/** The FEAT lines, in alphabetical order; MLST marks the facts in use with * (RFC 3659 7.8). */
function features(s: Session): string[] {
  const facts = MLST_FACTS.map((f) => `${f}${s.mlstFacts.includes(f) ? '*' : ''};`).join('');
  const secure = s.tlsAvailable || s.secure ? ['AUTH TLS', 'PBSZ', 'PROT'] : [];
  return [...secure, 'EPRT', 'EPSV', 'MDTM', `MLST ${facts}`, 'PASV', 'REST STREAM', 'SIZE', 'TVFS', 'UTF8'];
}

/** A file's size in TYPE A: each LF not already after a CR becomes CR LF on the wire. */
async function asciiSize(file: string): Promise<number> {
  let size = 0;
  let lastWasCR = false;
  for await (const chunk of createReadStream(file)) {
    const r = toNetworkLines(chunk as Buffer, lastWasCR);
    size += r.out.length;
    lastWasCR = r.lastWasCR;
  }
  return size;
}
