import { z } from 'zod';
import { ACTION_NAMES, executorFor, type ActionName } from '../executors/registry';

/**
 * The Try it page's panels: one per executor, each a form drawn from the executor's
 * own input schema (its zod schema as JSON Schema), so a new executor (tls, imap)
 * gets a panel with no work here, and its form always takes exactly what a scenario
 * step takes. What a schema cannot say (which fields matter first, a text area for a
 * body, ready-made examples) is in PANEL_HINTS: a few lines per protocol, optional.
 */

export interface Preset {
  label: string;
  input: Record<string, unknown>;
}

export interface PanelHints {
  title: string;
  /** One or two sentences on what to try. */
  blurb: string;
  /** Fields shown first, in this order; the others are under "More options". */
  fields?: string[];
  /** Fields a panel leaves out (a kept-alive connection means nothing for one request). */
  hidden?: string[];
  /** Fields drawn as a text area (multi-line text), or as one line per list item. */
  textareas?: string[];
  /** Ready-made inputs: the first one fills the form when the page opens. */
  presets: Preset[];
  /** Show the bytes the request will be (the HTTP panel's Inspect). */
  inspect?: boolean;
}

export interface Panel extends PanelHints {
  action: ActionName;
  /** The executor's input, as JSON Schema (draft 2020-12): what the form is made from. */
  schema: unknown;
}

/** Executors that are not protocols to try: `lab` is the Lab page's buttons, `wait` waits. */
const NOT_PANELS: readonly string[] = ['lab', 'wait'];

