/**
 * Found by `npm run fuzz`: two sessions logging in at once as a user whose Maildir is
 * new (a mail client opens several connections at start) both wrote the subscriptions
 * file through the same temporary name; the second rename found it gone, and that
 * LOGIN failed with an internal error. Every writer now has a temporary file of its own.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MailStore, SUBSCRIPTIONS } from '../../../services/imap/mailbox';

let dir: string;
beforeEach(async () => (dir = await mkdtemp(path.join(os.tmpdir(), 'wirelab-imap-race-'))));
afterEach(() => rm(dir, { recursive: true, force: true }));

test('the defaults of a new Maildir, made by several sessions at once, are made once and whole', async () => {
  const root = path.join(dir, 'Maildir');
  await Promise.all(Array.from({ length: 4 }, () => new MailStore(root).ensureDefaults()));
  expect((await readFile(path.join(root, SUBSCRIPTIONS), 'utf8')).split('\n').filter(Boolean).sort()).toEqual(['Drafts', 'INBOX', 'Sent', 'Trash']);
  expect(await new MailStore(root).names()).toEqual(['INBOX', 'Drafts', 'Sent', 'Trash']);
});
