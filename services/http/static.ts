import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { OutgoingHttpHeaders } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { confineReal, JailError } from '../common/jail';
import { contentTypeFor } from './contentTypes';
import { etagFor, httpDate, ifNoneMatchHits, notModifiedSince } from './etag';
import { reply, replyError, writeHead, type Exchange } from './reply';
import { Status } from '../common/httpStatus';

/**
 * The static site: a URL path names a file under the document root.
 *
 *   /                -> index.html          /guide  -> 301 to /guide/
 *   /style.css       -> style.css           /guide/ -> guide/index.html
 *   /nothing-here    -> 404.html, with status 404
 *
 * Every path goes through confineReal() from services/common/jail.ts, which
 * refuses `..` above the root and symlinks that lead out of it: 403 Forbidden.
 */
export async function serveSite(ex: Exchange): Promise<void> {
  await serveFile(ex, ex.site.wwwDir, ex.path);
}

/**
 * Serve `requested` (a decoded URL path) from under `root`. User pages (`/~web/`,
 * userPages.ts) call this with the user's public_html as the root.
 */
export async function serveFile(ex: Exchange, root: string, requested: string): Promise<void> {
  let file = await locate(ex, root, requested);
  if (file === undefined) return; // already answered
  let info = await stat(file);
  if (info.isDirectory()) {
    if (!requested.endsWith('/')) return redirectToDirectory(ex);
    file = await locate(ex, root, requested + 'index.html'); // no index.html: 404, never a listing
    if (file === undefined) return;
    info = await stat(file);
  }
  if (!info.isFile()) return notFound(ex);

  const headers: OutgoingHttpHeaders = {
    ETag: etagFor(info),
    'Last-Modified': httpDate(info.mtimeMs),
    // Keep a copy, but ask us before using it: an instructor may edit the site any time.
    'Cache-Control': 'no-cache',
  };
  // RFC 9110 §13.2.2: If-None-Match is evaluated first; If-Modified-Since only without it.
  const { 'if-none-match': ifNoneMatch, 'if-modified-since': ifModifiedSince } = ex.req.headers;
  const unchanged =
    ifNoneMatch !== undefined ? ifNoneMatchHits(ifNoneMatch, etagFor(info)) : notModifiedSince(ifModifiedSince, info.mtimeMs);
  if (unchanged) return reply(ex, Status.NotModified, '', headers); // RFC 9110 §15.4.5: no body
  await sendFile(ex, Status.OK, file, info.size, headers);
}

/** The real path of the file, or undefined after answering 403 or 404. */
async function locate(ex: Exchange, root: string, requested: string): Promise<string | undefined> {
  try {
    return await confineReal(root, requested);
  } catch (err) {
    if (err instanceof JailError) {
      ex.log.warn('refused path', { path: ex.rawPath, reason: err.reason });
      replyError(ex, Status.Forbidden, `that path is not part of this web site (${err.reason})`);
      return undefined;
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENAMETOOLONG') {
      await notFound(ex);
      return undefined;
    }
    if (code === 'EACCES' || code === 'EPERM') {
      replyError(ex, Status.Forbidden, 'the server is not allowed to read that file');
      return undefined;
    }
    throw err;
  }
}

/**
 * A directory asked for without its trailing slash: send the client to the slashed
 * URL (301, RFC 9110 §15.4.2), so relative links in its index.html resolve inside it.
 */
function redirectToDirectory(ex: Exchange): void {
  // One leading slash only: `//host` in Location would send the browser to another host.
  const location = '/' + ex.rawPath.replace(/^\/+/, '') + '/' + (ex.query ? `?${ex.query}` : '');
  const html = `<!doctype html>\n<title>Moved</title>\n<p>This page is at <a href="${location}">${location}</a>.</p>\n`;
  reply(ex, Status.MovedPermanently, html, { Location: location, 'Content-Type': 'text/html; charset=utf-8' });
}

/** The site's own 404.html with status 404, or a plain text 404 if it has none. */
export async function notFound(ex: Exchange): Promise<void> {
  try {
    const page = await confineReal(ex.site.wwwDir, '404.html');
    const info = await stat(page);
    await sendFile(ex, Status.NotFound, page, info.size, { 'Cache-Control': 'no-cache' });
  } catch {
    replyError(ex, Status.NotFound, `there is no ${ex.path} on this site`);
  }
}

/** Headers with Content-Type and Content-Length, then the file's bytes (none for HEAD). */
async function sendFile(ex: Exchange, status: number, file: string, size: number, headers: OutgoingHttpHeaders): Promise<void> {
  writeHead(ex, status, { ...headers, 'Content-Type': contentTypeFor(file), 'Content-Length': size });
  if (ex.req.method === 'HEAD' || size === 0) {
    ex.res.end();
    return;
  }
  // Read exactly the `size` bytes we announced, even if the file grows meanwhile.
  try {
    await pipeline(createReadStream(file, { start: 0, end: size - 1 }), ex.res);
  } catch (err) {
    // Usually the client went away mid-download; the CLF line still records the request.
    ex.log.debug('file transfer stopped', { file, error: (err as Error).message });
  }
}
