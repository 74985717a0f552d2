/**
 * The Maildir both SMTP and the mailbox servers use: a small message is read
 * synchronously and a big one through the thread pool, the same bytes either way; the
 * folders are made when a delivery finds them missing, not checked at every delivery.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Maildir, SYNC_READ_BYTES } from '../../../services/common/maildir';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'wirelab-maildir-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('Maildir.read(): a message up to SYNC_READ_BYTES and one over it come back byte for byte', async () => {
  const maildir = new Maildir(dir);
  for (const size of [0, 1000, SYNC_READ_BYTES, SYNC_READ_BYTES + 1, 3 * SYNC_READ_BYTES]) {
    const bytes = Buffer.alloc(size, size % 251);
    const unique = await maildir.deliver(bytes);
    const [stored] = (await maildir.list()).filter((m) => m.uid === unique);
    expect((await maildir.read(stored!)).equals(bytes)).toBe(true);
  }
  await expect(maildir.read({ uid: 'gone', file: 'new/gone', size: 0 })).rejects.toMatchObject({ code: 'ENOENT' });
});

test('deliver() makes the folders it finds missing: none at all, or new/ alone gone', async () => {
  const maildir = new Maildir(path.join(dir, 'Maildir'));
  const first = await maildir.deliver(Buffer.from('Subject: first\r\n\r\n'));
  expect((await readdir(maildir.dir)).sort()).toEqual(['cur', 'new', 'tmp']);
  await rm(path.join(maildir.dir, 'new'), { recursive: true });
  const second = await maildir.deliver(Buffer.from('Subject: second\r\n\r\n'));
  expect(await readdir(path.join(maildir.dir, 'new'))).toEqual([second]);
  expect(first).not.toBe(second);
  expect(await readdir(path.join(maildir.dir, 'tmp'))).toEqual([]);
});
