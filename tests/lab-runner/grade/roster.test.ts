import { outcomeOf } from '../../../lab-runner/grade/gradebook';
import { parseRoster } from '../../../lab-runner/grade/roster';

/** The roster file (grade/roster.ts): what it accepts, and what it refuses with the file and line. */

test('a roster: folder and id, and any of the optional columns, in any order and case', () => {
  const roster = parseRoster('Email,ID,Folder\r\na@uni.example,1,alice\r\n,2,bob\r\n\r\n', 'r.csv');
  expect(roster.columns).toEqual(['id', 'email']);
  expect([...roster.students]).toEqual([
    ['alice', { id: '1', email: 'a@uni.example' }],
    ['bob', { id: '2' }],
  ]);
});

test.each([
  ['', /r\.csv: empty: a roster starts with a header row/],
  ['folder,id,emial\nalice,1,a@x\n', /r\.csv:1: unknown column "emial"; a roster has folder, id, name, email, sis_user_id, sis_login_id, section/],
  ['folder,name\nalice,Alice\n', /r\.csv:1: no "id" column; a roster has at least folder,id/],
  ['folder,id,id\nalice,1,2\n', /r\.csv:1: the column "id" is there twice/],
  ['folder,id\nalice,1\nbob,\n', /r\.csv:3: every student needs a folder and an id/],
  ['folder,id\nalice,1\nalice,2\n', /r\.csv:3: the folder "alice" is listed twice/],
  ['folder,id\nalice,1\nbob,1\n', /r\.csv:3: the id "1" is already alice's/],
  ['folder,id\nalice,1,extra\n', /r\.csv: not a CSV file: /],
])('refused: %j', (text, message) => {
  expect(() => parseRoster(text, 'r.csv')).toThrow(message);
});

test('a score of 0 is a failure, graded or not; some points are partial; all of them full', () => {
  expect(outcomeOf({ status: 'graded', score: 0, max: 18 })).toBe('failed');
  expect(outcomeOf({ status: 'time-limit', score: 0, max: 18 })).toBe('failed');
  expect(outcomeOf({ status: 'time-limit', score: 4, max: 18 })).toBe('partial');
  expect(outcomeOf({ status: 'graded', score: 18, max: 18 })).toBe('full');
  expect(outcomeOf({ status: 'not-started', score: 0, max: 18 })).toBe('failed');
});
