/**
 * Our IMAP server next to Dovecot (Debian's dovecot-imapd), the reference: the same
 * messages (tests/fixtures/imap, with the same arrival times) in a Maildir each, the
 * same fixed command sequences sent to both, and the answers compared field by field:
 * FETCH items one by one (ENVELOPE, BODYSTRUCTURE, sections, FLAGS as sets, sizes,
 * dates), SEARCH results, LIST attributes, STATUS counts, response codes, and whether
 * each command ended OK, NO or BAD. What may differ: the human text after a status,
 * the order of untagged data and of FETCH items, UIDVALIDITY values (both are times),
 * codes on BAD (ours say [CLIENTBUG]), and the differences we keep on purpose, each
 * shown on both servers in the last tests and listed in services/imap/README.md.
 */
import { readdir, readFile, utimes } from 'node:fs/promises';
import path from 'node:path';
import { ImapWire, pw, startImap, type RunningImap } from './clients';
import { startDovecot, type RunningDovecot } from './dovecot';

const FIXTURES = path.resolve(__dirname, '../../../tests/fixtures/imap');

/** Fresh servers for each sequence: the sequences change the mailboxes. */
async function startBoth(): Promise<{ ours: RunningImap; dovecot: RunningDovecot; stop(): Promise<void> }> {
  const ours = await startImap();
  const maildir = ours.maildir('alice');
  // Arrival times one minute apart from 1 Dec 2026 09:00 UTC: INTERNALDATE and SINCE/BEFORE have something to compare.
  let time = Date.UTC(2026, 11, 1, 9, 0, 0) / 1000;
  for (const file of (await readdir(FIXTURES)).filter((f) => f.endsWith('.eml')).sort()) {
    const unique = await maildir.deliver(await readFile(path.join(FIXTURES, file)));
    await utimes(path.join(maildir.dir, 'new', unique), time, time);
    time += 60;
  }
  const dovecot = await startDovecot(maildir.dir, 'alice', pw('alice'));
  return {
    ours,
    dovecot,
    async stop() {
      await dovecot.stop();
      await ours.stop();
    },
  };
}

// ---------------------------------------------------------------------------
// Responses as values, so they compare field by field.

type Parsed = null | number | string | { atom: string } | Parsed[];

/** IMAP values of a response line (literals inline as `{n}` CRLF octets): NIL, numbers, strings, atoms, lists. */
function parseValues(text: string): Parsed[] {
  let i = 0;
  const value = (): Parsed => {
    const c = text[i];
    if (c === '(') {
      i++;
      const list: Parsed[] = [];
      while (text[i] !== ')' && i < text.length) {
        if (text[i] === ' ') i++;
        else list.push(value());
      }
      i++;
      return list;
    }
    if (c === '"') {
      let out = '';
      i++;
      while (text[i] !== '"') {
        if (text[i] === '\\') i++;
        out += text[i++];
      }
      i++;
      return out;
    }
    const literal = /^~?\{(\d+)\}\r\n/.exec(text.slice(i));
    if (literal) {
      i += literal[0].length;
      const out = text.slice(i, i + Number(literal[1]));
      i += Number(literal[1]);
      return out;
    }
    let word = '';
    while (i < text.length && !' ()'.includes(text[i]!)) {
      if (text[i] === '[') {
        // A section name is one atom, spaces and parentheses included: BODY[HEADER.FIELDS (FROM)]<0>
        const end = text.indexOf(']', i);
        word += text.slice(i, end + 1);
        i = end + 1;
      } else word += text[i++];
    }
    if (word === 'NIL') return null;
    if (/^\d+$/.test(word)) return Number(word);
    return { atom: word.toUpperCase() };
  };
  const values: Parsed[] = [];
  while (i < text.length) {
    if (text[i] === ' ') i++;
    else values.push(value());
  }
  return values;
}

const atomText = (v: Parsed): string => (v !== null && typeof v === 'object' && 'atom' in v ? v.atom : String(v));

/** Flags as a sorted set (their order does not matter, RFC 9051 2.3.2). */
const flagSet = (v: Parsed): string[] => (Array.isArray(v) ? v.map((f) => atomText(f).toUpperCase()).sort() : []);

