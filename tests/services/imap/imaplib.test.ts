/**
 * The IMAP server driven by Python's imaplib, the client a script or a student would
 * use: every command family, as imaplib sends it and reads the answers.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { imaplib, message, pw, startImap, type RunningImap } from './clients';

let imap: RunningImap;
afterEach(async () => {
  await imap?.stop();
});

/** Log in as alice (the test password) before the script. */
const login = `M = imaplib.IMAP4('127.0.0.1', port)\nM.login('alice', '${pw('alice')}')`;

/** A server with these messages in alice's INBOX; imaplib logs in as alice and runs `script`; its results by name. */
async function aliceRuns(messages: string[], script: string): Promise<Record<string, unknown>> {
  imap = await startImap();
  for (const m of messages) await imap.deliver('alice', m);
  return Object.fromEntries(await imaplib(imap.port, `${login}\n${script}`));
}

test('CAPABILITY, NOOP, LOGIN, LOGOUT: the greeting names the capabilities; login says them again', async () => {
  imap = await startImap();
  const results = await imaplib(
    imap.port,
    `M = imaplib.IMAP4('127.0.0.1', port)
out('welcome', M.welcome)
out('capability', M.capability())
out('noop', M.noop())
out('login', M.login('alice', '${pw('alice')}'))
out('logout', M.logout())`,
  );
  const [welcome, capability, noop, loginResult, logout] = results.map((r) => r[1]) as [string, [string, string[]], [string, string[]], [string, string[]], [string, string[]]];
  expect(welcome).toMatch(/^\* OK \[CAPABILITY IMAP4rev1 IMAP4rev2 .*AUTH=PLAIN .*\] wirelab IMAP server for lab\.test ready$/);
  expect(capability[0]).toBe('OK');
  expect(capability[1][0]).toContain('IDLE');
  expect(noop).toEqual(['OK', ['NOOP completed']]);
  expect(loginResult[0]).toBe('OK');
  expect(loginResult[1][0]).toMatch(/^\[CAPABILITY IMAP4rev1 IMAP4rev2 (?!.*AUTH=).*MOVE.*\] alice@lab\.test logged in$/);
  expect(logout[0]).toBe('BYE');
  await imap.logged(/ info closed .*reason=LOGOUT state=logout user=alice/);
});

test('LOGIN with a wrong password gets NO [AUTHENTICATIONFAILED], and the password is not logged', async () => {
  imap = await startImap();
  const results = await imaplib(imap.port, `M = imaplib.IMAP4('127.0.0.1', port)\nattempt('login', lambda: M.login('alice', 'WrongPassword123'))`);
  expect(results[0]![1]).toEqual({ error: 'error', text: '[AUTHENTICATIONFAILED] wrong user name or password' });
  await imap.logged(/ warn login failed .*user=alice address=127\.0\.0\.1 failures=1 /);
  expect(imap.logs.lines.join('\n')).not.toContain('WrongPassword123');
  expect(imap.logs.lines.join('\n')).not.toContain(pw('alice'));
});

test('AUTHENTICATE PLAIN, and alice@lab.test as the user name', async () => {
  imap = await startImap();
  const results = await imaplib(
    imap.port,
    `M = imaplib.IMAP4('127.0.0.1', port)
out('auth', M.authenticate('PLAIN', lambda _: b'\\0alice@lab.test\\0${pw('alice')}'))
out('select', M.select())`,
  );
  expect(results[0]![1]).toEqual(['OK', [expect.stringMatching(/alice@lab\.test logged in$/)]]);
  expect(results[1]![1]).toEqual(['OK', ['0']]);
});

test('SELECT and EXAMINE: counts, UIDVALIDITY, UIDNEXT, READ-WRITE and READ-ONLY', async () => {
  const r = (await aliceRuns(
    [message('one'), message('two')],
    `out('select', M.select('INBOX'))
out('exists', M.response('EXISTS'))
out('recent', M.response('RECENT'))
out('uidvalidity', M.response('UIDVALIDITY'))
out('uidnext', M.response('UIDNEXT'))
out('read-write', M.response('READ-WRITE'))
out('examine', M.select('INBOX', readonly=True))
out('read-only', M.response('READ-ONLY'))
out('recent again', M.response('RECENT'))
attempt('store read-only', lambda: M.store('1', '+FLAGS', '\\\\Seen'))
attempt('missing', lambda: M.select('Nowhere'))`,
  ));
  expect(r.select).toEqual(['OK', ['2']]);
  expect(r.recent).toEqual(['RECENT', ['2']]); // this session took them from new/
  expect(r.uidvalidity![1 as never]).toEqual([expect.stringMatching(/^\d+$/)]);
  expect(r.uidnext).toEqual(['UIDNEXT', ['3']]);
  expect(r['read-write']).toEqual(['READ-WRITE', ['']]);
  expect(r.examine).toEqual(['OK', ['2']]);
  expect(r['read-only']).toEqual(['READ-ONLY', ['']]);
  expect(r['recent again']).toEqual(['RECENT', ['0']]); // the first session saw them first
  expect(r['store read-only']).toEqual(['NO', ['[CANNOT] the mailbox is open read-only (EXAMINE): SELECT it to change it']]);
  expect(r.missing).toEqual(['NO', ['[NONEXISTENT] no mailbox Nowhere']]);
  // Maildir: SELECT moved both messages from new/ to cur/.
  expect(await readdir(path.join(imap.maildir('alice').dir, 'new'))).toEqual([]);
});

