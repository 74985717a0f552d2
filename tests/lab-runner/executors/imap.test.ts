/**
 * The `imap:` executor against real servers: the lab's IMAP server (standing alone on
 * a free port, as `--target imap=...`, and in the embedded lab) and Debian's Dovecot.
 * What the executor reports is checked with another client, Python's imaplib; what it
 * records is checked against the bytes a TCP relay between it and the server saw.
 */
import net from 'node:net';
import { existsSync } from 'node:fs';
import type { ImapOutput } from '../../../lab-runner/executors/imap';
import type { ScenarioResult } from '../../../lab-runner/result';
import { runScenario } from '../../../lab-runner/run';
import { parseScenario } from '../../../lab-runner/scenario/load';
import { eventBytes, type WireEvent } from '../../../lab-runner/wire';
import { problems, startLab } from '../../helpers/lab';
import { listenTcp } from '../../helpers/socket';
import { imaplib, message, pw, startImap, useCertificate, type RunningImap } from '../../services/imap/clients';
import { DOVECOT, startDovecot, type RunningDovecot } from '../../services/imap/dovecot';

type Lab = Awaited<ReturnType<typeof startLab>>;

/** A TCP relay on 127.0.0.1 to `port`: what went each way, byte for byte. */
async function relay(port: number): Promise<{ port: number; up: Buffer[]; down: Buffer[]; close(): Promise<void> }> {
  const up: Buffer[] = [];
  const down: Buffer[] = [];
  const peer = await listenTcp((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    upstream.on('error', () => client.destroy());
    client.on('data', (d: Buffer) => (up.push(d), upstream.write(d)));
    upstream.on('data', (d: Buffer) => (down.push(d), client.write(d)));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.end());
  });
  return { port: peer.port, up, down, close: () => peer.close() };
}

/** Run scenario steps (YAML) on a lab; every step must pass. */
async function steps(lab: Lab, yaml: string): Promise<ScenarioResult> {
  const result = await runScenario(parseScenario(`title: imap executor\nsteps:\n${yaml}`, 'imap.yaml'), lab.backend);
  expect(problems(result)).toEqual([]);
  return result;
}

const outputOf = (result: ScenarioResult, i: number): ImapOutput => result.steps[i]!.output as ImapOutput;
const imapEvents = (events: WireEvent[]): WireEvent[] => events.filter((e) => e.protocol === 'imap' && (e.kind === 'send' || e.kind === 'recv'));

