/**
 * The envelope's pure parts (quoted local parts, parameters) and the aliases of
 * lab/aliases.yaml: what the lab ships, and how a broken file is reported.
 */
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadUsers } from '../../../services/common/users';
import { loadAliases } from '../../../services/smtp/aliases';
import { LocalMailboxes } from '../../../services/smtp/delivery';
import { canonicalLocalPart, isBarePostmaster, unknownParameter, unquoteLocalPart } from '../../../services/smtp/envelope';
import { LAB_DIR } from '../../helpers/paths';
import { startSmtp, swaks, tempDir } from './harness';

describe('quoted local parts', () => {
  test('quotes only where needed: "bob" is bob, "john smith" stays quoted, with \\" and \\\\ escaped', () => {
    expect(canonicalLocalPart('bob')).toBe('bob');
    expect(canonicalLocalPart('first.last+tag')).toBe('first.last+tag');
    expect(canonicalLocalPart('john smith')).toBe('"john smith"');
    expect(canonicalLocalPart('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(canonicalLocalPart('.dot')).toBe('".dot"');
    expect(canonicalLocalPart('')).toBe('""');
  });

  test('the line for smtp-server: unquoted when it can be, else a stand-in and the local part to put back', () => {
    expect(unquoteLocalPart('MAIL FROM:<bob@lab.test>')).toBeUndefined();
    expect(unquoteLocalPart('RCPT TO:<"bob"@lab.test> FOO=1')).toEqual({ line: 'RCPT TO:<bob@lab.test> FOO=1' });
    expect(unquoteLocalPart('MAIL FROM: <"john smith"@example.test> SIZE=10')).toEqual({ line: 'MAIL FROM: <quoted@example.test> SIZE=10', local: '"john smith"' });
    expect(unquoteLocalPart('RCPT TO:<@relay.example:"bob"@lab.test>')).toEqual({ line: 'RCPT TO:<@relay.example:bob@lab.test>' });
    for (const bad of ['MAIL FROM:<"open@example.test>', 'MAIL FROM:<"a"b@example.test>', 'MAIL FROM:<"tab\there"@example.test>', 'MAIL FROM:<"bad\\\u0001"@x.test>', `MAIL FROM:<"${'x'.repeat(65)}"@x.test>`]) {
      expect(unquoteLocalPart(bad)).toHaveProperty('error');
    }
  });

  test('parameters: the first unknown one as written; the bare Postmaster', () => {
    expect(unknownParameter({ SIZE: '10', BODY: '8BITMIME' }, ['SIZE', 'BODY'])).toBeUndefined();
    expect(unknownParameter({ SIZE: '10', FOO: true }, ['SIZE'])).toBe('FOO');
    expect(unknownParameter({ NOTIFY: 'SUCCESS' }, [])).toBe('NOTIFY=SUCCESS');
    expect(unknownParameter(false, [])).toBeUndefined();
    expect([isBarePostmaster('PostMaster'), isBarePostmaster('postmaster@lab.test')]).toEqual([true, false]);
  });
});

describe('aliases', () => {
  test('the lab has a postmaster for every mail domain of users.yaml, and it reaches a real mailbox', async () => {
    const [users, aliases] = await Promise.all([loadUsers(LAB_DIR), loadAliases(LAB_DIR)]);
    for (const domain of new Set(users.map((u) => u.domain))) {
      const mailboxes = new LocalMailboxes('/nonexistent', domain, users, aliases);
      expect(mailboxes.userOf(`postmaster@${domain}`)?.domain).toBe(domain);
      expect(mailboxes.userOf('Postmaster')).toBe(mailboxes.userOf(`POSTMASTER@${domain.toUpperCase()}`));
    }
  });

  test('a broken aliases.yaml names the file and the entry at fault; no file at all is no aliases', async () => {
    const dir = await tempDir('wirelab-aliases-');
    expect((await loadAliases(dir)).size).toBe(0);
    const file = path.join(dir, 'aliases.yaml');
    await writeFile(file, 'aliases:\n  postmaster@lab.test: carol@example.test\n');
    await expect(loadAliases(dir)).rejects.toThrow(`${file}: postmaster@lab.test and carol@example.test are in different domains`);
    await writeFile(file, 'aliases:\n  postmaster: alice\n');
    await expect(loadAliases(dir)).rejects.toThrow(/is not an address/);
    await writeFile(file, 'aliases: [postmaster]\n');
    await expect(loadAliases(dir)).rejects.toThrow(/expected "aliases:"/);
    await rm(dir, { recursive: true, force: true });
  });

  test('an alias to no user of the domain stops the server from starting; a domain without postmaster is warned about', async () => {
    const users = await loadUsers(LAB_DIR);
    expect(() => new LocalMailboxes('/nonexistent', 'lab.test', users, new Map([['postmaster@lab.test', 'nobody@lab.test']]))).toThrow(
      'the alias postmaster@lab.test leads to nobody@lab.test, which is no user of lab.test',
    );
    const s = await startSmtp({ aliases: new Map() });
    try {
      await s.logs.waitFor(/ smtp warn no postmaster domain=lab\.test reason="RFC 5321 4\.5\.1/);
      // Without one, <Postmaster> is a local address nobody has: 550, not a relay refusal.
      const result = await swaks(s.smtp, '--to', 'Postmaster', '--from', 'someone@example.test');
      expect(result.stdout).toMatch(/<\*\* 550 5\.1\.1 <Postmaster>: Recipient address rejected: no such user here/);
    } finally {
      await s.stop();
      await rm(s.dataDir, { recursive: true, force: true });
    }
  });
});