test('FETCH: flags, sizes, envelope, structure, sections; BODY[] sets \\Seen and BODY.PEEK[] does not', async () => {
  const text = message('Fetch me', 'Line one\r\nLine two');
  const r = (await aliceRuns(
    [text],
    `M.select()
out('peek', M.fetch('1', '(FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[TEXT]<5.3>)'))
out('envelope', M.fetch('1', '(ENVELOPE BODYSTRUCTURE INTERNALDATE)'))
out('flags after peek', M.fetch('1', '(FLAGS)'))
out('body', M.fetch('1', '(BODY[])'))
out('flags after body', M.fetch('1', '(FLAGS)'))
out('uid fetch', M.uid('FETCH', '1', '(FLAGS)'))`,
  )) as Record<string, [string, unknown[]]>;
  const size = Buffer.byteLength(text);
  expect(r.peek).toEqual([
    'OK',
    [['1 (FLAGS (\\Recent) RFC822.SIZE ' + size + ' BODY[HEADER.FIELDS (SUBJECT)] {21}', 'Subject: Fetch me\r\n\r\n'], [' BODY[TEXT]<5> {3}', 'one'], ')'],
  ]);
  expect(r.envelope[1][0]).toBe(
    '1 (ENVELOPE ("Thu, 03 Dec 2026 10:00:00 +0000" "Fetch me" (("Bob" NIL "bob" "lab.test")) (("Bob" NIL "bob" "lab.test")) (("Bob" NIL "bob" "lab.test")) ((NIL NIL "alice" "lab.test")) NIL NIL NIL "<Fetchme@lab.test>") ' +
      'BODYSTRUCTURE ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 20 2 NIL NIL NIL NIL) ' +
      `INTERNALDATE "${(r.envelope[1][0] as string).match(/INTERNALDATE "([^"]+)"/)![1]}")`,
  );
  expect(r['flags after peek']).toEqual(['OK', ['1 (FLAGS (\\Recent))']]);
  // The new flags come with the data (first, as Dovecot sends them).
  expect(r.body[1]).toEqual([[`1 (FLAGS (\\Seen \\Recent) BODY[] {${size}}`, text], ')']);
  expect(r['flags after body']).toEqual(['OK', ['1 (FLAGS (\\Seen \\Recent))']]);
  expect(r['uid fetch']).toEqual(['OK', ['1 (UID 1 FLAGS (\\Seen \\Recent))']]);
  // The flag is in the file name, where POP3 and any Maildir reader see it.
  expect(await readdir(path.join(imap.maildir('alice').dir, 'cur'))).toEqual([expect.stringMatching(/:2,S$/)]);
});

