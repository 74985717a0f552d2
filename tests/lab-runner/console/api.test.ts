import { events, request, startConsole, type TestConsole } from '../../helpers/console';

/**
 * The console's API on a real embedded lab: the Lab page's picture and actions, Try it
 * through the executors (only lab hosts, only names the lab DNS knows), scenario runs
 * whose steps arrive as events, reports, quizzes checked against the student's lab,
 * and each limit (runs at once, request size, connections per address).
 */

let c: TestConsole;
beforeAll(async () => {
  c = await startConsole();
});
afterAll(() => c?.stop());

test('the lab: every service with its host, address, ports, state and health', async () => {
  const r = await c.api('GET', '/api/lab');
  expect(r.status).toBe(200);
  const view = r.json();
  expect(view.backend).toBe('embedded');
  expect(view.actions).toEqual(['stop', 'start', 'restart', 'pause', 'unpause']);
  const www = view.services.find((s: { name: string }) => s.name === 'http');
  expect(www).toMatchObject({ host: 'www.lab.test', address: '172.28.0.80', state: 'running', health: 'up' });
  expect(www.ports[0]).toMatchObject({ name: 'http', lab: 80 });
  expect(www.ports[0].where).toMatch(/^127\.0\.0\.1:\d+$/);
  expect(view.services.find((s: { name: string }) => s.name === 'dns').health).toBe('up');
});

test('stop app, and Try it through shop.lab.test gets the proxy\'s 502; start it again', async () => {
  const stopped = await c.api('POST', '/api/lab/app/stop');
  expect(stopped.status).toBe(200);
  expect(stopped.json().state).toBe('stopped');
  const view = (await c.api('GET', '/api/lab')).json();
  expect(view.services.find((s: { name: string }) => s.name === 'app')).toMatchObject({ state: 'stopped', health: 'down' });
  const tried = await c.api('POST', '/api/try', { action: 'http', input: { url: 'http://shop.lab.test/' } });
  expect(tried.status).toBe(200);
  expect(tried.json().step.output.status).toBe(502);
  expect(tried.json().yaml).toContain('status: 502');
  expect((await c.api('POST', '/api/lab/app/start')).json().state).toBe('running');
  expect((await c.api('POST', '/api/try', { action: 'http', input: { url: 'http://shop.lab.test/' } })).json().step.output.status).toBe(200);
});

test('a service or an action the lab does not have is refused', async () => {
  const unknown = await c.api('POST', '/api/lab/mysql/stop');
  expect(unknown.status).toBe(404);
  expect(unknown.json().error).toBe('no lab service named mysql');
  const action = await c.api('POST', '/api/lab/app/disconnect');
  expect(action.status).toBe(400);
  expect(action.json().error).toMatch(/disconnect is not an action of the embedded lab/);
  expect((await c.api('GET', '/api/lab/mysql/logs')).status).toBe(404);
});

test("a service's log", async () => {
  await c.api('POST', '/api/try', { action: 'dns', input: { query: 'www.lab.test' } });
  const r = await c.api('GET', '/api/lab/dns/logs');
  expect(r.json().lines.some((l: string) => /query .*name=www\.lab\.test/.test(l))).toBe(true);
});

test('Try it: a DNS query, its answer and transcript, and the step as YAML', async () => {
  const r = await c.api('POST', '/api/try', { action: 'dns', input: { query: 'www.lab.test', type: 'A' }, name: 'Ask for www' });
  const { step, yaml } = r.json();
  expect(step.status).toBe('passed');
  expect(step.output.answers[0].data).toBe('172.28.0.80');
  expect(step.transcript.map((e: { kind: string }) => e.kind)).toEqual(['send', 'recv']);
  expect(yaml).toBe('- name: Ask for www\n  dns:\n    query: www.lab.test\n    type: A\n  expect:\n    rcode: NOERROR\n    answers:\n      length: 1\n');
});

test('Try it from YAML: the step as a scenario writes it', async () => {
  const r = await c.api('POST', '/api/try', { yaml: '- name: mx\n  dns: { query: lab.test, type: MX }\n' });
  expect(r.json().step.output.answers[0].data).toEqual({ preference: 10, exchange: 'mail.lab.test' });
  const bad = await c.api('POST', '/api/try', { yaml: '- name: two\n  dns: { query: a }\n  http: { url: x }\n' });
  expect(bad.status).toBe(400);
  expect(bad.json().error).toBe('a step has one action (dns and http)');
});

