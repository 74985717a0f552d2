import { requestHead } from '../common/httpRules';
import { readBody } from './body';
import { reply, type Exchange } from './reply';
import { Status } from '../common/httpStatus';

/**
 * /inspect, any method: "see your own request". The answer is the request as this
 * server received it: the request line, the header lines in the order and letter
 * case they arrived (node:http keeps them in req.rawHeaders), a blank line, the body.
 *
 * Two things are not byte-for-byte: spaces around a header value are trimmed
 * (RFC 9112 §5.1 says they are not part of it), and a chunked body is shown
 * de-chunked (RFC 9112 §7.1), as the server sees its content.
 */
export async function inspect(ex: Exchange): Promise<void> {
  const { req } = ex;
  const body = await readBody(ex);
  const echo = Buffer.concat([Buffer.from(requestHead(req)), body]);
  reply(ex, Status.OK, echo, {
    'Content-Type': 'text/plain; charset=utf-8',
    // The echo contains what the client sent; never let a browser run it as HTML.
    'X-Content-Type-Options': 'nosniff',
    'Cache-Control': 'no-store',
  });
}
