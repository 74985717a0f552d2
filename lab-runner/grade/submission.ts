import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { LineCounter, isMap, isSeq, parseDocument, type Node } from 'yaml';
import { z } from 'zod';
import { STACK } from '../wire';

/**
 * A submission is a folder, `SUBMISSIONS_DIR/<student>/`, with a submission.yaml that
 * says where the student's server is and which scenarios grade it:
 *
 *   target: { service: http, address: "127.0.0.1:9001" }             # already running
 *   target: { service: http, command: [python3, server.py, "{port}"] } # started by the grader
 *   target: { service: http, image: "student/server:tag", port: 8080 } # a Docker image
 *   scenarios: [http-basics.yaml]                                      # default: by service
 *
 * See README.md beside this file.
 */

export const SUBMISSION_FILE = 'submission.yaml';

/** The scenario that grades a student's own server of each kind, when submission.yaml names none. */
export const DEFAULT_SCENARIOS: Record<string, string> = { http: 'http-basics.yaml', dns: 'dns-basics.yaml' };

const SERVICE_NAMES = STACK.map((s) => s.name) as [string, ...string[]];

const targetSchema = z
  .object({
    service: z.enum(SERVICE_NAMES).describe('The lab service the student\'s server stands in for: http, dns, ...'),
    address: z
      .string()
      .regex(/^[^\s:]+:\d{1,5}$/, 'expected HOST:PORT, e.g. "127.0.0.1:9001"')
      .optional()
      .describe('A server that is already running.'),
    command: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe('A program the grader starts in the student\'s folder; "{port}" in it becomes the port to listen on.'),
    image: z.string().min(1).optional().describe('A Docker image the grader runs in place of the lab service.'),
    port: z.number().int().min(1).max(65535).optional().describe("image: the port the server listens on inside its container (default: the service's standard port)."),
  })
  .strict()
  .superRefine((t, ctx) => {
    const kinds = (['address', 'command', 'image'] as const).filter((k) => t[k] !== undefined);
    if (kinds.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: kinds.length ? `give one of address, command, image; this has ${kinds.join(' and ')}` : 'say where the server is: address, command or image',
      });
    }
    const port = t.address === undefined ? 1 : Number(t.address.slice(t.address.lastIndexOf(':') + 1));
    if (port < 1 || port > 65535) ctx.addIssue({ code: 'custom', path: ['address'], message: `port ${port} is not between 1 and 65535` });
    if (t.port !== undefined && t.image === undefined) ctx.addIssue({ code: 'custom', path: ['port'], message: 'port goes with image (a command gets its port as {port})' });
  });

export const submissionSchema = z
  .object({
    target: targetSchema,
    scenarios: z
      .array(z.string().regex(/^[^/\\]+\.ya?ml$/, 'a scenario file name under the scenarios folder, e.g. http-basics.yaml'))
      .min(1)
      .optional()
      .describe('The scenarios that grade it (default: the one for its service: http-basics.yaml, dns-basics.yaml).'),
  })
  .strict();

export type SubmissionTarget =
  | { service: string; kind: 'address'; host: string; port: number }
  | { service: string; kind: 'command'; command: string[] }
  | { service: string; kind: 'image'; image: string; port: number };

export interface Submission {
  /** The folder's name: the student's id in the gradebook. */
  student: string;
  dir: string;
  target: SubmissionTarget;
  /** Scenario file names, under the scenarios folder. */
  scenarios: string[];
}

/** submission.yaml is missing or wrong: the submission gets 0 with this message. */
export class SubmissionError extends Error {
  constructor(
    message: string,
    /** The service, when the file says it clearly enough to know what it would have been graded with. */
    readonly service?: string,
  ) {
    super(message);
    this.name = 'SubmissionError';
  }
}

export async function loadSubmission(dir: string): Promise<Submission> {
  const file = path.join(dir, SUBMISSION_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new SubmissionError(code === 'ENOENT' ? `${file}: missing: a submission says where its server is in ${SUBMISSION_FILE}` : `${file}: cannot read it: ${code ?? (err as Error).message}`);
  }
  return parseSubmission(text, file, dir);
}

export function parseSubmission(text: string, file: string, dir: string): Submission {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    const error = doc.errors[0]!;
    const pos = lines.linePos(error.pos[0]);
    throw new SubmissionError(`${file}:${pos.line}:${pos.col}: YAML: ${error.message.split('\n')[0]}`);
  }
  const raw: unknown = doc.toJS();
  const parsed = submissionSchema.safeParse(raw);
  if (!parsed.success) {
    const messages = parsed.error.issues.map((issue) => {
      const keys = issue.path as (string | number)[];
      const node = nodeAt(doc.contents, keys);
      const pos = lines.linePos(node?.range?.[0] ?? 0);
      const where = keys.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('').replace(/^\./, '');
      const message = issue.code === 'unrecognized_keys' ? `unknown key "${issue.keys.join('", "')}"` : issue.message.replace(/^Invalid (input|option): /, '');
      return `${file}:${pos.line}:${pos.col}: ${where ? `${where}: ` : ''}${message}`;
    });
    const service = (raw as { target?: { service?: unknown } } | null)?.target?.service;
    throw new SubmissionError(messages.join('\n'), typeof service === 'string' && SERVICE_NAMES.includes(service) ? service : undefined);
  }
  const { target, scenarios } = parsed.data;
  const chosen = scenarios ?? (DEFAULT_SCENARIOS[target.service] ? [DEFAULT_SCENARIOS[target.service]!] : undefined);
  if (!chosen) {
    const pos = lines.linePos(nodeAt(doc.contents, ['target'])?.range?.[0] ?? 0);
    throw new SubmissionError(`${file}:${pos.line}:${pos.col}: no scenario grades a ${target.service} server by default: name them under scenarios:`, target.service);
  }
  return { student: path.basename(dir), dir, target: targetOf(target), scenarios: chosen };
}

function targetOf(t: z.infer<typeof targetSchema>): SubmissionTarget {
  if (t.address !== undefined) {
    const at = t.address.lastIndexOf(':');
    return { service: t.service, kind: 'address', host: t.address.slice(0, at), port: Number(t.address.slice(at + 1)) };
  }
  if (t.command !== undefined) return { service: t.service, kind: 'command', command: t.command };
  const plan = STACK.find((s) => s.name === t.service)!;
  return { service: t.service, kind: 'image', image: t.image!, port: t.port ?? Object.values(plan.ports)[0]!.lab };
}

/** The YAML node at a path of keys, or the nearest one above it that exists. */
function nodeAt(root: unknown, keys: (string | number)[]): Node | undefined {
  let node = root;
  for (const key of keys) {
    const next = isMap(node) || isSeq(node) ? node.get(key, true) : undefined;
    if (next === undefined) break;
    node = next;
  }
  return node as Node | undefined;
}
