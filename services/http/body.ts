import { HttpError } from '../common/httpRules';
import type { Exchange } from './reply';
import { Status } from '../common/httpStatus';

/**
 * Read the request body, refusing it with 413 Content Too Large (RFC 9110 §15.5.14)
 * as soon as it is known to be too big: from Content-Length before reading a byte,
 * or, for a chunked body of unknown length, the moment the count passes the limit.
 * Never buffer first and measure afterwards: that is how a server runs out of memory.
 */
export function readBody(ex: Exchange, limit = ex.site.maxBodyBytes): Promise<Buffer> {
  const { req } = ex;
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) return Promise.reject(tooLarge(limit));

  // RFC 9110 §10.1.1: a client that sent `Expect: 100-continue` waits for this before
  // sending the body. We send it only now that we know we want the body: a request
  // refused earlier (401, 404, 413, 415) never has to upload it.
  if (ex.expectsContinue) ex.res.writeContinue();

  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        stop();
        req.resume(); // keep reading and discarding, so the 413 reaches the client
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      stop();
      ex.bodyRead = true;
      resolve(Buffer.concat(chunks));
    };
    const onClose = (): void => {
      stop();
      reject(new HttpError(Status.BadRequest, 'the connection closed before the request body was complete'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('close', onClose);
  });
}

function tooLarge(limit: number): HttpError {
  return new HttpError(Status.ContentTooLarge, `the request body is larger than this server accepts (${limit} bytes)`);
}

/**
 * Read a JSON body. The client must say it is JSON (Content-Type: application/json,
 * RFC 8259 §11): anything else is 415 Unsupported Media Type (RFC 9110 §15.5.16), the
 * answer curl's default `--data` (application/x-www-form-urlencoded) gets.
 * Text that does not parse is 400 Bad Request.
 */
export async function readJson(ex: Exchange): Promise<unknown> {
  const type = (ex.req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new HttpError(
      Status.UnsupportedMediaType,
      type
        ? `this API reads JSON, but the body was sent as ${type}: send the header Content-Type: application/json`
        : 'this API reads JSON: send the body with the header Content-Type: application/json',
    );
  }
  const encoding = ex.req.headers['content-encoding'];
  if (encoding && encoding.toLowerCase() !== 'identity') {
    throw new HttpError(Status.UnsupportedMediaType, `compressed request bodies (Content-Encoding: ${encoding}) are not accepted`);
  }
  const body = await readBody(ex);
  if (body.length === 0) throw new HttpError(Status.BadRequest, 'the body is empty: send a JSON object');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw new HttpError(Status.BadRequest, 'the body is not UTF-8 text, which JSON must be (RFC 8259 §8.1)');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new HttpError(Status.BadRequest, `the body is not valid JSON: ${(err as Error).message}`);
  }
}
