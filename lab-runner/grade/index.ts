/**
 * Grading a class: `gradeClass(dir, options)` grades every submission folder and
 * writes the reports and the gradebook; `registerGradeCommand(program)` adds
 * `wirelab grade` to the CLI. See README.md beside this file.
 */
export { gradeClass, GradeError, DEFAULT_JOBS, DEFAULT_OUT, DEFAULT_STARTUP_TIMEOUT_MS, DEFAULT_TIME_LIMIT_MS, type GradeOptions } from './grade';
export { registerGradeCommand } from './command';
export { canvasCsv, gradebookCsv, outcomeOf, type Gradebook, type GradebookColumn, type GradebookEntry, type GradeStatus, type Outcome, type ScenarioScore } from './gradebook';
export { loadRoster, parseRoster, RosterError, ROSTER_COLUMNS, type Roster, type RosterStudent } from './roster';
export { loadSubmission, parseSubmission, submissionSchema, SubmissionError, DEFAULT_SCENARIOS, SUBMISSION_FILE, type Submission, type SubmissionTarget } from './submission';
export { startTarget, StartError, type RunningTarget } from './target';
