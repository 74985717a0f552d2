import { readFile } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';

/**
 * The class roster: which student each submission folder is, under the learning
 * platform's own ids, so the gradebook imports into Canvas or Moodle without a hand
 * mapping. A CSV file (RFC 4180, UTF-8, a header row), one row per student:
 *
 *   folder,id,name,email
 *   alice-w,48213,"Wong, Alice",alice.wong@uni.example
 *
 * | column | |
 * |---|---|
 * | `folder` | the submission folder's name (required) |
 * | `id` | the student's id in the platform (required): Canvas's user ID (the `ID` column of its gradebook export), Moodle's ID number (or username, or email) |
 * | `name`, `email`, `sis_user_id`, `sis_login_id`, `section` | optional; canvas.csv uses name, SIS ids and section as Canvas's export names them |
 *
 * See README.md beside this file for importing the gradebook.
 */

export const ROSTER_COLUMNS = ['folder', 'id', 'name', 'email', 'sis_user_id', 'sis_login_id', 'section'] as const;
export type RosterColumn = (typeof ROSTER_COLUMNS)[number];

/** A student as the roster names them (the folder aside). */
export type RosterStudent = { id: string } & Partial<Record<Exclude<RosterColumn, 'folder' | 'id'>, string>>;

export interface Roster {
  file: string;
  /** The columns the file has, in ROSTER_COLUMNS order, `folder` aside. */
  columns: Exclude<RosterColumn, 'folder'>[];
  /** Folder name -> student, in the file's order. */
  students: Map<string, RosterStudent>;
}

/** The roster cannot be used: a usage error, with the file and line. */
export class RosterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RosterError';
  }
}

export async function loadRoster(file: string): Promise<Roster> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new RosterError(`${file}: ${code === 'ENOENT' ? 'no such file' : `cannot read it: ${code ?? (err as Error).message}`}`);
  }
  return parseRoster(text, file);
}

export function parseRoster(text: string, file: string): Roster {
  let rows: string[][];
  try {
    // A spreadsheet's export may start with a byte order mark and end lines in CRLF.
    rows = parse(text, { bom: true, skip_empty_lines: true, relax_column_count: false, trim: true }) as string[][];
  } catch (err) {
    throw new RosterError(`${file}: not a CSV file: ${(err as Error).message}`);
  }
  const [header, ...body] = rows;
  if (!header) throw new RosterError(`${file}: empty: a roster starts with a header row, e.g. folder,id,name,email`);
  const names = header.map((h) => h.toLowerCase());
  const unknown = names.filter((n) => !(ROSTER_COLUMNS as readonly string[]).includes(n));
  if (unknown.length) throw new RosterError(`${file}:1: unknown column${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `"${u}"`).join(', ')}; a roster has ${ROSTER_COLUMNS.join(', ')}`);
  for (const required of ['folder', 'id'] as const) {
    if (!names.includes(required)) throw new RosterError(`${file}:1: no "${required}" column; a roster has at least folder,id`);
  }
  const repeated = names.find((n, i) => names.indexOf(n) !== i);
  if (repeated) throw new RosterError(`${file}:1: the column "${repeated}" is there twice`);

  const students = new Map<string, RosterStudent>();
  const ids = new Map<string, string>();
  body.forEach((row, i) => {
    const line = i + 2;
    const value = (column: RosterColumn): string => row[names.indexOf(column)] ?? '';
    const folder = value('folder');
    const id = value('id');
    if (!folder || !id) throw new RosterError(`${file}:${line}: every student needs a folder and an id`);
    if (students.has(folder)) throw new RosterError(`${file}:${line}: the folder "${folder}" is listed twice`);
    if (ids.has(id)) throw new RosterError(`${file}:${line}: the id "${id}" is already ${ids.get(id)}'s`);
    ids.set(id, folder);
    const student: RosterStudent = { id };
    for (const column of ROSTER_COLUMNS) if (column !== 'folder' && column !== 'id' && value(column)) student[column] = value(column);
    students.set(folder, student);
  });
  const columns = ROSTER_COLUMNS.filter((c): c is Exclude<RosterColumn, 'folder'> => c !== 'folder' && names.includes(c));
  return { file, columns, students };
}