test('Try it reaches lab hosts only: an outside address is refused, a name the lab DNS does not know is not found', async () => {
  const outside = (await c.api('POST', '/api/try', { action: 'http', input: { url: 'http://10.1.2.3/' } })).json().step;
  expect(outside.status).toBe('error');
  expect(outside.output.code).toBe('ENOTLAB');
  const name = (await c.api('POST', '/api/try', { action: 'http', input: { url: 'http://example.com/' } })).json().step;
  expect(name.output.code).toBe('ENOTFOUND');
  expect(name.transcript[0].summary).toBe('A? example.com'); // asked of the lab DNS, never the machine's resolver
  const loop = (await c.api('POST', '/api/try', { action: 'tcp', input: { host: '127.0.0.1', port: c.port, send: 'GET / HTTP/1.0\r\n\r\n' } })).json().step;
  expect(loop.output.code).toBe('ENOTLAB'); // not even the console itself
});

test('Try it refuses what is not a protocol to try, and bad input', async () => {
  const lab = await c.api('POST', '/api/try', { action: 'lab', input: { action: 'stop', service: 'dns' } });
  expect(lab.status).toBe(400);
  expect(lab.json().error).toBe('no protocol to try is named "lab"');
  const bad = (await c.api('POST', '/api/try', { action: 'dns', input: { type: 'AAA', query: 'x' } })).json().step;
  expect(bad.status).toBe('error');
  expect(bad.error).toMatch(/dns\.type: .*AAAA/);
  const notJson = await request(c.port, 'POST', '/api/try', { Host: c.host, Cookie: c.cookie, Origin: c.origin }, '{nope');
  expect(notJson.status).toBe(400);
});

test("the raw TCP panel's IMAP preset talks IMAP to mail.lab.test:143", async () => {
  const panels = (await c.api('GET', '/api/panels')).json();
  const preset = panels.find((p: { action: string }) => p.action === 'tcp').presets.find((p: { label: string }) => p.label.startsWith('IMAP'));
  const step = (await c.api('POST', '/api/try', { action: 'tcp', input: preset.input })).json().step;
  expect(step.status).toBe('passed');
  expect(step.output.received).toMatch(/^a2 OK \[READ-WRITE\]/m);
  expect(step.output.received).toMatch(/^a3 OK/m);
});

test('Inspect: the bytes the HTTP request will be, before it is sent', async () => {
  const r = await c.api('POST', '/api/inspect', { input: { method: 'post', url: 'http://www.lab.test/api/notes', json: { a: 1 } } });
  const text = 'POST /api/notes HTTP/1.1\r\nHost: www.lab.test\r\nUser-Agent: wirelab/0.1\r\nAccept: */*\r\nContent-Type: application/json\r\nContent-Length: 7\r\nConnection: close\r\n\r\n{"a":1}';
  expect(r.json()).toEqual({ text, size: Buffer.byteLength(text) });
  // https:// is the same request, sent inside TLS; a URL that is not HTTP is refused.
  expect((await c.api('POST', '/api/inspect', { input: { url: 'https://www.lab.test/' } })).json()).toMatchObject({ text: expect.stringMatching(/^GET \/ HTTP\/1\.1\r\nHost: www\.lab\.test\r\n/) });
  expect((await c.api('POST', '/api/inspect', { input: { url: 'ftp://www.lab.test/' } })).status).toBe(400);
});

test('the panels: one per executor but lab and wait, each with its input schema', async () => {
  const panels = (await c.api('GET', '/api/panels')).json();
  expect(panels.map((p: { action: string }) => p.action)).toEqual(['dns', 'http', 'tcp', 'smtp', 'pop3', 'ftp', 'sftp', 'tls']);
  const http = panels.find((p: { action: string }) => p.action === 'http');
  expect(http.inspect).toBe(true);
  expect(Object.keys(http.schema.properties)).toEqual(expect.arrayContaining(['method', 'url', 'headers', 'body']));
});