describe('on the lab server, as --target imap', () => {
  let imap: RunningImap;
  let lab: Lab;
  let wire: Awaited<ReturnType<typeof relay>>;
  const bob = `user: bob, password: ${pw('bob')}`;
  beforeAll(async () => {
    imap = await startImap();
    wire = await relay(imap.port);
    lab = await startLab({ targets: { imap: { host: '127.0.0.1', port: wire.port } } });
  });
  afterAll(async () => {
    await lab?.stop();
    await wire?.close();
    await imap?.stop();
  });

  test('the transcript is what crossed the wire: every command, every response, one event each', async () => {
    // A body with lines that look like responses: only the literal's count says where it ends.
    await imap.deliver('bob', message('Tricky', 'a3 OK this is not the end\r\n* 7 EXISTS\r\n{99}\r\nthe end'));
    wire.up.length = wire.down.length = 0;
    const result = await steps(
      lab,
      `  - name: a session
    imap:
      user: bob
      password: ${pw('bob')}
      actions:
        - list: "*"
        - select: INBOX
        - fetch: { search: SUBJECT Tricky, items: [uid, flags, body] }
        - append: { mailbox: Drafts, from: bob@lab.test, to: alice@lab.test, subject: Later, body: "one\\ntwo" }
        - idle: { for: 200ms }
`,
    );
    const events = imapEvents(result.steps[0]!.transcript);
    const sent = events.filter((e) => e.kind === 'send');
    const received = events.filter((e) => e.kind === 'recv');
    expect(Buffer.concat(sent.map(eventBytes)).equals(Buffer.concat(wire.up))).toBe(true);
    expect(Buffer.concat(received.map(eventBytes)).equals(Buffer.concat(wire.down))).toBe(true);
    // One response per event: each ends its last line, and starts with *, + or a tag the client used.
    const output = outputOf(result, 0);
    const tags = output.commands.map((c) => c.tag);
    for (const e of received) {
      expect(e.text).toMatch(/\r\n$/);
      expect(e.text!.split(' ')[0]).toMatch(new RegExp(`^(\\*|\\+|${tags.join('|')})$`));
    }
    expect(received.filter((e) => tags.includes(e.text!.split(' ')[0]!))).toHaveLength(tags.length);
    expect(output.commands.map((c) => c.command.split(' ')[0])).toEqual(['LOGIN', 'LIST', 'SELECT', 'UID', 'UID', 'APPEND', 'IDLE', 'LOGOUT']);
    // The login in clear is in the transcript, password and all: the lesson of port 143 without TLS.
    expect(sent[0]!.text).toBe(`a1 LOGIN bob ${pw('bob')}\r\n`);
    // The body came whole, lines that look like responses included.
    expect(output.results[2]!.message!.text).toBe('a3 OK this is not the end\r\n* 7 EXISTS\r\n{99}\r\nthe end\r\n');
    // APPEND waited for the server's "+" before sending the message.
    const append = sent.findIndex((e) => /^a\d+ APPEND Drafts \{\d+\}\r\n$/.test(e.text!));
    expect(received.some((e) => e.text!.startsWith('+ ') && e.at >= sent[append]!.at && e.at <= sent[append + 1]!.at)).toBe(true);
    expect(output.results[4]).toMatchObject({ ok: true, idle: { ended: 'timeout', pushed: [] } });
  });

  test('BODY.PEEK leaves \\Seen alone, BODY[] sets it, STORE adds \\Flagged: imaplib sees the same flags', async () => {
    await imap.deliver('bob', message('Flags'));
    const flags = async (): Promise<unknown> => {
      const got = await imaplib(imap.port, `M = imaplib.IMAP4('127.0.0.1', port)\nM.login('bob', '${pw('bob')}')\nM.select('INBOX', readonly=True)\nt, ids = M.search(None, 'SUBJECT', 'Flags')\nout('flags', M.fetch(ids[0], '(FLAGS)')[1])`);
      return got[0]![1];
    };
    const peek = await steps(lab, `  - name: peek\n    imap: { ${bob}, actions: [{ select: INBOX }, { fetch: { search: SUBJECT Flags, items: [uid, flags, body], peek: true } }] }\n`);
    expect(outputOf(peek, 0).message!.flags).not.toContain('\\Seen');
    expect(JSON.stringify(await flags())).not.toContain('\\\\Seen');
    const read = await steps(lab, `  - name: read\n    imap: { ${bob}, actions: [{ select: INBOX }, { fetch: { search: SUBJECT Flags, items: [uid, body] } }, { store: { search: SUBJECT Flags, flags: ["\\\\Flagged"] } }] }\n`);
    expect(outputOf(read, 0).results[1]!.message!.flags).toContain('\\Seen');
    expect(outputOf(read, 0).results[2]!.message!.flags).toEqual(expect.arrayContaining(['\\Seen', '\\Flagged']));
    expect(JSON.stringify(await flags())).toMatch(/\\\\Flagged.*\\\\Seen|\\\\Seen.*\\\\Flagged/);
  });

  test('APPEND: the message and the UID the server gave it, as imaplib finds them', async () => {
    const result = await steps(lab, `  - name: append\n    imap: { ${bob}, actions: [{ append: { mailbox: Sent, flags: ["\\\\Seen"], from: bob@lab.test, to: carol@example.test, subject: Sent copy, body: hello } }] }\n`);
    const { appendUid, messageId } = outputOf(result, 0).results[0]!;
    expect(appendUid).toBeGreaterThan(0);
    const got = await imaplib(imap.port, `M = imaplib.IMAP4('127.0.0.1', port)\nM.login('bob', '${pw('bob')}')\nM.select('Sent', readonly=True)\nout('fetch', M.uid('FETCH', '${appendUid}', '(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID SUBJECT)])')[1])`);
    const text = JSON.stringify(got[0]![1]);
    expect(text).toContain(`Message-ID: ${messageId}`);
    expect(text).toContain('Subject: Sent copy');
    expect(text).toContain('\\\\Seen');
  });

  test('a mailbox name beyond ASCII travels in modified UTF-7 and comes back as it was written', async () => {
    const result = await steps(lab, `  - name: utf7\n    imap: { ${bob}, actions: [{ create: Entwürfe }, { list: "Entw*" }] }\n`);
    expect(outputOf(result, 0).commands.map((c) => c.command)).toContain('CREATE Entw&APw-rfe');
    expect(outputOf(result, 0).mailboxes).toEqual([{ name: 'Entwürfe', delimiter: '.', attributes: ['\\HasNoChildren'] }]);
    const got = await imaplib(imap.port, `M = imaplib.IMAP4('127.0.0.1', port)\nM.login('bob', '${pw('bob')}')\nout('list', M.list('""', 'Entw*')[1])`);
    expect(got[0]![1]).toEqual(['(\\HasNoChildren) "." Entw&APw-rfe']);
  });

  test('a refused command does not end the session: its result says NO and why, the next action runs', async () => {
    const result = await steps(lab, `  - name: refused\n    imap: { ${bob}, actions: [{ select: Nowhere }, { fetch: { set: "1" } }, { list: INBOX }] }\n`);
    const [select, fetch, list] = outputOf(result, 0).results;
    expect(select).toMatchObject({ ok: false, status: 'NO', code: 'NONEXISTENT' });
    expect(select!.mailbox).toBeUndefined();
    expect(fetch).toMatchObject({ ok: false, status: 'BAD' });
    expect(list).toMatchObject({ ok: true, mailboxes: [{ name: 'INBOX' }] });
    expect(outputOf(result, 0).mailbox).toBeUndefined();
  });

  test('UID EXPUNGE removes the UIDs named and leaves another \\Deleted message; the mailbox view follows', async () => {
    await imap.deliver('bob', message('Keep me marked'));
    await imap.deliver('bob', message('Remove me'));
    const result = await steps(
      lab,
      `  - name: expunge
    imap:
      user: bob
      password: ${pw('bob')}
      actions:
        - select: INBOX
        - store: { search: SUBJECT "Keep me marked", flags: ["\\\\Deleted"] }
        - store: { search: SUBJECT "Remove me", flags: ["\\\\Deleted"], silent: true }
        - expunge: { search: SUBJECT "Remove me" }
`,
    );
    const output = outputOf(result, 0);
    expect(output.results[2]!.messages).toEqual([]); // .SILENT: no FETCH back
    expect(output.results[3]!.expunged).toHaveLength(1);
    expect(output.mailbox!.exists).toBe(output.results[0]!.mailbox!.exists! - 1);
    const got = await imaplib(imap.port, `M = imaplib.IMAP4('127.0.0.1', port)\nM.login('bob', '${pw('bob')}')\nM.select('INBOX', readonly=True)\nout('kept', M.search(None, 'DELETED SUBJECT "Keep me marked"')[1])\nout('gone', M.search(None, 'SUBJECT "Remove me"')[1])`);
    expect(got).toEqual([['kept', [expect.stringMatching(/^\d+$/)]], ['gone', ['']]]);
  });

  test('after ENABLE IMAP4rev2 the server answers SEARCH with ESEARCH, and a fetch by search still finds', async () => {
    await imap.deliver('bob', message('Extended'));
    const result = await steps(lab, `  - name: esearch\n    imap: { ${bob}, actions: [{ command: ENABLE IMAP4rev2 }, { select: INBOX }, { fetch: { search: SUBJECT Extended, items: [uid, envelope] } }] }\n`);
    const fetch = outputOf(result, 0).results[2]!;
    expect(fetch.untagged[0]!.type).toBe('ESEARCH');
    expect(fetch.message!.envelope!.subject).toBe('Extended');
  });

  test('starttls: a server that offers no STARTTLS: true goes on in clear; required says LOGOUT and sends no password', async () => {
    const result = await runScenario(
      parseScenario(
        `title: no STARTTLS here
steps:
  - name: "true"
    imap: { user: bob, password: ${pw('bob')}, starttls: true }
    expect: { loggedIn: true, starttls.offered: false, starttls.secure: false }
  - name: required
    imap: { user: bob, password: ${pw('bob')}, starttls: required }
`,
        'no-starttls.yaml',
      ),
      lab.backend,
    );
    expect(result.steps.map((s) => s.status)).toEqual(['passed', 'error']);
    const refused = result.steps[1]!;
    expect(refused.error).toMatch(/^mail\.lab\.test:143 does not offer STARTTLS: this client requires TLS, so it said LOGOUT and sent nothing more in clear$/);
    expect(refused.output).toMatchObject({ tls: { authorized: false, error: 'ETLS', message: 'STARTTLS not offered' } });
    expect(imapEvents(refused.transcript).filter((e) => e.kind === 'send').map((e) => e.summary)).toEqual(['a1 LOGOUT']);
  });

  test('AUTHENTICATE PLAIN: the password in base64 in the command (SASL-IR)', async () => {
    const result = await steps(lab, `  - name: plain\n    imap: { ${bob}, mechanism: PLAIN }\n`);
    expect(outputOf(result, 0)).toMatchObject({ loggedIn: true, login: { status: 'OK', mechanism: 'PLAIN' } });
    const b64 = Buffer.from(`\0bob\0${pw('bob')}`).toString('base64');
    expect(outputOf(result, 0).commands[0]!.command).toBe(`AUTHENTICATE PLAIN ${b64}`);
  });
});

