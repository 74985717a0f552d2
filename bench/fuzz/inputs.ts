import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Conversation, udpSend } from './conversation';
import { packageRoot } from '../../services/common/paths';
import type { Protocol } from './protocols';

/**
 * One fuzz input, and how it is sent: the same code for the fuzzer and for the test
 * that replays the inputs it found (tests/fuzz/replay.test.ts), so a saved input reaches
 * the server exactly as it did when it was found.
 */
export interface Input {
  /** Sent side by side: one TCP connection each, or one UDP socket each. */
  connections: InputConnection[];
}

export interface InputConnection {
  /** The messages, in order (datagrams, for UDP). */
  messages: Buffer[];
  /** TCP: after each message, wait for the server's answer (up to a moment) before the next, instead of sending all at once. */
  stepwise: boolean;
}

/** What was found with an input: saved next to it. */
export interface Finding {
  kind: 'crash' | 'hang' | 'error-log' | 'memory';
  /** What happened, in a sentence: the health check's error, the log line, the exit. */
  note: string;
}

/**
 * Fuzz traffic comes from another loopback address than the health exchanges: the limits
 * per client address (FTP and POP3 take 10 connections from one) must stop the fuzzer,
 * as they stop one student, without locking out the others.
 */
export const FUZZ_SOURCE = '127.0.0.2';

/** How long a stepwise sender waits for an answer before sending the next message anyway. */
const STEP_WAIT_MS = 200;
/** How long one connection may wait for the server's greeting, or for its close after ours, before it is cut. */
const CONNECTION_MS = 3000;

/**
 * Send an input to a server: each connection opened, the server's greeting awaited when
 * it speaks first, the messages written, then our side closed, and the connection
 * awaited until the server closes too (it has read everything by then) or cut after a
 * bound. Never throws for what the server does: a refusal or a reset is an answer.
 * Resolves with how many connections the server still held open at the bound.
 */
export async function sendInput(protocol: Protocol, port: number, input: Input): Promise<number> {
  if (protocol.transport === 'udp') {
    await Promise.all(input.connections.map((c) => udpSend(port, c.messages, '127.0.0.1', FUZZ_SOURCE)));
    return 0;
  }
  const outcomes = await Promise.all(input.connections.map((c) => sendConnection(protocol, port, c.messages, c.stepwise)));
  return outcomes.filter((o) => o === 'timeout').length;
}

async function sendConnection(protocol: Protocol, port: number, messages: readonly Buffer[], stepwise: boolean): Promise<'closed' | 'timeout' | 'refused'> {
  let conversation: Conversation;
  try {
    conversation = await Conversation.open(port, '127.0.0.1', CONNECTION_MS, FUZZ_SOURCE);
  } catch {
    return 'refused'; // a connection limit: that is an answer too
  }
  try {
    if (protocol.greeting) await conversation.received(1, CONNECTION_MS);
    for (const message of messages) {
      const before = conversation.receivedBytes;
      await conversation.write(message);
      if (stepwise) await conversation.received(before + 1, STEP_WAIT_MS);
    }
    return await conversation.finish(CONNECTION_MS);
  } finally {
    conversation.close();
  }
}

// ---------------------------------------------------------------------------
// Saved inputs: tests/fixtures/fuzz/<protocol>/<kind>-<hash>.json

export const FIXTURES = path.join(packageRoot(), 'tests', 'fixtures', 'fuzz');

export interface SavedInput extends Finding {
  protocol: string;
  /** When it was found, and with which seed of `npm run fuzz`. */
  found: string;
  seed: number;
  /** Each connection: its messages, base64, and whether they are sent one answer at a time. */
  connections: { stepwise: boolean; messages: string[] }[];
  /** The first bytes as text, for a person reading the file. */
  preview: string;
}

/** Save an input under `dir/<protocol>/`; returns the file's path. The name is a hash of the bytes: the same input is saved once. */
export async function saveInput(dir: string, protocol: string, input: Input, finding: Finding, seed: number): Promise<string> {
  const connections = input.connections.map((c) => ({ stepwise: c.stepwise, messages: c.messages.map((m) => m.toString('base64')) }));
  const hash = createHash('sha256').update(JSON.stringify(connections)).digest('hex').slice(0, 12);
  const file = path.join(dir, protocol, `${finding.kind}-${hash}.json`);
  const first = Buffer.concat(input.connections[0]?.messages ?? []).subarray(0, 300);
  const saved: SavedInput = { protocol, ...finding, found: new Date().toISOString().slice(0, 10), seed, connections, preview: first.toString('latin1').replace(/[^\x20-\x7e\r\n]/g, '.') };
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify(saved, null, 2) + '\n');
  return file;
}

/** Every saved input, by protocol folder (read at once: a test makes one case of each). */
export function savedInputs(dir = FIXTURES): { file: string; saved: SavedInput; input: Input }[] {
  if (!existsSync(dir)) return [];
  const out: { file: string; saved: SavedInput; input: Input }[] = [];
  for (const protocol of readdirSync(dir).sort()) {
    const folder = path.join(dir, protocol);
    for (const name of readdirSync(folder).filter((n) => n.endsWith('.json')).sort()) {
      const file = path.join(folder, name);
      const saved = JSON.parse(readFileSync(file, 'utf8')) as SavedInput;
      out.push({ file, saved, input: { connections: saved.connections.map((c) => ({ stepwise: c.stepwise, messages: c.messages.map((m) => Buffer.from(m, 'base64')) })) } });
    }
  }
  return out;
}
