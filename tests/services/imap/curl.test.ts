/**
 * curl as an IMAP client (RFC 5092 URLs): `imap://host/` lists the mailboxes,
 * `imap://host/INBOX;UID=1` fetches a message, `;SECTION=` a part, `-X` sends any
 * command. What a student types to see that mail is just text on a socket.
 */
import { curl, message, pw, startImap, type RunningImap } from './clients';

let imap: RunningImap;
afterEach(async () => {
  await imap?.stop();
});

const user = `alice:${pw('alice')}`;

test('imap://host/ lists the mailboxes, with their special use', async () => {
  imap = await startImap();
  const result = await curl('--user', user, `imap://127.0.0.1:${imap.port}/`);
  expect(result.stderr).toBe('');
  expect(result.stdout).toBe(
    ['* LIST (\\HasNoChildren) "." INBOX', '* LIST (\\HasNoChildren \\Drafts) "." Drafts', '* LIST (\\HasNoChildren \\Sent) "." Sent', '* LIST (\\HasNoChildren \\Trash) "." Trash', ''].join('\r\n'),
  );
});

test('imap://host/INBOX;UID=n fetches a message by UID, ;SECTION= one part of it', async () => {
  imap = await startImap();
  const text = message('for curl', 'Fetched by UID.');
  await imap.deliver('alice', message('first'));
  await imap.deliver('alice', text);
  const whole = await curl('--user', user, `imap://127.0.0.1:${imap.port}/INBOX;UID=2`);
  expect(whole.stdout).toBe(text);
  const header = await curl('--user', user, `imap://127.0.0.1:${imap.port}/INBOX;UID=2;SECTION=HEADER.FIELDS%20(SUBJECT)`);
  expect(header.stdout).toBe('Subject: for curl\r\n\r\n');
  const missing = await curl('--user', user, `imap://127.0.0.1:${imap.port}/INBOX;UID=9`);
  expect(missing.code).not.toBe(0); // nothing to fetch: curl reports it
  // curl fetches with BODY[] (not PEEK): the message is now \Seen.
  await imap.logged(/ info command .*verb="UID FETCH" args="2 BODY\[\]"/);
});

test('-X sends any command: SEARCH, STATUS, EXAMINE, CREATE', async () => {
  imap = await startImap();
  await imap.deliver('alice', message('needle', 'in a haystack'));
  await imap.deliver('alice', message('hay'));
  const base = `imap://127.0.0.1:${imap.port}`;
  expect((await curl('--user', user, '-X', 'SEARCH BODY haystack', `${base}/INBOX`)).stdout).toBe('* SEARCH 1\r\n');
  expect((await curl('--user', user, '-X', 'STATUS INBOX (MESSAGES UNSEEN)', `${base}/`)).stdout).toBe('* STATUS INBOX (MESSAGES 2 UNSEEN 2)\r\n');
  expect((await curl('--user', user, '-X', 'EXAMINE INBOX', `${base}/`)).stdout).toMatch(/^\* FLAGS \(.*\* 2 EXISTS\r\n.*\* OK \[UIDNEXT 3\] predicted next UID\r\n$/s);
  expect((await curl('--user', user, '-X', 'CREATE Projects', `${base}/`)).code).toBe(0);
  expect((await curl('--user', user, `${base}/`)).stdout).toContain('* LIST (\\HasNoChildren) "." Projects\r\n');
  const refused = await curl('--user', user, '-X', 'CREATE Projects', `${base}/`);
  expect(refused.code).not.toBe(0);
  expect(refused.stderr).toMatch(/Quote command returned error|CREATE/);
});

test('a wrong password: curl says the login was denied', async () => {
  imap = await startImap();
  const result = await curl('--user', 'alice:wrong', `imap://127.0.0.1:${imap.port}/`);
  expect(result.code).toBe(67); // CURLE_LOGIN_DENIED
});
