/**
 * One truth: SMTP, POP3 and IMAP work on the same Maildir, and each sees what the others
 * did. A flag set by IMAP renames the file (POP3 still finds the message), a message
 * POP3 deleted is gone for IMAP at its next look (and pushed as EXPUNGE to a client in
 * IDLE), mail delivered meanwhile is pushed as EXISTS. UIDs and UIDVALIDITY live in
 * wirelab-uidlist, so they survive a restart and stay put when other messages go.
 */
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { compareUnique, Maildir, uniqueName } from '../../../services/common/maildir';
import { poplib, rawLogin, startPop3, type RunningPop3 } from '../pop3/clients';
import { ImapWire, message, startImap, type RunningImap } from './clients';

let imap: RunningImap;
let pop3: RunningPop3 | undefined;
afterEach(async () => {
  await pop3?.stop();
  pop3 = undefined;
  await imap?.stop();
});

/** IMAP and POP3 servers on one data directory. */
async function both(): Promise<void> {
  imap = await startImap();
  pop3 = await startPop3({ dataDir: imap.dataDir });
}

describe('Maildir: a message is found by its unique name wherever it is now', () => {
  test('read() and remove() follow a message that moved from new/ to cur/ and got flags', async () => {
    imap = await startImap();
    const maildir = imap.maildir('alice');
    const unique = await imap.deliver('alice', message('moving'));
    const [listed] = await maildir.list();
    expect(listed!.file).toBe(`new/${unique}`);
    // What IMAP does: new/ to cur/, then a rename for \Seen.
    await writeFile(path.join(maildir.dir, 'cur', `${unique}:2,S`), await readFile(path.join(maildir.dir, 'new', unique)));
    await rm(path.join(maildir.dir, 'new', unique));
    expect(await maildir.locate(unique)).toBe(`cur/${unique}:2,S`);
    expect((await maildir.read(listed!)).toString()).toContain('Subject: moving');
    expect(listed!.file).toBe(`cur/${unique}:2,S`); // remembered where it is now
    await maildir.remove({ ...listed!, file: `new/${unique}` });
    expect(await readdir(path.join(maildir.dir, 'cur'))).toEqual([]);
    expect(await maildir.locate(unique)).toBeUndefined();
    await expect(maildir.read(listed!)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('unique names sort as text in the order they were made (Dovecot numbers new mail so; so do our UIDs)', () => {
    const names = Array.from({ length: 3000 }, () => uniqueName());
    expect([...names].sort()).toEqual(names);
    expect([...names].sort(compareUnique)).toEqual(names);
    expect(names[0]).toMatch(/^\d+\.M\d{6}P\d+Q\d+\./);
  });

  test('deliver() with flags and a date puts the message in cur/ (what APPEND does)', async () => {
    imap = await startImap();
    const maildir = new Maildir(path.join(imap.dataDir, 'm'));
    const when = new Date('2026-01-02T03:04:05Z');
    const unique = await maildir.deliver(Buffer.from('Subject: x\r\n\r\n'), { flags: 'DS', mtime: when });
    expect(await readdir(path.join(maildir.dir, 'cur'))).toEqual([`${unique}:2,DS`]);
    const [m] = await maildir.list();
    expect(m!.uid).toBe(unique);
  });
});

describe('POP3 and IMAP on one mailbox', () => {
  test('a POP3 session that listed a message still reads and deletes it after IMAP moved it and set \\Seen', async () => {
    await both();
    await imap.deliver('alice', message('shared', 'For both of them.'));
    const pop = await rawLogin(pop3!.port, 'alice');
    expect(pop.reply).toMatch(/^\+OK alice@lab\.test has 1 messages/);
    // Meanwhile, IMAP: SELECT moves it to cur/, FETCH BODY[] sets \Seen (another rename).
    const wire = await ImapWire.login(imap.port);
    await wire.command('s', 'SELECT INBOX');
    await wire.command('f', 'FETCH 1 BODY[]');
    expect(await readdir(path.join(imap.maildir('alice').dir, 'cur'))).toEqual([expect.stringMatching(/:2,S$/)]);
    expect(await pop.wire.multi('RETR 1')).toContain('For both of them.');
    expect(await pop.wire.command('DELE 1')).toBe('+OK message 1 deleted');
    expect(await pop.wire.command('QUIT')).toBe('+OK goodbye: 1 messages deleted, 0 left');
    // ...and IMAP learns it at its next command.
    expect(await wire.command('n', 'NOOP')).toEqual(['* 1 EXPUNGE', '* 0 RECENT', 'n OK NOOP completed']);
    expect(await readdir(path.join(imap.maildir('alice').dir, 'cur'))).toEqual([]);
    wire.destroy();
  });

  test('a message IMAP expunged is gone for a POP3 session that listed it: -ERR, not a server error', async () => {
    await both();
    await imap.deliver('alice', message('doomed'));
    const pop = await rawLogin(pop3!.port, 'alice');
    const wire = await ImapWire.login(imap.port);
    await wire.command('s', 'SELECT INBOX');
    await wire.command('d', 'STORE 1 +FLAGS.SILENT (\\Deleted)');
    expect(await wire.command('e', 'EXPUNGE')).toEqual(['* 1 EXPUNGE', '* 0 RECENT', 'e OK EXPUNGE completed']);
    expect(await pop.wire.command('RETR 1')).toBe('-ERR message 1 is gone: another program (an IMAP client) deleted it since you logged in');
    expect(await pop.wire.command('QUIT')).toBe('+OK goodbye: 0 messages deleted, 1 left');
    wire.destroy();
  });

  test('IDLE: a delivery is pushed as EXISTS, a POP3 deletion as EXPUNGE, another session\'s flags as FETCH', async () => {
    await both();
    await imap.deliver('alice', message('first'));
    const wire = await ImapWire.login(imap.port);
    await wire.command('s', 'SELECT INBOX');
    wire.write('i IDLE\r\n');
    expect(await wire.response()).toBe('+ idling');
    await imap.deliver('alice', message('second'));
    expect(await wire.response('EXISTS after a delivery')).toBe('* 2 EXISTS');
    expect(await wire.response()).toBe('* 2 RECENT'); // both are \Recent in this session
    // POP3 deletes the first message.
    const deleted = await poplib(pop3!.port, [['user', 'alice'], ['pass_', 'pw-alice-S3cret'], ['dele', 1], ['quit']]);
    expect(deleted.map((r) => r.error ?? 'ok')).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    expect(await wire.response('EXPUNGE after POP3 deleted a message')).toBe('* 1 EXPUNGE');
    expect(await wire.response()).toBe('* 1 RECENT'); // IMAP4rev1 clients count \Recent messages
    // Another IMAP session flags the remaining message.
    const other = await ImapWire.login(imap.port);
    await other.command('s', 'SELECT INBOX');
    await other.command('f', 'STORE 1 +FLAGS (\\Flagged)');
    expect(await wire.response('FETCH after another session set a flag')).toBe('* 1 FETCH (FLAGS (\\Flagged \\Recent))');
    wire.write('DONE\r\n');
    expect(await wire.untilTagged('i')).toEqual(['i OK IDLE terminated']);
    wire.destroy();
    other.destroy();
  });
});

describe('UIDs', () => {
  test('UIDs and UIDVALIDITY survive a restart; a UID is never given twice, even after EXPUNGE', async () => {
    imap = await startImap({ keepData: true });
    for (const s of ['one', 'two', 'three']) await imap.deliver('alice', message(s));
    let wire = await ImapWire.login(imap.port);
    const selected = await wire.command('s', 'SELECT INBOX');
    const validity = selected.find((l) => l.includes('UIDVALIDITY'))!;
    expect(await wire.command('f', 'FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])')).toEqual([
      '* 1 FETCH (UID 1 BODY[HEADER.FIELDS (SUBJECT)] {16}\r\nSubject: one\r\n\r\n)',
      '* 2 FETCH (UID 2 BODY[HEADER.FIELDS (SUBJECT)] {16}\r\nSubject: two\r\n\r\n)',
      '* 3 FETCH (UID 3 BODY[HEADER.FIELDS (SUBJECT)] {18}\r\nSubject: three\r\n\r\n)',
      'f OK FETCH completed',
    ]);
    // Expunge "two": "three" becomes message 2 and keeps UID 3.
    await wire.command('d', 'UID STORE 2 +FLAGS.SILENT (\\Deleted)');
    expect(await wire.command('e', 'EXPUNGE')).toEqual(['* 2 EXPUNGE', '* 2 RECENT', 'e OK EXPUNGE completed']);
    expect(await wire.command('u', 'FETCH 1:* UID')).toEqual(['* 1 FETCH (UID 1)', '* 2 FETCH (UID 3)', 'u OK FETCH completed']);
    wire.destroy();
    const dataDir = imap.dataDir;
    await imap.stop();

    imap = await startImap({ dataDir });
    await imap.deliver('alice', message('four'));
    wire = await ImapWire.login(imap.port);
    const again = await wire.command('s', 'SELECT INBOX');
    expect(again.find((l) => l.includes('UIDVALIDITY'))).toBe(validity);
    expect(again).toContain('* OK [UIDNEXT 5] predicted next UID');
    expect(await wire.command('u', 'UID FETCH 1:* UID')).toEqual(['* 1 FETCH (UID 1)', '* 2 FETCH (UID 3)', '* 3 FETCH (UID 4)', 'u OK FETCH completed']);
    wire.destroy();
    const list = await readFile(path.join(imap.maildir('alice').dir, 'wirelab-uidlist'), 'utf8');
    expect(list).toMatch(new RegExp(`^wirelab-uidlist 1\\nuidvalidity ${/UIDVALIDITY (\d+)/.exec(validity)![1]}\\nuidnext 5\\n1 \\S+\\n3 \\S+\\n4 \\S+\\n$`));
    await rm(dataDir, { recursive: true, force: true });
  });

  test('a lost uidlist means a new UIDVALIDITY: clients are told to forget the UIDs they knew', async () => {
    imap = await startImap();
    await imap.deliver('alice', message('one'));
    const wire = await ImapWire.login(imap.port);
    const before = (await wire.command('s', 'EXAMINE INBOX')).find((l) => l.includes('UIDVALIDITY'))!;
    await wire.command('c', 'CLOSE');
    await rm(path.join(imap.maildir('alice').dir, 'wirelab-uidlist'));
    const after = (await wire.command('s', 'EXAMINE INBOX')).find((l) => l.includes('UIDVALIDITY'))!;
    expect(Number(/\d+/.exec(after)![0])).toBeGreaterThan(Number(/\d+/.exec(before)![0]));
    wire.destroy();
  });

  test('a message copied back and forth gets a new UID each time (never an old one)', async () => {
    imap = await startImap();
    await imap.deliver('alice', message('traveller'));
    const wire = await ImapWire.login(imap.port);
    await wire.command('s', 'SELECT INBOX');
    expect((await wire.command('m', 'UID MOVE 1 Trash'))[0]).toMatch(/^\* OK \[COPYUID \d+ 1 1\] moved$/);
    await wire.command('t', 'SELECT Trash');
    expect((await wire.command('m', 'UID MOVE 1 INBOX'))[0]).toMatch(/^\* OK \[COPYUID \d+ 1 2\] moved$/);
    await wire.command('i', 'SELECT INBOX');
    expect(await wire.command('u', 'UID FETCH 1:* UID')).toEqual(['* 1 FETCH (UID 2)', 'u OK FETCH completed']);
    wire.destroy();
  });
});
