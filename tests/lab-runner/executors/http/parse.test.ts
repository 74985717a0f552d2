import { parseResponse, HttpParseError } from '../../../../lab-runner/executors/http/parse';
import { buildRequest, parseHttpUrl } from '../../../../lab-runner/executors/http/request';

const b = (s: string) => Buffer.from(s, 'latin1');

describe('HTTP response parser', () => {
  test('Content-Length: waits for the whole body, keeps the rest for the next response', () => {
    const text = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\nx-a: 2\r\n\r\nhello';
    expect(parseResponse(b(text.slice(0, 20)), 'GET', false)).toEqual({ complete: false });
    expect(parseResponse(b(text.slice(0, -1)), 'GET', false)).toEqual({ complete: false });
    const result = parseResponse(b(text + 'HTTP/1.1 204 No Content\r\n\r\n'), 'GET', false);
    if (!result.complete) throw new Error('expected a response');
    expect(result.response).toMatchObject({ status: 200, reason: 'OK', httpVersion: '1.1' });
    expect(result.response.body.toString()).toBe('hello');
    expect(result.response.headers['x-a']).toBe('1, 2');
    expect(result.response.rawHeaders).toEqual([['Content-Length', '5'], ['X-A', '1'], ['x-a', '2']]);
    expect(result.rest.toString()).toBe('HTTP/1.1 204 No Content\r\n\r\n');
  });

  test('chunked transfer coding, split anywhere', () => {
    const text = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n6;ext=1\r\npedia \r\n0\r\n\r\n';
    for (let cut = 40; cut < text.length; cut++) {
      expect(parseResponse(b(text.slice(0, cut)), 'GET', false).complete).toBe(false);
    }
    const result = parseResponse(b(text), 'GET', false);
    expect(result.complete && result.response.body.toString()).toBe('Wikipedia ');
  });

  test('no length: the body ends when the server closes', () => {
    const text = 'HTTP/1.0 200 OK\r\n\r\nuntil close';
    expect(parseResponse(b(text), 'GET', false).complete).toBe(false);
    const result = parseResponse(b(text), 'GET', true);
    expect(result.complete && result.response.body.toString()).toBe('until close');
  });

  test('HEAD, 204 and 304 have no body whatever the headers say', () => {
    const result = parseResponse(b('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n'), 'HEAD', false);
    expect(result.complete && result.response.body.length).toBe(0);
    expect(parseResponse(b('HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n'), 'GET', false).complete).toBe(true);
  });

  test('100 Continue is skipped', () => {
    const result = parseResponse(b('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n'), 'POST', false);
    expect(result.complete && result.response.status).toBe(201);
  });

  test('garbage and early closes are errors that say what went wrong', () => {
    expect(() => parseResponse(b('SSH-2.0-OpenSSH\r\n\r\n'), 'GET', false)).toThrow(HttpParseError);
    expect(() => parseResponse(b(''), 'GET', true)).toThrow(/without a response/);
    expect(() => parseResponse(b('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'), 'GET', true)).toThrow(/after 3 of 10/);
    expect(() => parseResponse(b('HTTP/1.1 200 OK\r\nbroken\r\n\r\n'), 'GET', false)).toThrow(/not a header field/);
  });
});

describe('HTTP request building', () => {
  test('a request is text: request line, headers, blank line, body', () => {
    const bytes = buildRequest({ method: 'POST', target: '/api/notes', host: 'www.lab.test', headers: { 'Content-Type': 'application/json' }, body: b('{}'), close: true, version: '1.1' });
    expect(bytes.toString()).toBe(
      'POST /api/notes HTTP/1.1\r\nHost: www.lab.test\r\nUser-Agent: wirelab/0.1\r\nAccept: */*\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}',
    );
  });

  test('URLs are split by hand so /../ and %2e reach the server as written', () => {
    expect(parseHttpUrl('http://www.lab.test/a/../b?x=%2e')).toEqual({ secure: false, host: 'www.lab.test', port: 80, authority: 'www.lab.test', target: '/a/../b?x=%2e' });
    expect(parseHttpUrl('http://WWW.lab.test:8080')).toMatchObject({ host: 'www.lab.test', port: 8080, target: '/' });
    expect(() => parseHttpUrl('ftp://x/')).toThrow(/not an http:\/\/ or https:\/\/ URL/);
  });

  test('https:// URLs go inside TLS, on port 443 unless they name one', () => {
    expect(parseHttpUrl('https://www.lab.test/')).toEqual({ secure: true, host: 'www.lab.test', port: 443, authority: 'www.lab.test', target: '/' });
    expect(parseHttpUrl('HTTPS://www.lab.test:8443/x')).toMatchObject({ secure: true, port: 8443, authority: 'www.lab.test:8443', target: '/x' });
    expect(parseHttpUrl('http://www.lab.test:443/')).toMatchObject({ secure: false, port: 443 });
  });
});