/** One response, as the fields that must agree. */
function normalize(line: string): unknown {
  if (line.startsWith('+')) return undefined; // a continuation request: the text is free
  const status = /^(\S+) (OK|NO|BAD|BYE|PREAUTH)(?: \[([^\]]*(?:\[[^\]]*\])?[^\]]*)\])?/.exec(line);
  if (status) {
    const [, tag, name, code] = status;
    let shown: string | undefined = code?.replace(/^(UIDVALIDITY|APPENDUID|COPYUID) \d+/, '$1 V');
    if (name === 'BAD') shown = undefined; // ours carry [CLIENTBUG]; the status is what counts
    if (shown?.startsWith('PERMANENTFLAGS')) shown = `PERMANENTFLAGS ${flagSet(parseValues(shown.slice(15))[0]!).join(' ')}`;
    if (tag === '*' && name === 'OK' && !shown) return undefined; // a remark for people
    return { tag: tag === '*' ? '*' : 'tagged', status: name, code: shown };
  }
  const [star, ...values] = parseValues(line);
  void star;
  const [first, second, ...rest] = values;
  if (typeof first === 'number' && atomText(second!) === 'FETCH') {
    const items = rest[0] as Parsed[];
    const fields: [string, unknown][] = [];
    for (let k = 0; k < items.length; k += 2) {
      const name = atomText(items[k]!);
      fields.push([name, name === 'FLAGS' ? flagSet(items[k + 1]!) : items[k + 1]]);
    }
    // The order of FETCH items is the server's choice: compared by name.
    return { fetch: first, fields: Object.fromEntries(fields.sort(([a], [b]) => a.localeCompare(b))) };
  }
  if (typeof first === 'number') return { [atomText(second!)]: first }; // EXISTS, RECENT, EXPUNGE
  const kind = atomText(first!);
  if (kind === 'LIST' || kind === 'LSUB') return { [kind]: values[3], delimiter: values[2], attributes: flagSet(values[1]!) };
  if (kind === 'SEARCH') return { SEARCH: values.slice(1).map(Number).sort((a, b) => a - b) };
  if (kind === 'FLAGS') return { FLAGS: flagSet(values[1]!) };
  if (kind === 'STATUS') {
    const items = values[2] as Parsed[];
    const counts: Record<string, unknown> = {};
    for (let k = 0; k < items.length; k += 2) counts[atomText(items[k]!)] = atomText(items[k]!) === 'UIDVALIDITY' ? 'V' : items[k + 1];
    return { STATUS: atomText(values[1]!), counts };
  }
  if (kind === 'ESEARCH') return { ESEARCH: values.slice(2).map(atomText) };
  return { [kind]: values.slice(1) };
}

interface Answer {
  untagged: string[];
  done: { tag: string; status: string; code?: string };
}

/** A command's answer: its untagged responses (as a sorted set, without the kinds in `ignore`) and its completion. */
async function answer(wire: ImapWire, tag: string, command: string, ignore: readonly string[]): Promise<Answer> {
  const lines = await wire.command(tag, command);
  const done = normalize(lines[lines.length - 1]!) as Answer['done'];
  const untagged = lines
    .slice(0, -1)
    .map(normalize)
    .filter((n) => n !== undefined && !ignore.some((kind) => Object.hasOwn(n as object, kind)))
    .map((n) => JSON.stringify(n, (key, value: unknown) => (key === 'FLAGS' && ignore.includes('RECENT') && Array.isArray(value) ? value.filter((f) => f !== '\\RECENT') : value)))
    .sort();
  return { untagged, done };
}

/**
 * Run one sequence on both servers, after LOGIN; each command's answers must agree.
 * `ignore`: kinds of untagged data left out, for a difference kept on purpose (shown below).
 */
async function compare(commands: string[], ignore: readonly string[] = []): Promise<void> {
  const both = await startBoth();
  try {
    const ours = await ImapWire.login(both.ours.port);
    const theirs = await ImapWire.login(both.dovecot.port);
    for (const [i, command] of commands.entries()) {
      const tag = `c${i + 1}`;
      const [a, b] = [await answer(ours, tag, command, ignore), await answer(theirs, tag, command, ignore)];
      // Dovecot leaves the code out of some NOs (SELECT of a missing mailbox): ours is then not compared.
      if (b.done.code === undefined && b.done.status === 'NO') a.done.code = undefined;
      expect({ command, ...a }).toEqual({ command, ...b });
    }
    ours.destroy();
    theirs.destroy();
  } finally {
    await both.stop();
  }
}

// ---------------------------------------------------------------------------
// The fixed list of sequences.

test('SELECT, then every message described: flags, size, date, UID, ENVELOPE, BODYSTRUCTURE, BODY', async () => {
  await compare(['SELECT INBOX', 'FETCH 1:* (FLAGS RFC822.SIZE INTERNALDATE UID ENVELOPE)', 'FETCH 1:* BODYSTRUCTURE', 'FETCH 1:* BODY', 'UID FETCH 2:4 (UID FLAGS)', 'FETCH * UID', 'FETCH 1 FAST', 'FETCH 2 ALL', 'FETCH 3 FULL']);
});

