import path from 'node:path';

/**
 * File extension -> Content-Type (RFC 9110 §8.3). A browser decides what to do with
 * the bytes from this header, not from the file name: an HTML page served as
 * text/plain shows its source. Text types say their charset so é is not Ã©.
 */
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.xml': 'application/xml',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.pdf': 'application/pdf',
  '.zip': 'application/zip',
  '.wasm': 'application/wasm',
};

/** Anything else is just bytes: the browser offers to download it (RFC 9110 §8.3). */
export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

export function contentTypeFor(file: string): string {
  return TYPES[path.extname(file).toLowerCase()] ?? DEFAULT_CONTENT_TYPE;
}