describe('a server that takes no password in clear', () => {
  const certificate = useCertificate();
  let imap: RunningImap;
  let lab: Lab;
  beforeAll(async () => {
    imap = await startImap({ tls: certificate().tls });
    lab = await startLab({ targets: { imap: { host: '127.0.0.1', port: imap.port } } });
  });
  afterAll(async () => {
    await lab?.stop();
    await imap?.stop();
  });

  test('LOGINDISABLED: the executor does not send the password (RFC 9051 6.2.3); a raw LOGIN gets NO [PRIVACYREQUIRED]', async () => {
    const result = await steps(
      lab,
      `  - name: managed login
    imap: { user: bob, password: ${pw('bob')}, actions: [{ list: "*" }] }
    expect: { loggedIn: false, capabilities: { contains: LOGINDISABLED }, results: { length: 0 } }
  - name: typed by hand
    imap: { actions: [{ command: LOGIN bob ${pw('bob')} }] }
    expect:
      results[0].status: NO
      results[0].code: PRIVACYREQUIRED
`,
    );
    expect(outputOf(result, 0).login).toBeUndefined();
    const sent = imapEvents(result.steps[0]!.transcript).filter((e) => e.kind === 'send');
    expect(sent.map((e) => e.text)).toEqual(['a1 LOGOUT\r\n']);
    expect(result.steps[0]!.transcript.some((e) => e.kind === 'note' && /LOGINDISABLED/.test(e.summary))).toBe(true);
  });

  test('starttls: LOGINDISABLED in clear, AUTH=PLAIN inside TLS: the login goes through, encrypted', async () => {
    const result = await steps(
      lab,
      `  - name: STARTTLS first
    imap: { user: bob, password: ${pw('bob')}, starttls: required, tls: { ca: ${JSON.stringify(certificate().certFile)}, servername: localhost }, actions: [{ examine: INBOX }] }
    expect:
      starttls: { offered: true, secure: true, capabilities: { contains: LOGINDISABLED } }
      loggedIn: true
      tls.authorized: true
`,
    );
    const events = result.steps[0]!.transcript;
    // Asked again inside TLS (RFC 9051 6.2.1): now the server takes a password.
    expect(events.find((e) => e.kind === 'recv' && e.summary.startsWith('* CAPABILITY'))).toMatchObject({ encrypted: true, text: expect.stringContaining(' AUTH=PLAIN ') });
    expect(events.find((e) => e.summary.startsWith('a3 LOGIN'))).toMatchObject({ kind: 'send', encrypted: true });
  });
});

