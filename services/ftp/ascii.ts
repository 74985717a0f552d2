import { Transform, type TransformCallback } from 'node:stream';

/**
 * TYPE A, the ASCII transfer type (RFC 959 3.1.1.1): on the wire, a text file's lines
 * end with CR LF, whatever the two computers use on their disks. This server keeps
 * files with Unix line ends (LF), so
 *
 *   RETR in TYPE A: every LF goes out as CR LF        (a file already in CR LF stays as it is)
 *   STOR in TYPE A: every CR LF comes in as LF        (a bare CR is kept)
 *
 * TYPE I ("image", binary) sends the bytes unchanged: the only right type for a picture,
 * an archive, or anything you want back byte for byte. Sending a binary file in TYPE A
 * corrupts it; that is the classic FTP mistake, and why clients switch to TYPE I.
 *
 * Both directions are incremental: a CR at the end of one chunk and its LF at the start
 * of the next are still one line end. Pure functions first, streams on top.
 */

const CR = 0x0d;
const LF = 0x0a;

export interface ToNetworkResult {
  out: Buffer;
  /** The chunk ended with CR: an LF at the start of the next chunk needs none added. */
  lastWasCR: boolean;
}

/** LF -> CR LF for sending, unless the LF already follows a CR. */
export function toNetworkLines(chunk: Buffer, lastWasCR: boolean): ToNetworkResult {
  let extra = 0;
  for (let i = 0; i < chunk.length; i++) {
    if (chunk[i] === LF && (i === 0 ? !lastWasCR : chunk[i - 1] !== CR)) extra++;
  }
  const ended = chunk.length > 0 ? chunk[chunk.length - 1] === CR : lastWasCR;
  if (extra === 0) return { out: chunk, lastWasCR: ended };
  const out = Buffer.allocUnsafe(chunk.length + extra);
  let o = 0;
  for (let i = 0; i < chunk.length; i++) {
    const byte = chunk[i]!;
    if (byte === LF && (i === 0 ? !lastWasCR : chunk[i - 1] !== CR)) out[o++] = CR;
    out[o++] = byte;
  }
  return { out, lastWasCR: ended };
}

export interface ToLocalResult {
  out: Buffer;
  /** A CR at the very end, held back: whether it is kept depends on the next byte. */
  heldCR: boolean;
}

/** CR LF -> LF for storing. A CR at the end of a chunk is held until the next one (or end()). */
export function toLocalLines(chunk: Buffer, heldCR: boolean): ToLocalResult {
  const input = heldCR ? Buffer.concat([Buffer.from([CR]), chunk]) : chunk;
  const out = Buffer.allocUnsafe(input.length);
  let o = 0;
  for (let i = 0; i < input.length; i++) {
    const byte = input[i]!;
    if (byte === CR) {
      if (i === input.length - 1) return { out: out.subarray(0, o), heldCR: true };
      if (input[i + 1] === LF) continue; // the CR of a CR LF
    }
    out[o++] = byte;
  }
  return { out: out.subarray(0, o), heldCR: false };
}

/** A stream for RETR in TYPE A: file bytes in, CR LF lines out. */
export function toNetworkStream(): Transform {
  let lastWasCR = false;
  return new Transform({
    transform(chunk: Buffer, _encoding, done: TransformCallback) {
      const r = toNetworkLines(chunk, lastWasCR);
      lastWasCR = r.lastWasCR;
      done(null, r.out);
    },
  });
}

/** A stream for STOR in TYPE A: CR LF lines in, LF lines out. */
export function toLocalStream(): Transform {
  let heldCR = false;
  return new Transform({
    transform(chunk: Buffer, _encoding, done: TransformCallback) {
      const r = toLocalLines(chunk, heldCR);
      heldCR = r.heldCR;
      done(null, r.out);
    },
    flush(done: TransformCallback) {
      done(null, heldCR ? Buffer.from([CR]) : undefined);
    },
  });
}
