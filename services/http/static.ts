import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { OutgoingHttpHeaders } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { FoundFile } from '../common/fileCache';
import { Status } from '../common/httpStatus';
import { JailError } from '../common/jail';
import { contentTypeFor } from './contentTypes';
import { etagFor, httpDate, ifNoneMatchHits, ifRangeHolds, notModifiedSince } from './etag';
import { contentRange, parseRange, type ByteRange } from './range';
import { reply, replyError, writeHead, type Exchange } from './reply';

/**
 * The static site: a URL path names a file under the document root.
 *
 *   /                -> index.html          /guide  -> 301 to /guide/
 *   /style.css       -> style.css           /guide/ -> guide/index.html
 *   /nothing-here    -> 404.html, with status 404
 *
 * Every path goes through confineReal() from services/common/jail.ts, which
 * refuses `..` above the root and symlinks that lead out of it: 403 Forbidden.
 * A file can be fetched in parts (Range, range.ts): 206 Partial Content.
 * The site's FileCache (services/common/fileCache.ts) remembers what it found, and
 * small files' bytes, while they stay unchanged on the disk.
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
  if (file.info.isDirectory()) {
    if (!requested.endsWith('/')) return redirectToDirectory(ex);
    file = await locate(ex, root, requested + 'index.html'); // no index.html: 404, never a listing
    if (file === undefined) return;
  }
  const { info } = file;
  if (!info.isFile()) return notFound(ex);

  const etag = etagFor(info);
  const headers: OutgoingHttpHeaders = {
    ETag: etag,
    'Last-Modified': httpDate(info.mtimeMs),
    // Keep a copy, but ask us before using it: an instructor may edit the site any time.
    'Cache-Control': 'no-cache',
    // Parts of this file may be asked for (RFC 9110 §14.3): a broken download can resume.
    'Accept-Ranges': 'bytes',
  };
  // RFC 9110 §13.2.2: If-None-Match is evaluated first; If-Modified-Since only without it.
  const { 'if-none-match': ifNoneMatch, 'if-modified-since': ifModifiedSince, range } = ex.req.headers;
  const unchanged =
    ifNoneMatch !== undefined ? ifNoneMatchHits(ifNoneMatch, etag) : notModifiedSince(ifModifiedSince, info.mtimeMs);
  if (unchanged) return reply(ex, Status.NotModified, '', headers); // RFC 9110 §15.4.5: no body

  // Range comes last (§13.2.2), and only while If-Range says the client's part is of this same file.
  const ifRange = ex.req.headers['if-range'] as string | undefined; // node:http joins repeated lines into one string
  const wanted = ifRangeHolds(ifRange, etag, info.mtimeMs) ? parseRange(range, info.size, ex.site.maxRanges) : { kind: 'whole' as const };
  switch (wanted.kind) {
    case 'whole':
      return sendFile(ex, Status.OK, file, { start: 0, end: info.size - 1 }, headers);
    case 'unsatisfiable':
      // RFC 9110 §15.5.17: say how long the file is, so the client can ask again.
      return replyError(ex, Status.RangeNotSatisfiable, `the file has ${info.size} bytes; ${JSON.stringify(range)} asks for none of them (bytes count from 0)`, {
        'Content-Range': `bytes */${info.size}`,
      });
    case 'partial':
      if (wanted.ranges.length === 1) {
        const [part] = wanted.ranges as [ByteRange];
        return sendFile(ex, Status.PartialContent, file, part, { ...headers, 'Content-Range': contentRange(part, info.size) });
      }
      return sendParts(ex, file, info.size, wanted.ranges, headers);
  }
}

/** The file (its real path, its stat), or undefined after answering 403 or 404. */
async function locate(ex: Exchange, root: string, requested: string): Promise<FoundFile | undefined> {
  try {
    return await ex.site.files.find(root, requested);
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
    const page = await ex.site.files.find(ex.site.wwwDir, '404.html');
    await sendFile(ex, Status.NotFound, page, { start: 0, end: page.info.size - 1 }, { 'Cache-Control': 'no-cache' });
  } catch {
    replyError(ex, Status.NotFound, `there is no ${ex.path} on this site`);
  }
}

/** Headers with Content-Type and Content-Length, then bytes `part.start` to `part.end` of the file (none for HEAD). */
async function sendFile(ex: Exchange, status: number, file: FoundFile, part: ByteRange, headers: OutgoingHttpHeaders): Promise<void> {
  const length = part.end - part.start + 1;
  writeHead(ex, status, { ...headers, 'Content-Type': contentTypeFor(file.real), 'Content-Length': length });
  if (ex.req.method === 'HEAD' || length === 0) {
    ex.res.end();
    return;
  }
  await copy(ex, file, part, true);
}

/**
 * Several ranges: one 206 whose body is multipart/byteranges (RFC 9110 §14.6), a part
 * per range, each with its own Content-Type and Content-Range, between boundary lines.
 */
async function sendParts(ex: Exchange, file: FoundFile, size: number, ranges: ByteRange[], headers: OutgoingHttpHeaders): Promise<void> {
  const boundary = randomBytes(12).toString('hex');
  const type = contentTypeFor(file.real);
  const heads = ranges.map((r) => `--${boundary}\r\nContent-Type: ${type}\r\nContent-Range: ${contentRange(r, size)}\r\n\r\n`);
  const end = `--${boundary}--\r\n`;
  // Content-Length up front: every part's head, its bytes and the CR LF after them, then the closing line.
  const length = ranges.reduce((sum, r, i) => sum + heads[i]!.length + (r.end - r.start + 1) + 2, end.length);
  writeHead(ex, Status.PartialContent, { ...headers, 'Content-Type': `multipart/byteranges; boundary=${boundary}`, 'Content-Length': length });
  if (ex.req.method === 'HEAD') {
    ex.res.end();
    return;
  }
  for (const [i, range] of ranges.entries()) {
    ex.res.write(heads[i]);
    if (!(await copy(ex, file, range, false))) return;
    ex.res.write('\r\n');
  }
  ex.res.end(end);
}

/** Bytes `part.start` to `part.end` of the file into the response; false if the client went away. */
async function copy(ex: Exchange, file: FoundFile, part: ByteRange, last: boolean): Promise<boolean> {
  if (file.body) {
    const bytes = file.body.subarray(part.start, part.end + 1);
    if (last) ex.res.end(bytes);
    else ex.res.write(bytes);
    return true;
  }
  // Exactly the bytes announced in Content-Length, even if the file grows meanwhile.
  try {
    await pipeline(createReadStream(file.real, { start: part.start, end: part.end }), ex.res, { end: last });
    return true;
  } catch (err) {
    // Usually the client went away mid-download; the CLF line still records the request.
    ex.log.debug('file transfer stopped', { file: file.real, error: (err as Error).message });
    return false;
  }
}