test('STORE: +FLAGS, -FLAGS, FLAGS, .SILENT and keywords; SEARCH by flag, text and date', async () => {
  const r = (await aliceRuns(
    [message('apples', 'red and green'), message('pears', 'yellow', { From: 'Carol <carol@example.test>' }), message('plums', 'purple')],
    `M.select()
out('add', M.store('1:2', '+FLAGS', '(\\\\Flagged $Important)'))
out('remove', M.store('2', '-FLAGS', '(\\\\Flagged)'))
out('replace', M.store('3', 'FLAGS', '(\\\\Answered)'))
out('silent', M.store('3', '+FLAGS.SILENT', '(\\\\Seen)'))
out('flagged', M.search(None, 'FLAGGED'))
out('keyword', M.search(None, 'KEYWORD', '$Important'))
out('from', M.search(None, 'FROM', 'carol'))
out('body', M.search(None, 'BODY', 'PURPLE'))
out('or not', M.search(None, 'OR', 'SEEN', 'NOT', 'KEYWORD', '$Important'))
out('since', M.search(None, 'SENTSINCE', '3-Dec-2026', 'SENTBEFORE', '4-Dec-2026'))
out('uid search', M.uid('SEARCH', 'UNANSWERED'))
attempt('charset', lambda: M.search('KOI8-R', 'ALL'))
attempt('bad key', lambda: M.search(None, 'SHINY'))`,
  ));
  expect(r.add).toEqual(['OK', ['1 (FLAGS (\\Flagged \\Recent $Important))', '2 (FLAGS (\\Flagged \\Recent $Important))']]);
  expect(r.remove).toEqual(['OK', ['2 (FLAGS (\\Recent $Important))']]);
  expect(r.replace).toEqual(['OK', ['3 (FLAGS (\\Answered \\Recent))']]);
  expect(r.silent).toEqual(['OK', [null]]);
  expect(r.flagged).toEqual(['OK', ['1']]);
  expect(r.keyword).toEqual(['OK', ['1 2']]);
  expect(r.from).toEqual(['OK', ['2']]);
  expect(r.body).toEqual(['OK', ['3']]);
  expect(r['or not']).toEqual(['OK', ['3']]);
  expect(r.since).toEqual(['OK', ['1 2 3']]);
  expect(r['uid search']).toEqual(['OK', ['1 2']]);
  expect(r.charset).toEqual(['NO', ['[BADCHARSET (UTF-8 US-ASCII)] charset KOI8-R is not supported']]);
  expect(r['bad key']).toEqual({ error: 'error', text: expect.stringContaining('unknown search key SHINY') });
  // Keywords get letters (a, b ...) in the file name, and a list in the folder.
  expect(await readFile(path.join(imap.maildir('alice').dir, 'wirelab-keywords'), 'utf8')).toBe('a $Important\n');
});

test('CREATE, LIST with special-use, RENAME, SUBSCRIBE, LSUB, STATUS, DELETE', async () => {
  const r = (await aliceRuns(
    [message('keep')],
    `out('create', M.create('Projects.2026'))
out('again', M.create('Projects.2026'))
out('list', M.list())
out('list pattern', M.list('""', 'Pro%'))
out('rename', M.rename('Projects', 'Work'))
out('list after', M.list('Work'))
out('subscribe', M.subscribe('Work.2026'))
out('lsub', M.lsub())
out('unsubscribe', M.unsubscribe('Sent'))
out('status', M.status('INBOX', '(MESSAGES UNSEEN UIDNEXT UIDVALIDITY SIZE)'))
out('status missing', M.status('Nowhere', '(MESSAGES)'))
out('delete parent', M.delete('Work'))
out('delete', M.delete('Work.2026'))
out('delete inbox', M.delete('INBOX'))
out('namespace', M.namespace())`,
  ));
  expect(r.create).toEqual(['OK', ['CREATE completed']]);
  expect(r.again).toEqual(['NO', ['[ALREADYEXISTS] mailbox Projects.2026 already exists']]);
  expect(r.list).toEqual([
    'OK',
    ['(\\HasNoChildren) "." INBOX', '(\\HasNoChildren \\Drafts) "." Drafts', '(\\HasChildren) "." Projects', '(\\HasNoChildren) "." Projects.2026', '(\\HasNoChildren \\Sent) "." Sent', '(\\HasNoChildren \\Trash) "." Trash'],
  ]);
  expect(r['list pattern']).toEqual(['OK', ['(\\HasChildren) "." Projects']]);
  expect(r.rename).toEqual(['OK', ['RENAME completed']]);
  expect(r['list after']).toEqual(['OK', ['(\\HasChildren) "." Work', '(\\HasNoChildren) "." Work.2026']]);
  expect(r.lsub).toEqual(['OK', ['() "." INBOX', '() "." Drafts', '() "." Sent', '() "." Trash', '() "." Work.2026']]);
  const status = (r.status as [string, string[]])[1][0]!;
  expect(status).toMatch(/^"?INBOX"? \(MESSAGES 1 UNSEEN 1 UIDNEXT 2 UIDVALIDITY \d+ SIZE \d+\)$/);
  expect(r['status missing']).toEqual(['NO', ['[NONEXISTENT] no mailbox Nowhere']]);
  expect(r['delete parent']).toEqual(['NO', ['[HASCHILDREN] Work has mailboxes inside it: delete those first']]);
  expect(r.delete).toEqual(['OK', ['DELETE completed']]);
  expect(r['delete inbox']).toEqual(['NO', ['[CANNOT] INBOX cannot be deleted']]);
  expect(r.namespace).toEqual(['OK', ['(("" ".")) NIL NIL']]);
  // Maildir++ on disk: a dot, then the name.
  expect((await readdir(imap.maildir('alice').dir)).filter((n) => n.startsWith('.')).sort()).toEqual(['.Drafts', '.Sent', '.Trash', '.Work']);
});