test('sections: parts, MIME headers, header fields, partial ranges, nested messages, BINARY', async () => {
  await compare([
    'EXAMINE INBOX',
    'FETCH 2 (BODY.PEEK[1] BODY.PEEK[1.1] BODY.PEEK[1.2.MIME] BODY.PEEK[2.MIME] BODY.PEEK[2])',
    'FETCH 3 (BODY.PEEK[2] BODY.PEEK[2.HEADER] BODY.PEEK[2.TEXT] BODY.PEEK[2.1] BODY.PEEK[2.MIME] BODY.PEEK[1])',
    'FETCH 1 (BODY.PEEK[HEADER.FIELDS (From Subject)] BODY.PEEK[HEADER.FIELDS.NOT (Received Return-Path To Cc From Subject)])',
    'FETCH 1 (BODY.PEEK[TEXT]<0.20> BODY.PEEK[]<400.100> BODY.PEEK[]<5000.10> BODY.PEEK[HEADER])',
    'FETCH 7 (BODY.PEEK[1] BODY.PEEK[2.HEADER] BODY.PEEK[9] BODY.PEEK[1.5])',
    'FETCH 2 (BINARY.PEEK[1.1] BINARY.SIZE[1.1] BINARY.SIZE[2] BINARY.PEEK[2])',
    'FETCH 5:6 (BODY.PEEK[TEXT] BODY.PEEK[1] BODY.PEEK[HEADER] RFC822.SIZE)',
    'FETCH 5 (RFC822.HEADER)',
  ]);
});

test('reading sets \\Seen; PEEK does not; RFC822 and RFC822.TEXT do', async () => {
  await compare(['SELECT INBOX', 'FETCH 1 BODY.PEEK[]', 'FETCH 1 FLAGS', 'FETCH 1 BODY[TEXT]', 'FETCH 2 RFC822', 'FETCH 3 RFC822.TEXT', 'FETCH 4 BINARY[1]', 'FETCH 1:* FLAGS', 'SEARCH SEEN', 'SEARCH UNSEEN']);
});

test('SEARCH: text, headers, dates, sizes, flags, sets, OR/NOT, UID SEARCH, ESEARCH and SAVE', async () => {
  await compare([
    'SELECT INBOX',
    ...[
      ...['ALL', 'FROM bob', 'TO alice', 'CC carol', 'SUBJECT lunch', 'BODY report', 'TEXT attached', 'SUBJECT "aus Berlin"', 'FROM juergen', 'TEXT juergen'],
      ...['HEADER Message-ID lab.test', 'HEADER In-Reply-To ""', 'LARGER 400', 'SMALLER 200', 'SINCE 1-Dec-2026', 'BEFORE 1-Dec-2026', 'ON 1-Dec-2026'],
      ...['SENTSINCE 2-Dec-2026', 'SENTBEFORE 2-Dec-2026', 'SENTON 3-Dec-2026', 'NEW', 'OLD', 'RECENT', 'UNSEEN', '2:4 NOT 3', 'OR 1 7', 'UID 3:*'],
      ...['(OR FROM alice FROM carol) SUBJECT report', 'CHARSET UTF-8 SUBJECT digest', 'DRAFT', 'NOT DELETED'],
    ].map((k) => `SEARCH ${k}`),
    'UID SEARCH ALL',
    'SEARCH RETURN (MIN MAX COUNT) ALL',
    'SEARCH RETURN () UNSEEN',
    'SEARCH RETURN (ALL) 1,3,5:7',
    'UID SEARCH RETURN (COUNT MIN) FROM bob',
    'SEARCH RETURN (SAVE) FROM example.test',
    'FETCH $ UID',
    'SEARCH $',
    'SEARCH RETURN (MIN SAVE) ALL',
    'UID SEARCH $',
  ]);
});

test('STORE in all its forms, then EXPUNGE and the sequence numbers after it', async () => {
  await compare([
    'SELECT INBOX',
    'STORE 1 +FLAGS (\\Seen)',
    'STORE 2:3 +FLAGS (\\Flagged \\Answered)',
    'STORE 3 -FLAGS (\\Answered)',
    'STORE 4 FLAGS (\\Draft $Label1)',
    'STORE 5 +FLAGS.SILENT (\\Deleted)',
    'UID STORE 6 +FLAGS (\\Deleted)',
    'FETCH 1:* FLAGS',
    'SEARCH DELETED',
    'SEARCH KEYWORD $Label1',
    'SEARCH FLAGGED UNANSWERED',
    'EXPUNGE',
    'FETCH 1:* (UID FLAGS)',
    'STORE 2 +FLAGS (\\Deleted)',
    'UID EXPUNGE 1:3',
    'FETCH 1:* UID',
    'CLOSE',
    'STATUS INBOX (MESSAGES UIDNEXT UNSEEN)',
  ]);
});

