/**
 * The IMAP server driven by imapflow, a full mail-client library (what the runner's
 * imap executor uses): STARTTLS and login, IDLE woken by mail the real SMTP server
 * delivers, ENVELOPE and BODYSTRUCTURE of a multipart message and a part downloaded by
 * number, APPEND, MOVE, special-use folders and STATUS.
 */
import { ImapFlow } from 'imapflow';
import { startSmtp, swaks } from '../smtp/harness';
import { message, pw, startImap, useCertificate, type RunningImap } from './clients';
import { within } from '../../helpers/wait';

const certificate = useCertificate();

let imap: RunningImap;
let client: ImapFlow | undefined;
afterEach(async () => {
  await client?.logout().catch(() => {});
  client = undefined;
  await imap?.stop();
});

/** imapflow over STARTTLS, trusting the test certificate, as alice. */
async function connect(port: number): Promise<ImapFlow> {
  const c = new ImapFlow({ host: '127.0.0.1', port, secure: false, tls: { ca: certificate().cert, servername: 'localhost' }, auth: { user: 'alice', pass: pw('alice') }, logger: false, disableAutoIdle: true });
  await c.connect();
  return c;
}

/** Resolve at the next `event` of the client, or fail naming it after the deadline. */
function nextEvent<T>(c: ImapFlow, event: string): Promise<T> {
  return within(new Promise<T>((resolve) => c.once(event, resolve)), `imapflow's '${event}' event`);
}

const MULTIPART = [
  'From: Carol <carol@example.test>',
  'To: Alice <alice@lab.test>, "Bob B." <bob@lab.test>',
  'Subject: Holiday pictures',
  'Date: Thu, 03 Dec 2026 10:00:00 +0000',
  'Message-ID: <pics@example.test>',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="outer"',
  '',
  'This is a MIME message.',
  '--outer',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  'Gr=C3=BC=C3=9Fe from the beach.',
  '--outer',
  'Content-Type: image/png; name="sun.png"',
  'Content-Transfer-Encoding: base64',
  'Content-Disposition: attachment; filename="sun.png"',
  '',
  Buffer.from('\x89PNG fake image bytes', 'latin1').toString('base64'),
  '--outer--',
  '',
].join('\r\n');

test('IDLE: a message the real SMTP server delivers is pushed as EXISTS while the client idles', async () => {
  imap = await startImap({ tls: certificate().tls });
  const smtp = await startSmtp({}, imap.dataDir);
  try {
    client = await connect(imap.port);
    await imap.logged(/ info tls started /); // imapflow saw STARTTLS offered, and upgraded before LOGIN
    const mailbox = await client.mailboxOpen('INBOX');
    expect(mailbox.exists).toBe(0);
    const exists = nextEvent<{ path: string; count: number; prevCount: number }>(client, 'exists');
    const idling = client.idle();
    const sent = await swaks(smtp.smtp, '--to', 'alice@lab.test', '--from', 'carol@example.test', '--header', 'Subject: while you idle');
    expect(sent.stdout).toMatch(/<- {2}250 2\.0\.0 Ok: delivered as/);
    expect(await exists).toEqual({ path: 'INBOX', count: 1, prevCount: 0 });
    const fetched = await client.fetchOne('1', { envelope: true, flags: true });
    await idling;
    expect(fetched && fetched.envelope?.subject).toBe('while you idle');
  } finally {
    await smtp.stop();
  }
});

test('FETCH ENVELOPE and BODYSTRUCTURE of a multipart message, and one part downloaded and decoded', async () => {
  imap = await startImap({ tls: certificate().tls });
  await imap.deliver('alice', MULTIPART);
  client = await connect(imap.port);
  await client.mailboxOpen('INBOX');
  const m = await client.fetchOne('1', { envelope: true, bodyStructure: true, size: true, uid: true, flags: true });
  if (!m) throw new Error('no message 1');
  expect(m.uid).toBe(1);
  expect(m.size).toBe(Buffer.byteLength(MULTIPART));
  expect(m.envelope).toMatchObject({
    subject: 'Holiday pictures',
    messageId: '<pics@example.test>',
    from: [{ name: 'Carol', address: 'carol@example.test' }],
    to: [
      { name: 'Alice', address: 'alice@lab.test' },
      { name: 'Bob B.', address: 'bob@lab.test' },
    ],
  });
  expect(m.bodyStructure).toMatchObject({
    type: 'multipart/mixed',
    parameters: { boundary: 'outer' },
    childNodes: [
      // Its one line has no line end of its own (the CRLF before the boundary belongs to the boundary): 0 lines, as Dovecot counts.
      { part: '1', type: 'text/plain', parameters: { charset: 'utf-8' }, encoding: 'quoted-printable', lineCount: 0 },
      { part: '2', type: 'image/png', encoding: 'base64', disposition: 'attachment', dispositionParameters: { filename: 'sun.png' } },
    ],
  });
  const text = await client.download('1', '1');
  const chunks: Buffer[] = [];
  for await (const chunk of text.content!) chunks.push(chunk as Buffer);
  expect(Buffer.concat(chunks).toString('utf8')).toBe('Grüße from the beach.');
  const image = await client.download('1', '2');
  const bytes: Buffer[] = [];
  for await (const chunk of image.content!) bytes.push(chunk as Buffer);
  expect(Buffer.concat(bytes).toString('latin1')).toBe('\x89PNG fake image bytes');
  // BODY.PEEK: downloading did not mark the message read. (imapflow enables IMAP4rev2: no \Recent either.)
  const after = await client.fetchOne('1', { flags: true });
  expect(after && [...after.flags!]).toEqual([]);
  await imap.logged(/ info command .*verb=ENABLE args=IMAP4REV2 reply="OK/);
});

test('APPEND to Drafts, MOVE to Trash (with the UIDs UIDPLUS tells), special-use folders, STATUS', async () => {
  imap = await startImap({ tls: certificate().tls });
  await imap.deliver('alice', message('move me'));
  await imap.deliver('alice', message('keep me'));
  client = await connect(imap.port);
  const folders = await client.list();
  expect(folders.map((f) => [f.path, f.specialUse ?? null]).sort()).toEqual([
    ['Drafts', '\\Drafts'],
    ['INBOX', '\\Inbox'],
    ['Sent', '\\Sent'],
    ['Trash', '\\Trash'],
  ]);
  const appended = await client.append('Drafts', message('a draft'), ['\\Draft', '\\Seen'], new Date('2026-12-01T08:00:00Z'));
  expect(appended).toMatchObject({ destination: 'Drafts', uid: 1 });
  await client.mailboxOpen('INBOX');
  const moved = await client.messageMove('1', 'Trash', { uid: true });
  expect(moved).toMatchObject({ destination: 'Trash' });
  expect(moved && [...moved.uidMap!]).toEqual([[1, 1]]);
  expect(await client.status('Trash', { messages: true, uidNext: true })).toMatchObject({ messages: 1, uidNext: 2 });
  expect(await client.status('Drafts', { messages: true, unseen: true })).toMatchObject({ messages: 1, unseen: 0 });
  const left = await client.fetchAll('1:*', { envelope: true, uid: true });
  expect(left.map((m) => [m.uid, m.envelope?.subject])).toEqual([[2, 'keep me']]);
  await client.mailboxOpen('Drafts');
  const draft = await client.fetchOne('1', { flags: true, internalDate: true });
  expect(draft && [...draft.flags!].sort()).toEqual(['\\Draft', '\\Seen']);
  expect(draft && new Date(draft.internalDate!).toISOString()).toBe('2026-12-01T08:00:00.000Z');
});