export const PANEL_HINTS: Partial<Record<string, PanelHints>> = {
  dns: {
    title: 'DNS',
    blurb: 'Ask the lab DNS (ns.lab.test) a question, over UDP or TCP, and see the message both ways.',
    fields: ['query', 'type', 'transport', 'reverse'],
    presets: [
      { label: 'A? www.lab.test', input: { query: 'www.lab.test', type: 'A' } },
      { label: 'MX? lab.test', input: { query: 'lab.test', type: 'MX' } },
      { label: 'CNAME: blog.lab.test', input: { query: 'blog.lab.test', type: 'A' } },
      { label: 'A big TXT over TCP', input: { query: 'big.lab.test', type: 'TXT', transport: 'tcp' } },
      { label: 'Reverse: 172.28.0.80', input: { reverse: '172.28.0.80' } },
      { label: 'A name that does not exist', input: { query: 'nope.lab.test', type: 'A' } },
    ],
  },
  http: {
    title: 'HTTP',
    blurb: 'Write a request: method, URL, headers, body. Inspect shows the bytes that will be sent; Send sends them.',
    fields: ['method', 'url', 'headers', 'body'],
    hidden: ['connection'],
    textareas: ['body'],
    inspect: true,
    presets: [
      { label: 'GET the home page', input: { method: 'GET', url: 'http://www.lab.test/' } },
      { label: 'GET a page that is not there (404)', input: { method: 'GET', url: 'http://www.lab.test/nope.html' } },
      { label: 'Through the proxy: shop.lab.test', input: { method: 'GET', url: 'http://shop.lab.test/' } },
      { label: 'POST a note (JSON)', input: { method: 'POST', url: 'http://www.lab.test/api/notes', headers: { 'Content-Type': 'application/json' }, body: '{"title":"hello","text":"from the console"}' } },
      { label: 'See your request echoed (/inspect)', input: { method: 'GET', url: 'http://www.lab.test/inspect', headers: { 'X-Hello': 'lab' } } },
    ],
  },
  tcp: {
    title: 'Raw TCP',
    blurb: 'Open a connection and type the protocol yourself: every protocol here is text on a socket.',
    fields: ['host', 'port', 'lines', 'send', 'until'],
    textareas: ['lines'],
    presets: [
      { label: 'HTTP by hand', input: { host: 'www.lab.test', port: 80, lines: ['GET / HTTP/1.0', 'Host: www.lab.test', ''] } },
      { label: 'SMTP greeting', input: { host: 'mail.lab.test', port: 25, lines: ['QUIT'] } },
      // IMAP typed by hand: tagged commands and their tagged answers (RFC 9051); the IMAP panel does the same for you.
      { label: 'IMAP by hand: bob\'s INBOX', input: { host: 'mail.lab.test', port: 143, lines: ['a1 LOGIN bob bob', 'a2 SELECT INBOX', 'a3 LOGOUT'], until: 'a3 OK' } },
    ],
  },
  smtp: {
    title: 'SMTP',
    blurb: 'Send a mail: deliver it on port 25, or submit it on 587 after logging in (AUTH).',
    fields: ['from', 'to', 'subject', 'body', 'host', 'port', 'auth'],
    textareas: ['body', 'data', 'lines'],
    presets: [
      { label: 'carol delivers to bob (port 25)', input: { host: 'mail.lab.test', port: 25, from: 'carol@example.test', to: 'bob@lab.test', subject: 'hello', body: 'Hi Bob, from the console.' } },
      { label: 'alice submits with AUTH (port 587)', input: { host: 'mail.lab.test', port: 587, auth: { user: 'alice', password: 'alice' }, from: 'alice@lab.test', to: 'carol@example.test', subject: 'over the MX', body: 'Hi Carol.' } },
    ],
  },
  pop3: {
    title: 'POP3',
    blurb: 'Log in to a mailbox, list it and read the messages.',
    fields: ['user', 'password', 'retrieve', 'host', 'port'],
    presets: [
      { label: "bob's mailbox", input: { host: 'mail.lab.test', user: 'bob', password: 'bob', retrieve: 'last' } },
      { label: "carol's mailbox (example.test)", input: { host: 'mail.example.test', user: 'carol', password: 'carol', retrieve: 'last' } },
    ],
  },
  imap: {
    title: 'IMAP',
    blurb: 'Log in to a mailbox that stays on the server: list the folders, look inside one, fetch, flag, move. Every tagged command and untagged response is shown.',
    fields: ['user', 'password', 'actions', 'host', 'port'],
    presets: [
      { label: "bob's INBOX", input: { user: 'bob', password: 'bob', actions: [{ list: '*' }, { examine: 'INBOX' }, { fetch: { search: 'ALL', items: ['uid', 'flags', 'envelope', 'size'] } }] } },
      { label: 'Read the last message without marking it \\Seen', input: { user: 'bob', password: 'bob', actions: [{ select: 'INBOX' }, { fetch: { set: '*', items: ['uid', 'flags', 'body'], peek: true } }] } },
      { label: 'Inside TLS: STARTTLS on 143, then LOGIN', input: { user: 'bob', password: 'bob', starttls: 'required', actions: [{ examine: 'INBOX' }] } },
      { label: 'Wait for new mail (IDLE, 8 s: send one from the SMTP panel in another tab)', input: { user: 'bob', password: 'bob', actions: [{ select: 'INBOX' }, { idle: { for: '8s' } }] } },
    ],
  },
  ftp: {
    title: 'FTP',
    blurb: 'Log in, list, download and upload. The control connection is shown byte for byte: the password too.',
    fields: ['user', 'password', 'actions', 'mode', 'command'],
    presets: [
      { label: "alice's home", input: { user: 'alice', password: 'alice', actions: [{ list: '.' }, { download: 'notes.txt' }] } },
      { label: 'Anonymous: pub/', input: { user: 'anonymous', password: 'student@lab.test', actions: [{ list: 'pub' }] } },
      { label: 'Upload a file', input: { user: 'bob', password: 'bob', actions: [{ upload: { path: 'hello.txt', content: 'hello from the console\n' } }, { list: '.' }] } },
    ],
  },
  sftp: {
    title: 'SFTP',
    blurb: 'The same homes over SSH: everything is encrypted, so the transcript shows the handshake and each request, decoded.',
    fields: ['user', 'key', 'password', 'actions'],
    presets: [
      { label: "alice's home, with her key", input: { user: 'alice', key: 'alice', actions: [{ list: '.' }, { download: 'notes.txt' }] } },
      { label: 'Publish a page as web', input: { user: 'web', password: 'web', actions: [{ upload: { path: 'public_html/console.html', content: '<h1>From the console</h1>\n' } }] } },
    ],
  },
};

/** The panels, in the registry's order: every executor but lab and wait. */
export function panels(): Panel[] {
  return ACTION_NAMES.filter((a) => !NOT_PANELS.includes(a)).map((action) => {
    const hints = PANEL_HINTS[action] ?? { title: action.toUpperCase(), blurb: `The ${action} executor: its fields are those of a scenario's ${action}: step.`, presets: [] };
    return { action, ...hints, schema: z.toJSONSchema(executorFor(action).schema, { io: 'input', unrepresentable: 'any' }) };
  });
}

/** An action the Try it page may run: a known executor that is a panel. Anything else is refused. */
export function isPanelAction(action: unknown): action is ActionName {
  return typeof action === 'string' && (ACTION_NAMES as string[]).includes(action) && !NOT_PANELS.includes(action);
}