test('APPEND with flags and a date, then COPY, MOVE (UIDPLUS answers), EXPUNGE, CLOSE and UNSELECT', async () => {
  const r = (await aliceRuns(
    [message('first'), message('second')],
    `out('append', M.append('Drafts', '(\\\\Draft)', imaplib.Time2Internaldate(1764756000), b'Subject: draft\\r\\n\\r\\nnot yet\\r\\n'))
out('appenduid', M.response('APPENDUID'))
attempt('append nowhere', lambda: M.append('Nowhere', None, None, b'x'))
M.select()
out('copy', M.copy('1', 'Trash'))
out('copyuid', M.response('COPYUID'))
out('move', M.uid('MOVE', '2', 'Sent'))
out('move responses', M.response('COPYUID'))
out('store', M.store('1', '+FLAGS', '\\\\Deleted'))
out('expunge', M.expunge())
out('unselect', M.unselect())
M.select('Drafts')
out('draft', M.fetch('1', '(FLAGS INTERNALDATE BODY.PEEK[TEXT])'))
out('close', M.close())
out('status trash', M.status('Trash', '(MESSAGES)'))
out('status sent', M.status('Sent', '(MESSAGES)'))
out('status inbox', M.status('INBOX', '(MESSAGES)'))`,
  ));
  expect(r.append).toEqual(['OK', [expect.stringMatching(/^\[APPENDUID \d+ 1\] APPEND completed$/)]]);
  expect(r['append nowhere']).toEqual(['NO', ['[TRYCREATE] no mailbox Nowhere: CREATE it first']]);
  expect(r.copy).toEqual(['OK', [expect.stringMatching(/^\[COPYUID \d+ 1 1\] COPY completed$/)]]);
  expect(r.move).toEqual(['OK', [null]]); // imaplib returns the untagged MOVE data: there is none
  expect(r['move responses']).toEqual(['COPYUID', [expect.stringMatching(/^\d+ 2 1$/)]]);
  expect(r.expunge).toEqual(['OK', ['2', '1']]); // imaplib keeps every `* n EXPUNGE`: message 2 left with MOVE, 1 with EXPUNGE
  expect(r.unselect).toEqual(['OK', ['UNSELECT completed']]);
  expect(r.draft).toEqual(['OK', [['1 (FLAGS (\\Draft) INTERNALDATE "03-Dec-2025 10:00:00 +0000" BODY[TEXT] {9}', 'not yet\r\n'], ')']]);
  expect(r.close).toEqual(['OK', ['CLOSE completed']]);
  expect(r['status trash']).toEqual(['OK', ['Trash (MESSAGES 1)']]);
  expect(r['status sent']).toEqual(['OK', ['Sent (MESSAGES 1)']]);
  expect(r['status inbox']).toEqual(['OK', ['INBOX (MESSAGES 0)']]);
});

test('ENABLE IMAP4rev2: ESEARCH answers, UTF-8 names, no RECENT', async () => {
  const r = (await aliceRuns(
    [message('one'), message('two')],
    `out('create', M.create('&AMk-t&AOk-'))
out('enable', M.enable('IMAP4rev2'))
out('enabled', M.response('ENABLED'))
out('select', M.select())
out('recent', M.response('RECENT'))
out('search', M._simple_command('SEARCH', 'ALL'))
out('esearch', M.response('ESEARCH'))
out('return', M._simple_command('UID', 'SEARCH', 'RETURN', '(MIN MAX COUNT)', 'ALL'))
out('esearch 2', M.response('ESEARCH'))
out('flags', M.fetch('1', '(FLAGS)'))
out('list', M.list('""', '*t*'))`,
  ));
  expect(r.create).toEqual(['OK', ['CREATE completed']]);
  expect(r.enabled).toEqual(['ENABLED', ['IMAP4rev2']]);
  expect(r.recent).toEqual(['RECENT', [null]]);
  expect((r.esearch as [string, string[]])[1][0]).toMatch(/^\(TAG "[A-Z]+\d+"\) ALL 1:2$/);
  expect((r['esearch 2'] as [string, string[]])[1][0]).toMatch(/^\(TAG "[A-Z]+\d+"\) UID MIN 1 MAX 2 COUNT 2$/);
  expect(r.flags).toEqual(['OK', ['1 (FLAGS ())']]); // no \Recent in IMAP4rev2
  // "Été" travels in UTF-8 now (a literal, since it is 8-bit), not as &AMk-t&AOk-.
  expect((r.list as [string, unknown[]])[1]).toContainEqual(['(\\HasNoChildren) "." {5}', Buffer.from('Été').toString('latin1')]);
});