describe('a server that greets with PREAUTH (RFC 9051 7.1.4: logged in already, by the connection itself)', () => {
  let peer: Awaited<ReturnType<typeof listenTcp>>;
  let lab: Lab;
  const heard: string[] = [];
  beforeAll(async () => {
    // A server of the kind that logs a client in by its connection (a local socket, a tunnel): it even lists STARTTLS.
    peer = await listenTcp((socket) => {
      socket.write('* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] logged in as bob\r\n');
      socket.on('data', (d: Buffer) => {
        for (const line of d.toString('latin1').split('\r\n').filter(Boolean)) {
          heard.push(line);
          const [tag, verb] = line.split(' ');
          if (verb === 'LOGOUT') socket.end(`* BYE logging out\r\n${tag} OK LOGOUT completed\r\n`);
          else socket.write(`${tag} BAD not here\r\n`);
        }
      });
    });
    lab = await startLab({ targets: { imap: { host: '127.0.0.1', port: peer.port } } });
  });
  afterAll(async () => {
    await lab?.stop();
    await peer?.close();
  });

  test('starttls: required stops: after PREAUTH, STARTTLS is too late (RFC 9051 6.2.1), so nothing is sent but LOGOUT', async () => {
    const result = await runScenario(parseScenario('title: preauth\nsteps:\n  - name: required\n    imap: { user: bob, password: bob, starttls: required }\n', 'preauth.yaml'), lab.backend);
    expect(result.steps[0]!.error).toMatch(/does not offer STARTTLS: this client requires TLS, so it said LOGOUT/);
    expect(heard).toEqual(['a1 LOGOUT']);
  });
});