test('COPY and MOVE with UIDPLUS; the mailboxes counted with STATUS', async () => {
  await compare(['SELECT INBOX', 'COPY 1:2 Trash', 'UID COPY 3 Sent', 'COPY 1 Nowhere', 'MOVE 7 Drafts', 'UID MOVE 99 Drafts', 'UID MOVE 4:5 Trash', 'FETCH 1:* UID', 'STATUS Trash (MESSAGES UIDNEXT UNSEEN)', 'STATUS Drafts (MESSAGES UIDNEXT)', 'STATUS Sent (MESSAGES UIDNEXT)']);
});

test('mailboxes: LIST and its patterns, NAMESPACE, STATUS, CREATE, RENAME, SUBSCRIBE, DELETE', async () => {
  await compare([
    'LIST "" *',
    'LIST "" %',
    'LIST "" ""',
    'LIST "" INBOX',
    'LIST "" inbox',
    'LIST "" S*',
    'NAMESPACE',
    'STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)',
    'STATUS Sent (MESSAGES UIDNEXT UNSEEN SIZE)',
    'STATUS INBOX (SIZE)',
    'CREATE Projects',
    'CREATE Projects.Q1',
    'CREATE projects',
    'CREATE INBOX',
    'CREATE Sent',
    'CREATE Archive.',
    'LIST "" *',
    'LIST "" Projects.%',
    'LIST Projects *',
    'RENAME Projects Work',
    'RENAME Nowhere Else',
    'RENAME Work Sent',
    'LIST "" *',
    'SUBSCRIBE Work.Q1',
    'UNSUBSCRIBE Trash',
    'DELETE Work.Q1',
    'DELETE Nowhere',
    'DELETE INBOX',
    'LIST "" *',
    'CREATE "&AMk-t&AOk-"',
    'LIST "" *t*',
    'STATUS "&AMk-t&AOk-" (MESSAGES)',
  ]);
});

test('APPEND with flags and a date, then reading it back (RECENT aside: kept difference, below)', async () => {
  const message = 'Subject: draft\r\nFrom: alice@lab.test\r\n\r\nnot yet done\r\n';
  const append = `APPEND Drafts (\\Draft \\Seen) "01-Dec-2026 09:00:00 +0100" {${message.length}+}\r\n${message}`;
  await compare([append, 'STATUS Drafts (MESSAGES UIDNEXT UNSEEN)', 'EXAMINE Drafts', 'FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY.PEEK[])'], ['RECENT']);
});

test('errors: the same status (and code, where Dovecot gives one) for bad sets, items, states and names', async () => {
  await compare([
    'FETCH 1 FLAGS',
    'SELECT Nowhere',
    'SELECT INBOX',
    'FETCH 0 FLAGS',
    'FETCH 99 FLAGS',
    'UID FETCH 99 FLAGS',
    'FETCH 1 (FLAGS',
    'FETCH 1 NOTHING',
    'STORE 1 FLAGS (\\Shiny)',
    'STORE 1 +FLAGS (\\Recent)',
    'SEARCH HEADER',
    'SEARCH SINCE 31-Foo-2026',
    'COPY 1 Nowhere',
    'FROBNICATE',
    'LOGIN alice again',
    'UNSELECT',
    'FETCH 1 FLAGS',
    'CLOSE',
  ]);
});

// ---------------------------------------------------------------------------
// The differences we keep, shown on both servers (services/imap/README.md lists them).

/** The answers of both servers to the same commands, as lines. */
async function both(commands: string[]): Promise<{ ours: string[][]; theirs: string[][] }> {
  const servers = await startBoth();
  try {
    const out = { ours: [] as string[][], theirs: [] as string[][] };
    for (const [key, port] of [['ours', servers.ours.port], ['theirs', servers.dovecot.port]] as const) {
      const wire = await ImapWire.login(port);
      for (const [i, command] of commands.entries()) out[key].push(await wire.command(`k${i + 1}`, command));
      wire.destroy();
    }
    return out;
  } finally {
    await servers.stop();
  }
}