test('Try it shows the exchange live: each message is an event before the step ends', async () => {
  const id = 'live-test-0001';
  const stream = events(c, 'the http response as a wire event', (type, data) => type === 'wire' && data.id === id && data.event.kind === 'recv' && data.event.protocol === 'http');
  await stream.ready;
  const tried = c.api('POST', '/api/try', { id, action: 'http', input: { url: 'http://www.lab.test/' } });
  const seen = (await stream.done).filter((e) => e.type === 'wire').map((e) => `${e.data.event.kind} ${e.data.event.protocol}`);
  expect(seen).toEqual(['send dns', 'recv dns', 'connect http', 'send http', 'recv http']);
  expect((await tried).json().step.status).toBe('passed');
});

test("a scenario run: each step's result arrives as an event, then the end; the reports download", async () => {
  const id = 'run-test-00001';
  const stream = events(c, 'the end of the run', (type, data) => type === 'run' && data.id === id && data.type === 'end');
  await stream.ready;
  const started = await c.api('POST', '/api/runs', { id, files: ['resolve-then-fetch.yaml'] });
  expect(started.json().id).toBe(id);
  const run = (await stream.done).filter((e) => e.type === 'run' && e.data.id === id).map((e) => e.data);
  expect(run.map((d) => d.type)).toEqual(['scenario', 'step', 'step', 'step', 'scenarioEnd', 'end']);
  expect(run[1].step.transcript.length).toBeGreaterThan(0);
  expect(run[1].endedAt).toBeLessThanOrEqual(Date.now());
  expect(run.at(-1)).toMatchObject({ passed: true });
  const html = await c.api('GET', `/api/runs/${id}/report.html`);
  expect(html.headers['content-disposition']).toBe('attachment; filename="report.html"');
  expect(html.body).toContain('<title>wirelab report:');
  expect((await c.api('GET', `/api/runs/${id}/report.xml`)).body).toContain('<testsuites');
  expect((await c.api('GET', `/api/runs/${id}/report.json`)).json().scenarios[0].file).toBe('resolve-then-fetch.yaml');
  expect((await c.api('GET', '/api/runs/nope-nope-nope/report.json')).status).toBe(404);
});

test('a scenario name that is not in the folder is refused: the page cannot make the console read other files', async () => {
  const r = await c.api('POST', '/api/runs', { files: ['../package.json'] });
  expect(r.status).toBe(400);
  expect(r.json().error).toBe('no scenario named ../package.json in the scenarios folder');
});

test('quizzes: the page gets questions, never answers; an answer is checked against what the lab did', async () => {
  const { quizzes } = (await c.api('GET', '/api/quizzes')).json();
  const proxy = quizzes.find((q: { id: string }) => q.id === 'proxy-502');
  expect(JSON.stringify(proxy)).not.toMatch(/"answer":|"from":|"explain":|Bad Gateway|ECONNREFUSED/);
  expect(proxy.questions[0]).toEqual({ id: 'answer', type: 'number', text: 'What did the proxy answer when app was stopped?', fromLab: true });
  const right = (await c.api('POST', '/api/quizzes/proxy-502/check', { question: 'answer', answer: '502' })).json();
  expect(right).toMatchObject({ correct: true, answer: 502, fromStep: 'Ask the shop while the app is down' });
  expect(right.explain).toMatch(/^502 Bad Gateway/);
  const wrong = (await c.api('POST', '/api/quizzes/proxy-502/check', { question: 'likely', answer: 'Your password is wrong' })).json();
  expect(wrong.correct).toBe(false);
  expect(wrong.explain).toMatch(/^That would be 401 or 403\. 502 Bad Gateway means/);
  // The probe started app again.
  expect((await c.backend.status()).find((s) => s.name === 'app')?.state).toBe('running');
  expect((await c.api('POST', '/api/quizzes/nope/check', { question: 'x', answer: 1 })).status).toBe(400);
});

test('a probe runs in the lab as it is, its steps arriving as events', async () => {
  const id = 'probe-test-0001';
  const stream = events(c, 'the end of the probe', (type, data) => type === 'run' && data.id === id && data.type === 'end');
  await stream.ready;
  const result = (await c.api('POST', '/api/quizzes/mail/probe', { id })).json();
  expect(result.steps.map((s: { status: string }) => s.status)).toEqual(['passed', 'passed']);
  expect((await stream.done).filter((e) => e.data.type === 'step')).toHaveLength(2);
  const check = (await c.api('POST', '/api/quizzes/mail/check', { question: 'received', answer: 'mail.lab.test' })).json();
  expect(check.correct).toBe(true);
});
