#!/usr/bin/env node
// Gradescope's results.json, on standard output, from what `wirelab grade` wrote for a
// class of one (run_autograder): every step a test, or, when the student's server could
// not be graded (it did not start), no points and the reason.
// Usage: node results.js GRADES_DIR   (WIRELAB_HOME: where wirelab is)
const fs = require('node:fs');
const path = require('node:path');

const wirelab = process.env.WIRELAB_HOME || path.join(__dirname, 'wirelab');
const { gradescopeReport, gradescopeNotGraded } = require(path.join(wirelab, 'dist/lab-runner/report/gradescope'));
const grades = process.argv[2];
const book = JSON.parse(fs.readFileSync(path.join(grades, 'gradebook.json'), 'utf8'));
const entry = book.students[0];
if (entry.status === 'graded') {
  const result = JSON.parse(fs.readFileSync(path.join(grades, entry.student, 'result.json'), 'utf8'));
  process.stdout.write(gradescopeReport(result));
} else {
  process.stdout.write(JSON.stringify(gradescopeNotGraded(entry.reason, entry.durationMs), null, 2) + '\n');
}
