/**
 * FTP reply codes, by name (RFC 959 4.2, with the additions of RFC 2228, 2428 and 3659).
 *
 * Every FTP reply starts with three digits, and a client decides what to do from the
 * digits alone; the text after them is for people. The first digit says how it went
 * (RFC 959 4.2):
 *
 *   1yz  positive preliminary: "started; wait for another reply" (150 before a transfer)
 *   2yz  positive completion:  "done"
 *   3yz  positive intermediate: "fine so far; send the next command" (331 after USER)
 *   4yz  transient negative:   "did not work, try again later" (425 no data connection)
 *   5yz  permanent negative:   "did not work, do not repeat it as is" (530, 550)
 *
 * The second digit says what it is about: x0z syntax, x1z information, x2z connections,
 * x3z authentication, x5z the file system.
 */
export const Code = {
  /** 125: the (passive) data connection is already open; the transfer starts now. */
  DATA_ALREADY_OPEN: 125,
  /** 150: file status okay; about to open the data connection. */
  OPENING_DATA: 150,

  /** 200: command okay (TYPE, PORT, NOOP, OPTS). */
  OK: 200,
  /** 202: command not needed here (ALLO: this server needs no space reserved). */
  SUPERFLUOUS: 202,
  /** 211: system status, or the FEAT list (RFC 2389 3.2). */
  SYSTEM_STATUS: 211,
  /** 213: file status: SIZE and MDTM answers (RFC 3659 3, 4). */
  FILE_STATUS: 213,
  /** 214: help message. */
  HELP: 214,
  /** 215: NAME system type (SYST). */
  SYSTEM_TYPE: 215,
  /** 220: service ready for a new user: the greeting. */
  READY: 220,
  /** 221: closing the control connection (QUIT). */
  GOODBYE: 221,
  /** 225: data connection open; no transfer in progress. */
  DATA_OPEN_NO_TRANSFER: 225,
  /** 226: closing the data connection; the file action (transfer, ABOR) worked. */
  TRANSFER_COMPLETE: 226,
  /** 227: entering passive mode (h1,h2,h3,h4,p1,p2). */
  PASSIVE: 227,
  /** 229: entering extended passive mode (|||port|) (RFC 2428 3). */
  EXTENDED_PASSIVE: 229,
  /** 234: AUTH TLS accepted: the TLS handshake comes next (RFC 2228, RFC 4217 4). */
  AUTH_OK: 234,
  /** 230: user logged in. */
  LOGGED_IN: 230,
  /** 250: requested file action okay, completed (CWD, DELE, RMD, RNTO, MLST). */
  FILE_ACTION_OK: 250,
  /** 257: "PATHNAME" created, or the current directory (PWD, MKD). */
  PATH_CREATED: 257,

  /** 331: user name okay, need the password. */
  NEED_PASSWORD: 331,
  /** 350: requested file action pending further information (REST, RNFR). */
  PENDING: 350,

  /** 421: service not available, closing the control connection (timeout, too many connections, shutdown). */
  NOT_AVAILABLE: 421,
  /** 425: can't open the data connection. */
  CANT_OPEN_DATA: 425,
  /** 426: connection closed; transfer aborted. */
  TRANSFER_ABORTED: 426,
  /** 450: file unavailable for now (busy). */
  FILE_BUSY: 450,
  /** 451: requested action aborted: local error in processing. */
  LOCAL_ERROR: 451,
  /** 452: requested action not taken: insufficient storage space. */
  INSUFFICIENT_STORAGE: 452,

  /** 500: syntax error, command unrecognized (also: command line too long). */
  UNKNOWN_COMMAND: 500,
  /** 501: syntax error in parameters or arguments. */
  BAD_ARGUMENTS: 501,
  /** 502: command not implemented. */
  NOT_IMPLEMENTED: 502,
  /** 503: bad sequence of commands (PASS before USER, RNTO before RNFR). */
  BAD_SEQUENCE: 503,
  /** 504: command not implemented for that parameter (TYPE E, MODE B). */
  NOT_IMPLEMENTED_FOR_PARAMETER: 504,
  /** 522: network protocol not supported (EPRT/EPSV with the other IP version) (RFC 2428 2). */
  PROTOCOL_NOT_SUPPORTED: 522,
  /** 534: request denied for policy reasons (RFC 2228): AUTH TLS again inside TLS. */
  POLICY_DENIED: 534,
  /** 536: the PROT level is not supported (RFC 2228: S and E). */
  PROT_NOT_SUPPORTED: 536,
  /** 530: not logged in. */
  NOT_LOGGED_IN: 530,
  /** 550: requested action not taken: file unavailable (not found, no access). */
  FILE_UNAVAILABLE: 550,
  /** 553: requested action not taken: file name not allowed (STOR, RNTO). */
  NAME_NOT_ALLOWED: 553,
  /** 554: requested action not taken: invalid REST parameter (RFC 3659 5.4). */
  INVALID_REST: 554,
} as const;

export type ReplyCode = (typeof Code)[keyof typeof Code];

// Read codes through these, as a client does: by their first digit (RFC 959 4.2.1).

/** 1yz: the command started; another reply follows. */
export const positivePreliminary = (code: number): boolean => code >= 100 && code < 200;
/** 2yz: the command is done. */
export const positiveCompletion = (code: number): boolean => code >= 200 && code < 300;
/** 3yz: accepted so far; the client sends the next command of the sequence. */
export const positiveIntermediate = (code: number): boolean => code >= 300 && code < 400;
/** 4yz: failed for now; the same command may work later. */
export const transientNegative = (code: number): boolean => code >= 400 && code < 500;
/** 5yz: failed; repeating the same command will fail again. */
export const permanentNegative = (code: number): boolean => code >= 500 && code < 600;
