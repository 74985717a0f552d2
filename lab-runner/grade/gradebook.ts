import { stringify } from 'csv-stringify/sync';
import type { RosterColumn, RosterStudent } from './roster';

/**
 * The class's results: one row per student. gradebook.json has everything;
 * gradebook.csv is what a spreadsheet or Moodle imports; canvas.csv (with a roster) is
 * Canvas's own gradebook import format.
 */

/**
 * graded: its scenarios ran to their end (whatever they scored). time-limit: they ran
 * until the submission's time limit, and were stopped (the points earned before count).
 * not-started: its server did not start. invalid: its submission.yaml is missing or
 * wrong. missing: the roster names the student, but there is no folder. error: the
 * grader itself failed (the lab did not start): grade it again. All but graded and
 * time-limit score 0 with a reason.
 */
export type GradeStatus = 'graded' | 'time-limit' | 'not-started' | 'invalid' | 'missing' | 'error';

/**
 * full: every point. partial: some. failed: none: a server that scored 0 failed, whether
 * it was graded or never started (a server that accepts connections and never answers
 * is not "partly right").
 */
export type Outcome = 'full' | 'partial' | 'failed';

export function outcomeOf(entry: Pick<GradebookEntry, 'status' | 'score' | 'max'>): Outcome {
  if (entry.status !== 'graded' && entry.status !== 'time-limit') return 'failed';
  if (entry.score >= entry.max) return 'full';
  return entry.score > 0 ? 'partial' : 'failed';
}

export interface ScenarioScore {
  file: string;
  title: string;
  points: number;
  maxPoints: number;
}

export interface GradebookEntry {
  /** The submission folder's name. */
  student: string;
  /** Who it is in the learning platform, when a roster names them. */
  roster?: RosterStudent;
  status: GradeStatus;
  outcome: Outcome;
  score: number;
  max: number;
  /** Per scenario, in the order they ran. */
  scenarios: ScenarioScore[];
  /** Why the score is 0 without grading (not-started, invalid, missing, error), or why grading stopped (time-limit). */
  reason?: string;
  durationMs: number;
  /** What the grader wrote for this student, relative to the output folder. */
  files: string[];
}

export interface GradebookColumn {
  file: string;
  title: string;
  maxPoints: number;
  /** The CSV header: the title, or `title (file name)` when two scenarios share a title. */
  label: string;
}

export interface Gradebook {
  submissionsDir: string;
  out: string;
  gradedAt: string;
  durationMs: number;
  /** How long each submission's scenarios could run, in all (ms). */
  timeLimitMs: number;
  /** The roster the students were matched with: its file and columns; folders it does not name. */
  roster?: { file: string; columns: Exclude<RosterColumn, 'folder'>[]; notInRoster: string[] };
  /** One column per scenario that graded anyone, in order of first use. */
  columns: GradebookColumn[];
  students: GradebookEntry[];
}

export function columnsOf(entries: GradebookEntry[]): GradebookColumn[] {
  const columns: GradebookColumn[] = [];
  for (const entry of entries) {
    for (const s of entry.scenarios) {
      if (!columns.some((c) => c.file === s.file)) columns.push({ file: s.file, title: s.title, maxPoints: s.maxPoints, label: s.title });
    }
  }
  for (const column of columns) {
    if (columns.filter((c) => c.title === column.title).length > 1) column.label = `${column.title} (${column.file.split(/[\\/]/).pop()})`;
  }
  return columns;
}

/**
 * RFC 4180: CRLF line ends, fields with commas, quotes or line breaks quoted.
 * Columns: student (the folder), the roster's columns when there is one (id, name,
 * email...: what Moodle's import identifies a user by), score, max, outcome (full,
 * partial, failed), one per scenario (its points; empty when it did not grade that
 * student), and the reason for a score given without grading, on one line.
 */
export function gradebookCsv(book: Gradebook): string {
  const roster = book.roster?.columns ?? [];
  const header = ['student', ...roster, 'score', 'max', 'outcome', ...book.columns.map((c) => c.label), 'reason'];
  const rows = book.students.map((s) => [
    s.student,
    ...roster.map((c) => s.roster?.[c] ?? ''),
    s.score,
    s.max,
    s.outcome,
    ...book.columns.map((c) => s.scenarios.find((x) => x.file === c.file)?.points ?? ''),
    // One line per student: the whole reason is in gradebook.json and <student>/reason.txt.
    (s.reason ?? '').replace(/\s*\n\s*/g, ' | '),
  ]);
  return stringify([header, ...rows], { record_delimiter: 'windows' });
}

/**
 * Canvas's gradebook import (Grades > Import): the columns of its own export, Student,
 * ID, SIS User ID, SIS Login ID, Section, then one column per assignment, and a
 * "Points Possible" row. Canvas finds each student by ID (the roster's id) and the
 * assignment by its column name: `Title (12345)` as Canvas exports it updates that
 * assignment; a new name makes a new assignment. Only students the roster names are
 * written: Canvas knows no one else.
 */
export function canvasCsv(book: Gradebook, assignment: string): string {
  const max = Math.max(0, ...book.students.map((s) => s.max));
  const rows = book.students
    .filter((s) => s.roster)
    .map((s) => [s.roster!.name ?? s.student, s.roster!.id, s.roster!.sis_user_id ?? '', s.roster!.sis_login_id ?? '', s.roster!.section ?? '', s.score]);
  const header = ['Student', 'ID', 'SIS User ID', 'SIS Login ID', 'Section', assignment];
  return stringify([header, ['    Points Possible', '', '', '', '', max], ...rows], { record_delimiter: 'windows' });
}
