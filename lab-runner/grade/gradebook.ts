import { stringify } from 'csv-stringify/sync';

/**
 * The class's results: one row per student. gradebook.json has everything;
 * gradebook.csv is what a spreadsheet or a learning platform imports.
 */

/**
 * graded: its scenarios ran (whatever they scored). not-started: its server did not
 * start. invalid: its submission.yaml is missing or wrong. error: the grader itself
 * failed (the lab did not start): grade it again. All but graded score 0 with a reason.
 */
export type GradeStatus = 'graded' | 'not-started' | 'invalid' | 'error';

export interface ScenarioScore {
  file: string;
  title: string;
  points: number;
  maxPoints: number;
}

export interface GradebookEntry {
  /** The submission folder's name. */
  student: string;
  status: GradeStatus;
  score: number;
  max: number;
  /** Per scenario, in the order they ran. */
  scenarios: ScenarioScore[];
  /** Why the score is 0 without grading (not-started, invalid, error). */
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
 * Columns: student, score, max, one per scenario (its points; empty when it did not
 * grade that student), and the reason for a score given without grading, on one line.
 */
export function gradebookCsv(book: Gradebook): string {
  const header = ['student', 'score', 'max', ...book.columns.map((c) => c.label), 'reason'];
  const rows = book.students.map((s) => [
    s.student,
    s.score,
    s.max,
    ...book.columns.map((c) => s.scenarios.find((x) => x.file === c.file)?.points ?? ''),
    // One line per student: the whole reason is in gradebook.json and <student>/reason.txt.
    (s.reason ?? '').replace(/\s*\n\s*/g, ' | '),
  ]);
  return stringify([header, ...rows], { record_delimiter: 'windows' });
}
