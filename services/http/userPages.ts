import { existsSync } from 'node:fs';
import path from 'node:path';
import { homeDir } from '../common/homes';
import type { Exchange } from './reply';
import { notFound, serveFile } from './static';

/**
 * `http://www.lab.test/~web/`: a lab user's public_html, the same folder the user
 * reaches over FTP and SFTP (services/common/homes.ts). Publish a page with one
 * protocol, fetch it with another. The `~user` convention comes from Apache's UserDir.
 */
export async function serveUserPage(ex: Exchange): Promise<void> {
  const name = ex.params.user ?? '';
  if (!ex.site.users.some((u) => u.name === name)) return notFound(ex);
  const root = path.join(homeDir(ex.site.dataDir, name), 'public_html');
  if (!existsSync(root)) return notFound(ex);
  // What follows /~name: '' (redirected to /~name/), '/', '/page.html'. serveFile confines it to the root.
  await serveFile(ex, root, ex.path.slice(`/~${name}`.length));
}
