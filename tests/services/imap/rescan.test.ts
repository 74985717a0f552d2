/**
 * A folder whose new/, cur/ and UID list have not changed is not read again at every
 * command (changeStamp), and a change made at any moment is still seen at the next
 * command. Real clients: the raw IMAP wire, and the real delivery code.
 */
import { mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { changeStamp } from '../../../services/imap/mailbox';
import { ImapWire, message, startImap, type RunningImap } from './clients';

let imap: RunningImap | undefined;
afterEach(async () => {
  await imap?.stop();
  imap = undefined;
});

test('changeStamp: a folder changed less than a second ago is never taken as unchanged', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'wirelab-stamp-'));
  try {
    expect(changeStamp([dir])).toBeUndefined();
    expect(changeStamp([path.join(dir, 'missing')])).toBe('-1'); // not there: a time of its own
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('changes in quick succession are each seen at the next command: new mail, a flag set by another, a message deleted by another', async () => {
  imap = await startImap();
  const wire = await ImapWire.login(imap.port);
  await wire.command('s', 'SELECT INBOX');
  const maildir = imap.maildir('alice');
  for (let i = 1; i <= 3; i++) {
    await imap.deliver('alice', message(`quick ${i}`));
    expect(await wire.command(`n${i}`, 'NOOP')).toContain(`* ${i} EXISTS`);
  }
  // Another program renames message 1 to give it \Flagged.
  const [first] = (await readdir(path.join(maildir.dir, 'cur'))).sort();
  await rename(path.join(maildir.dir, 'cur', first!), path.join(maildir.dir, 'cur', first!.replace(/:2,.*$/, ':2,F')));
  expect(await wire.command('f', 'NOOP')).toContainEqual(expect.stringMatching(/^\* 1 FETCH \(FLAGS \(\\Flagged \\Recent\)\)$/));
  // ...and deletes message 2.
  const second = (await readdir(path.join(maildir.dir, 'cur'))).sort()[1]!;
  await rm(path.join(maildir.dir, 'cur', second));
  expect(await wire.command('d', 'NOOP')).toContain('* 2 EXPUNGE');
  // A keyword file written by another session is read again too.
  await writeFile(path.join(maildir.dir, 'wirelab-keywords'), 'a $Important\n');
  const third = (await readdir(path.join(maildir.dir, 'cur'))).sort()[1]!;
  await rename(path.join(maildir.dir, 'cur', third), path.join(maildir.dir, 'cur', third.replace(/:2,.*$/, ':2,a')));
  expect(await wire.command('k', 'NOOP')).toContainEqual(expect.stringMatching(/^\* 2 FETCH \(FLAGS \(\\Recent \$Important\)\)$/));
});
