import { fmt, meets, stats } from '../../bench/figures';
import { markdown, type BenchRun } from '../../bench/report';
import { parseDnsperf, parseWrk } from '../../bench/tools';

/**
 * The bench's readers of the load tools' output, fed what wrk 4.1 and dnsperf 2.10
 * printed on this machine, and its statistics. (The bench itself is not a test: its
 * figures are never judged here.)
 */

const WRK_ERRORS = `Running 5s test @ http://127.0.0.1:20123/
  2 threads and 500 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   152.66ms  129.33ms   1.00s    93.61%
    Req/Sec   726.42    531.43     1.39k    50.00%
  Latency Distribution
     50%  130.52ms
     75%  178.70ms
     90%  235.29ms
     99%    1.02s
  876 requests in 1.05s, 5.14MB read
  Socket errors: connect 0, read 233, write 0, timeout 4
  Non-2xx or 3xx responses: 7
Requests/sec:    832.36
Transfer/sec:      4.89MB
`;

const WRK_FAST = `Running 2s test @ http://127.0.0.1:38080/
  2 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.64ms    2.34ms  18.30ms   85.18%
    Req/Sec    10.70k     3.26k   20.15k    80.00%
  Latency Distribution
     50%  955.00us
     75%    3.76ms
     90%    5.77ms
     99%   11.12ms
  42962 requests in 2.02s, 250.42MB read
Requests/sec:  21293.92
Transfer/sec:    124.12MB
`;

const DNSPERF = `DNS Performance Testing Tool
Version 2.10.0

[Status] Command line: dnsperf -s 127.0.0.1 -p 35353 -d q.txt -l 2 -q 100
[Status] Sending queries (to 127.0.0.1:35353)
[Status] Started at: Fri Dec  4 22:02:18 2026
[Status] Stopping after 2.000000 seconds
[Status] Testing complete (time limit)

Statistics:

  Queries sent:         74774
  Queries completed:    74674 (99.87%)
  Queries lost:         100 (0.13%)

  Response codes:       NOERROR 74674 (100.00%)
  Average packet size:  request 30, response 46
  Run time (s):         2.086303
  Queries per second:   35840.431615

  Average Latency (s):  0.002383 (min 0.000025, max 0.098175)
  Latency StdDev (s):   0.005765
`;

describe('parseWrk', () => {
  test('reads the rate, the percentiles in their units, and counts every kind of error', () => {
    expect(parseWrk(WRK_ERRORS)).toEqual({ rps: 832.36, p50: 130.52, p99: 1020, requests: 876, errors: 233 + 4 + 7 });
    expect(parseWrk(WRK_FAST)).toEqual({ rps: 21293.92, p50: expect.closeTo(0.955, 9), p99: 11.12, requests: 42962, errors: 0 });
  });

  test('output without a rate (wrk could not connect) is an error that shows the output', () => {
    expect(() => parseWrk('unable to connect to 127.0.0.1:1 Connection refused')).toThrow(/Requests\/sec.*\n.*Connection refused/s);
  });
});

test('parseDnsperf reads queries per second, sent, lost and the mean latency in ms', () => {
  const v = parseDnsperf(DNSPERF);
  expect(v).toEqual({ qps: 35840.431615, sent: 74774, lost: 100, latencyMs: expect.closeTo(2.383, 6) });
  expect(() => parseDnsperf('Error: unable to open file: q.txt')).toThrow(/Queries per second/);
});

describe('statistics', () => {
  test('median of an odd and an even count, min and max', () => {
    expect(stats([3, 1, 2])).toMatchObject({ min: 1, median: 2, max: 3 });
    expect(stats([4, 1, 3, 2])).toMatchObject({ min: 1, median: 2.5, max: 4 });
  });

  test('a target is met at least (throughput) or at most (latency, memory)', () => {
    expect(meets({ of: 'ratio', atLeast: 0.8 }, 0.8)).toBe(true);
    expect(meets({ of: 'ratio', atLeast: 0.8 }, 0.79)).toBe(false);
    expect(meets({ of: 'value', atMost: 150 }, 151)).toBe(false);
    expect(meets({ of: 'ratio', atLeast: 1 }, NaN)).toBe(false);
  });

  test('numbers read as a person writes them', () => {
    expect([fmt(21293.92), fmt(832.36), fmt(35.41), fmt(2.383), fmt(0.0451), fmt(0), fmt(NaN)]).toEqual(['21,294', '832', '35.4', '2.38', '0.045', '0', '–']);
  });
});

test('the markdown table has a row per figure: ours, the reference, the ratios, the target and the memory', () => {
  const run: BenchRun = {
    date: '2026-12-04T22:00:00.000Z',
    machine: '2 × AMD EPYC',
    node: 'v20.20.2',
    quick: false,
    pairs: 3,
    seconds: 5,
    load: { start: 0.4, end: 1.2 },
    skipped: [{ suite: 'imap', reason: 'the lab has no imap service yet' }],
    figures: [
      {
        id: 'http-static-rps',
        group: 'http',
        title: 'HTTP static page, wrk -t2 -c50',
        unit: 'req/s',
        better: 'higher',
        target: { of: 'ratio', atLeast: 0.8 },
        met: true,
        ours: stats([18000, 19000, 20000]),
        reference: { ...stats([20000, 21000, 22000]), label: 'nginx' },
        ratio: stats([0.9, 0.9, 0.91]),
        oursPeakRss: 80 * 2 ** 20,
        referencePeakRss: 12 * 2 ** 20,
        referenceProcesses: 2,
        load: [0.4, 0.6, 0.5],
      },
    ],
  };
  const md = markdown(run);
  expect(md).toContain('| HTTP static page, wrk -t2 -c50 | 19,000 req/s | 21,000 (nginx) | 0.90 (0.90-0.91) | ≥ 0.8 ✓ | 80 MB / 12 MB (2 proc.) | 0.60 |');
  expect(md).toMatch(/^Measured 2026-12-04T22:00:00.000Z on 2 × AMD EPYC, Node v20.20.2; 3 reference\/ours pair/);
  expect(md).toContain('- not measured: imap: the lab has no imap service yet');
});
