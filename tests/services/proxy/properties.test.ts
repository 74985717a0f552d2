/**
 * Properties of the headers the proxy passes on (fast-check, fixed seed): for any
 * header list a client or the app sends, no hop-by-hop header crosses (RFC 9110 7.6.1),
 * every end-to-end one does, in order, and the proxy's own are there exactly once.
 */
import fc from 'fast-check';
import { hopByHopFilter, maxForwards, requestHeaders, responseHeaders } from '../../../services/proxy/headers';
import { holds } from '../../helpers/properties';

const names = fc.oneof(
  fc.constantFrom('Host', 'Connection', 'connection', 'Keep-Alive', 'TE', 'Transfer-Encoding', 'Upgrade', 'Trailer', 'Proxy-Authorization', 'Proxy', 'Proxy-Connection', 'Via', 'X-Forwarded-For', 'X-Forwarded-Host', 'X-Forwarded-Proto', 'Max-Forwards', 'Accept', 'Cookie', 'X-Trace'),
  fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,10}$/),
);
const value = fc.oneof(fc.stringMatching(/^[\x20-\x7e]{0,20}$/), fc.constantFrom('close', 'X-Trace, keep-alive', 'x-trace', '3', '0', '99999999999'));
const raw = fc.array(fc.tuple(names, value), { maxLength: 10 }).map((pairs) => pairs.flat());

/** The pairs of a raw list. */
const pairs = (list: readonly string[]): [string, string][] => Array.from({ length: list.length / 2 }, (_, i) => [list[2 * i]!, list[2 * i + 1]!]);

describe('requests to the app, responses to the client', () => {
  test('no hop-by-hop header goes on; every end-to-end one does, in its order; Host, X-Forwarded-* (the scheme the client used) and Via are the proxy\'s, once each', () => {
    holds(
      fc.property(raw, fc.constantFrom('GET', 'OPTIONS', 'TRACE', 'POST'), fc.ipV4(), fc.constantFrom('http' as const, 'https' as const), (headers, method, client, proto) => {
        const out = pairs(requestHeaders(headers, { method, client, httpVersion: '1.1', via: 'shop.lab.test', upstreamHost: 'app.lab.test:5000', originalHost: 'shop.lab.test', proto }));
        const isHopByHop = hopByHopFilter(headers);
        const own = new Set(['host', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'via']);
        for (const [name] of out) expect(isHopByHop(name)).toBe(false);
        for (const name of own) expect(out.filter(([n]) => n.toLowerCase() === name).length).toBe(1);
        expect(out.find(([n]) => n === 'X-Forwarded-For')![1].endsWith(client)).toBe(true);
        // The scheme is the one the client used, whatever X-Forwarded-Proto it sent.
        expect(out.find(([n]) => n === 'X-Forwarded-Proto')![1]).toBe(proto);
        const passed = pairs(headers).filter(([n]) => !isHopByHop(n) && !own.has(n.toLowerCase()) && n.toLowerCase() !== 'max-forwards');
        expect(out.filter(([n]) => !own.has(n.toLowerCase()) && n.toLowerCase() !== 'max-forwards')).toEqual(passed);
        // Max-Forwards counts down on OPTIONS and TRACE, never below 0.
        const forwards = maxForwards(headers);
        const sent = out.find(([n]) => n.toLowerCase() === 'max-forwards');
        if ((method === 'OPTIONS' || method === 'TRACE') && forwards !== undefined) expect(Number(sent![1])).toBe(Math.max(0, forwards - 1));
      }),
      300,
    );
  });

  test('responses: the app\'s end-to-end headers in order, no hop-by-hop ones, one Via ending with the proxy', () => {
    holds(
      fc.property(raw, (headers) => {
        const out = pairs(responseHeaders(headers, '1.1', 'shop.lab.test'));
        const isHopByHop = hopByHopFilter(headers);
        expect(out.filter(([n]) => n !== 'Via')).toEqual(pairs(headers).filter(([n]) => !isHopByHop(n) && n.toLowerCase() !== 'via'));
        expect(out.filter(([n]) => n.toLowerCase() === 'via').map(([, v]) => v.endsWith('1.1 shop.lab.test'))).toEqual([true]);
      }),
      500,
    );
  });
});