describe('on the embedded lab: IDLE while another program acts on the mailbox', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await startLab();
  });
  afterAll(() => lab?.stop());

  test('POP3 deletes the message during IDLE: the server pushes * n EXPUNGE', async () => {
    const result = await steps(
      lab,
      `  - name: send
    smtp: { port: 25, from: carol@example.test, to: alice@lab.test, subject: Soon gone, body: x }
  - name: idle while POP3 deletes it
    imap:
      user: alice
      password: alice
      actions:
        - select: INBOX
        - idle: { for: 4s, until: [EXPUNGE], while: { pop3: { user: alice, password: alice, retrieve: all, delete: retrieved } } }
    timeout: 10s
    expect:
      results[1].pop3.deleted: { length: 1 }
      results[1].idle.ended: news
      results[1].idle.pushed: { contains: { type: EXPUNGE } }
`,
    );
    expect(outputOf(result, 1).mailbox!.exists).toBe(outputOf(result, 1).results[0]!.mailbox!.exists! - 1);
  });

  test('an action of the while that fails is its result, not the step\'s end', async () => {
    const result = await steps(
      lab,
      `  - name: idle while sending to nowhere
    imap:
      user: alice
      password: alice
      actions:
        - select: INBOX
        - idle: { for: 300ms, while: { smtp: { host: mail.lab.test, port: 2, from: a@lab.test, to: alice@lab.test } } }
    expect:
      results[1].ok: true
      results[1].idle.ended: timeout
      results[1].smtp.code: ENOTLAB
`,
    );
    expect(outputOf(result, 0).results[1]!.smtp).toMatchObject({ error: expect.stringContaining('port 2') });
  });
});

/** The same steps pass on the lab's server and on Dovecot: the executor speaks IMAP, not one server's dialect. */
const describeDovecot = existsSync(DOVECOT) ? describe : describe.skip;
describeDovecot('on Dovecot (Debian dovecot-imapd), as --target imap', () => {
  const SCENARIO = `  - name: keep a copy in Sent
    imap:
      user: bob
      password: BOBPW
      actions:
        - append: { mailbox: Sent, flags: ["\\\\Seen"], from: bob@lab.test, to: carol@example.test, subject: "Grüße, carol", body: "hello\\nagain" }
    expect:
      loggedIn: true
      results[0].ok: true
      results[0].appendUid: { gte: 1 }
    save: { uid: "results[0].appendUid" }
  - name: read it, flag it, file it away, idle a moment
    imap:
      user: bob
      password: BOBPW
      actions:
        - list: "*"
        - select: Sent
        - fetch: { uid: "\${uid}", items: [uid, flags, envelope, size, bodystructure, body], peek: true }
        - store: { uid: "\${uid}", flags: ["\\\\Flagged"] }
        - create: Archive
        - move: { search: SUBJECT carol, to: Archive }
        - status: { mailbox: Archive, items: [MESSAGES] }
        - idle: { for: 300ms }
    expect:
      mailboxes: { contains: { name: Sent, attributes: { contains: "\\\\Sent" } } }
      results[1].mailbox.uidvalidity: { gte: 1 }
      results[2].message.envelope.subject: "Grüße, carol"
      results[2].message.envelope.to[0].address: carol@example.test
      results[2].message.bodystructure.type: text/plain
      results[2].message.text: "hello\\r\\nagain"
      results[2].message.flags: { contains: "\\\\Seen", not: { contains: "\\\\Flagged" } }
      results[3].message.flags: { contains: "\\\\Flagged" }
      results[5].ok: true
      results[5].copyUid.from: ["\${uid}"]
      results[5].expunged: { length: 1 }
      results[6].counts.MESSAGES: { gte: 1 }
      results[7].idle.ended: timeout
      logout.status: OK
`;
  let dovecot: RunningDovecot;
  let ours: RunningImap;
  let onDovecot: Lab;
  let onOurs: Lab;
  beforeAll(async () => {
    ours = await startImap();
    const maildir = ours.maildir('bob');
    await maildir.create();
    dovecot = await startDovecot(maildir.dir, 'bob', pw('bob')); // a copy of bob's empty Maildir: the two are apart from here
    onDovecot = await startLab({ targets: { imap: { host: '127.0.0.1', port: dovecot.port } } });
    onOurs = await startLab({ targets: { imap: { host: '127.0.0.1', port: ours.port } } });
  }, 60000);
  afterAll(async () => {
    await Promise.all([onDovecot?.stop(), onOurs?.stop()]);
    await Promise.all([dovecot?.stop(), ours?.stop()]);
  });

  test.each(['Dovecot', 'the lab server'])('%s: append, list, select, fetch, store, create, move, status, idle', async (which) => {
    const lab = which === 'Dovecot' ? onDovecot : onOurs;
    const result = await steps(lab, SCENARIO.replace(/BOBPW/g, pw('bob')));
    const fetched = outputOf(result, 1).results[2]!.message!;
    expect(fetched.size).toBe(Buffer.byteLength(fetched.body!));
  });
});