test('kept: CREATE makes the missing levels above (RFC 9051 6.3.4 SHOULD); Dovecot leaves them \\Noselect', async () => {
  const { ours, theirs } = await both(['CREATE A.B.C', 'LIST "" A*']);
  expect(ours[1]).toEqual(['* LIST (\\HasChildren) "." A', '* LIST (\\HasChildren) "." A.B', '* LIST (\\HasNoChildren) "." A.B.C', 'k2 OK LIST completed']);
  expect(theirs[1]!.slice(0, -1).sort()).toEqual(['* LIST (\\HasNoChildren) "." A.B.C', '* LIST (\\Noselect \\HasChildren) "." A', '* LIST (\\Noselect \\HasChildren) "." A.B']);
});

test('kept: DELETE of a mailbox with mailboxes inside gets NO [HASCHILDREN]; Dovecot deletes it and keeps them', async () => {
  const { ours, theirs } = await both(['CREATE A', 'CREATE A.B', 'DELETE A']);
  expect(ours[2]).toEqual(['k3 NO [HASCHILDREN] A has mailboxes inside it: delete those first']);
  expect(theirs[2]![0]).toMatch(/^k3 OK /);
});

test('kept: only mail that arrived in new/ is \\Recent; COPY, MOVE and APPEND results are not (Dovecot marks them)', async () => {
  const { ours, theirs } = await both(['SELECT INBOX', 'COPY 1 Trash', 'STATUS Trash (MESSAGES RECENT)']);
  expect(ours[2]![0]).toBe('* STATUS Trash (MESSAGES 1 RECENT 0)');
  expect(theirs[2]![0]).toBe('* STATUS Trash (MESSAGES 1 RECENT 1)');
});

test('kept: STORE and EXPUNGE in a mailbox opened with EXAMINE get NO; Dovecot answers OK and changes nothing', async () => {
  const { ours, theirs } = await both(['EXAMINE INBOX', 'STORE 1 +FLAGS (\\Seen)', 'FETCH 1 FLAGS']);
  expect(ours[1]).toEqual(['k2 NO [CANNOT] the mailbox is open read-only (EXAMINE): SELECT it to change it']);
  expect(theirs[1]![0]).toMatch(/^k2 OK /);
  expect(ours[2]![0]).toBe(theirs[2]![0]); // neither changed the flags
});

test('kept: the extended LIST forms say \\HasChildren/\\HasNoChildren and the special use unasked (RFC 5258, RFC 6154 allow it)', async () => {
  const { ours, theirs } = await both(['LIST (SUBSCRIBED) "" Sent', 'LIST "" Sent RETURN (STATUS (MESSAGES))']);
  expect(ours[0]![0]).toBe('* LIST (\\HasNoChildren \\Sent \\Subscribed) "." Sent');
  expect(theirs[0]![0]).toBe('* LIST (\\Subscribed) "." Sent');
  expect(ours[1]!.slice(0, 2)).toEqual(['* LIST (\\HasNoChildren \\Sent) "." Sent', '* STATUS Sent (MESSAGES 0)']);
  expect(theirs[1]!.slice(0, 2)).toEqual(['* LIST () "." Sent', '* STATUS Sent (MESSAGES 0)']);
});

test('kept: SEARCH CHARSET takes UTF-8 and US-ASCII (what RFC 9051 asks); Dovecot converts others too', async () => {
  const { ours, theirs } = await both(['SELECT INBOX', 'SEARCH CHARSET KOI8-R ALL']);
  expect(ours[1]).toEqual(['k2 NO [BADCHARSET (UTF-8 US-ASCII)] charset KOI8-R is not supported']);
  expect(theirs[1]![0]).toBe('* SEARCH 1 2 3 4 5 6 7');
});

test('kept: ENABLE after SELECT is BAD (RFC 5161: authenticated state only); Dovecot accepts it', async () => {
  const { ours, theirs } = await both(['SELECT INBOX', 'ENABLE IMAP4rev2']);
  expect(ours[1]![0]).toMatch(/^k2 BAD ENABLE is only allowed in the authenticated state/);
  expect(theirs[1]![theirs[1]!.length - 1]).toMatch(/^k2 OK /);
});

test('kept: APPEND to a missing mailbox reads the message, then NO [TRYCREATE]; Dovecot refuses before its "+"', async () => {
  const servers = await startBoth();
  try {
    for (const [port, continued] of [[servers.ours.port, true], [servers.dovecot.port, false]] as const) {
      const wire = await ImapWire.login(port);
      wire.write('a1 APPEND Nowhere {2}\r\n');
      const first = await wire.response();
      if (continued) {
        expect(first).toBe('+ Ready for 2 octets');
        wire.write('hi\r\n');
        expect(await wire.response()).toMatch(/^a1 NO \[TRYCREATE\]/);
      } else expect(first).toMatch(/^a1 NO \[TRYCREATE\]/);
      wire.destroy();
    }
  } finally {
    await servers.stop();
  }
});
