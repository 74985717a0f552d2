import { decode, encode, type Packet } from 'dns-packet';
import { Client as FtpClient } from 'basic-ftp';
import { Client as SshClient } from 'ssh2';
import { responseParser } from '../../lab-runner/executors/http/parse';
import { singleLine } from '../../lab-runner/executors/pop3/protocol';
import { smtpReply } from '../../lab-runner/executors/smtp/protocol';
import { takeLine, type ReplyParser } from '../../lab-runner/wire';
import { rcodeOf } from '../../services/dns/codes';
import { frame, splitFrames } from '../../services/dns/framing';
import { sshString, uint32 } from '../../services/sftp/packets';
import { Conversation, udpExchange } from './conversation';

/**
 * What the fuzzer knows of each protocol: which lab services to start, which port to
 * send to, a recorded good session (the client's messages, in order) to mutate, and a
 * health exchange: a well-formed request the server must still answer after a batch.
 */
export interface Protocol {
  name: string;
  /** The embedded lab's services to start (lab-runner/backends/services.ts), the first one fuzzed. */
  services: string[];
  /** The fuzzed service's port name in the lab plan. */
  port: string;
  transport: 'tcp' | 'udp';
  /** The server speaks first (a greeting, SSH's version line): wait for it before sending, as a client does. */
  greeting: boolean;
  /** A good client session: what a real client sends, one message per element. */
  session: Buffer[];
  /** Resolves when the server answered a well-formed request properly; rejects saying what went wrong. */
  health(port: number, deadlineMs: number): Promise<void>;
}

const lines = (...texts: string[]): Buffer[] => texts.map((t) => Buffer.from(t + '\r\n', 'utf8'));

/** A DNS message over TCP: the 2-byte length, then the message (RFC 1035 4.2.2). */
const dnsTcpReply: ReplyParser<Packet> = (data) => {
  const { frames } = splitFrames(data);
  if (frames.length === 0) return undefined;
  return { reply: decode(frames[0]!), raw: data.subarray(0, 2 + frames[0]!.length), rest: data.subarray(2 + frames[0]!.length) };
};

/** A conversation that is always closed, whatever happens in `talk`. */
async function converse(port: number, deadlineMs: number, talk: (c: Conversation) => Promise<void>): Promise<void> {
  const conversation = await Conversation.open(port, '127.0.0.1', deadlineMs);
  try {
    await talk(conversation);
  } finally {
    conversation.close();
  }
}

function expectThat(ok: boolean, what: string): void {
  if (!ok) throw new Error(what);
}

// ---------------------------------------------------------------------------
// DNS

const query = (id: number, name: string, type: 'A' | 'MX' | 'TXT' | 'SRV' | 'AAAA', edns = false): Buffer =>
  encode({
    id,
    type: 'query',
    flags: 0x100,
    questions: [{ name, type }],
    additionals: edns ? [{ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] : [],
  });

const DNS_SESSION = [query(1, 'www.lab.test', 'A'), query(2, 'lab.test', 'MX', true), query(3, 'big.lab.test', 'TXT'), query(4, '_pop3._tcp.lab.test', 'SRV', true), query(5, 'nothing.example.test', 'AAAA')];

function checkWww(reply: Packet, transport: string): void {
  const addresses = (reply.answers ?? []).map((a) => (a as { data?: unknown }).data);
  expectThat(reply.id === 4242 && addresses.includes('172.28.0.80'), `DNS over ${transport}: www.lab.test A should be 172.28.0.80; got id ${reply.id}, rcode ${rcodeOf(reply.flags ?? 0)}, answers ${JSON.stringify(addresses)}`);
}

async function dnsHealth(port: number, deadlineMs: number): Promise<void> {
  checkWww(decode(await udpExchange(port, query(4242, 'www.lab.test', 'A'), deadlineMs)), 'UDP');
  await converse(port, deadlineMs, async (c) => {
    await c.write(frame(query(4242, 'www.lab.test', 'A')));
    checkWww(await c.reply(dnsTcpReply, 'DNS reply over TCP', deadlineMs), 'TCP');
  });
}

// ---------------------------------------------------------------------------
// HTTP: www, the proxy in front of the app, the app

function httpHealth(host: string, path: string): Protocol['health'] {
  return (port, deadlineMs) =>
    converse(port, deadlineMs, async (c) => {
      await c.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      const response = await c.reply(responseParser('GET'), `HTTP response to GET ${path}`, deadlineMs);
      expectThat(response.status === 200, `GET http://${host}${path} should be 200, got ${response.status} ${response.reason}`);
    });
}

const note = '{"title":"fuzz","body":"caf\u00e9 \u2615"}';
const WWW_SESSION = [
  Buffer.from('GET / HTTP/1.1\r\nHost: www.lab.test\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n'),
  Buffer.from('GET /guide/ HTTP/1.1\r\nHost: www.lab.test\r\nRange: bytes=0-99,200-\r\nIf-None-Match: "x"\r\n\r\n'),
  Buffer.from(`POST /api/login HTTP/1.1\r\nHost: www.lab.test\r\nContent-Type: application/json\r\nContent-Length: 41\r\n\r\n{"username":"alice","password":"alice"}\r\n`),
  Buffer.from(`POST /api/notes HTTP/1.1\r\nHost: www.lab.test\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${Buffer.byteLength(note).toString(16)}\r\n${note}\r\n0\r\n\r\n`),
  Buffer.from('GET /~web/ HTTP/1.1\r\nHost: www.lab.test\r\n\r\n'),
  Buffer.from('PUT /api/notes/1 HTTP/1.1\r\nHost: www.lab.test\r\nContent-Length: 2\r\n\r\n{}'),
  Buffer.from('GET /inspect?a=%41&b=%zz HTTP/1.1\r\nHost: www.lab.test\r\nCookie: a=b\r\n\r\n'),
  Buffer.from('OPTIONS * HTTP/1.1\r\nHost: www.lab.test\r\n\r\n'),
];

const SHOP_SESSION = [
  Buffer.from('GET / HTTP/1.1\r\nHost: shop.lab.test\r\nAccept: text/html\r\n\r\n'),
  Buffer.from('GET /api/products HTTP/1.1\r\nHost: shop.lab.test\r\nMax-Forwards: 3\r\nX-Forwarded-For: 127.0.0.9\r\n\r\n'),
  Buffer.from('TRACE / HTTP/1.1\r\nHost: shop.lab.test\r\nAuthorization: Basic YTpi\r\n\r\n'),
  Buffer.from('POST /api/products HTTP/1.1\r\nHost: shop.lab.test\r\nContent-Length: 5\r\n\r\nhello'),
  Buffer.from('GET /drip HTTP/1.1\r\nHost: shop.lab.test\r\n\r\n'),
];

// ---------------------------------------------------------------------------
// Mail

async function smtpHealth(port: number, deadlineMs: number, login?: string): Promise<void> {
  await converse(port, deadlineMs, async (c) => {
    const expectCode = async (code: number, what: string): Promise<void> => {
      const reply = await c.reply(smtpReply, `SMTP reply to ${what}`, deadlineMs);
      expectThat(reply.code === code, `SMTP ${what} should get ${code}, got ${reply.code} ${reply.text}`);
    };
    await expectCode(220, 'the connection (greeting)');
    await c.write('EHLO health.lab.test\r\n');
    await expectCode(250, 'EHLO');
    if (login) {
      await c.write(`AUTH PLAIN ${Buffer.from(`\0${login}\0${login}`).toString('base64')}\r\n`);
      await expectCode(235, 'AUTH PLAIN');
    }
    await c.write('QUIT\r\n');
    await expectCode(221, 'QUIT');
  });
}

const message = 'From: <carol@example.test>\r\nTo: <alice@lab.test>\r\nSubject: fuzz\r\n\r\nHello Alice.\r\n..a line that starts with a dot\r\n';
const SMTP_SESSION = lines('EHLO client.example.test', 'MAIL FROM:<carol@example.test> SIZE=200 BODY=8BITMIME', 'RCPT TO:<alice@lab.test>', 'RCPT TO:<"bob"@lab.test>', 'RCPT TO:<Postmaster>', 'DATA', message + '.', 'VRFY alice', 'NOOP', 'RSET', 'HELP', 'QUIT');
const SUBMISSION_SESSION = lines(
  'EHLO client.lab.test',
  `AUTH PLAIN ${Buffer.from('\0alice\0alice').toString('base64')}`,
  'MAIL FROM:<alice@lab.test> AUTH=<alice@lab.test>',
  'RCPT TO:<carol@example.test>',
  'DATA',
  message + '.',
  'QUIT',
);

async function pop3Health(port: number, deadlineMs: number): Promise<void> {
  await converse(port, deadlineMs, async (c) => {
    const expectOk = async (what: string): Promise<void> => {
      const reply = await c.reply(singleLine, `POP3 reply to ${what}`, deadlineMs);
      expectThat(reply.ok, `POP3 ${what} should get +OK, got -ERR ${reply.text}`);
    };
    await expectOk('the connection (greeting)');
    // bob, not alice: a fuzzed session may still hold alice's maildrop for a moment.
    for (const command of ['USER bob', 'PASS bob', 'STAT', 'QUIT']) {
      await c.write(command + '\r\n');
      await expectOk(command);
    }
  });
}

const POP3_SESSION = lines('CAPA', 'USER alice', 'PASS alice', 'STAT', 'LIST', 'UIDL 1', 'RETR 1', 'TOP 1 2', 'DELE 1', 'NOOP', 'RSET', 'QUIT');

/** An IMAP command's completion (RFC 9051 2.2.2): the lines up to the one that starts with `tag`; the reply is that line. */
const tagged =
  (tag: string): ReplyParser<string> =>
  (data) => {
    for (let at = 0; ; ) {
      const next = takeLine(data, at);
      if (!next) return undefined;
      at = next.end;
      if (next.line.startsWith(`${tag} `)) return { reply: next.line, raw: data.subarray(0, at), rest: data.subarray(at) };
    }
  };

async function imapHealth(port: number, deadlineMs: number): Promise<void> {
  await converse(port, deadlineMs, async (c) => {
    const greeting = await c.reply(tagged('*'), 'IMAP greeting', deadlineMs);
    expectThat(greeting.startsWith('* OK'), `IMAP greeting should be * OK, got ${greeting}`);
    // bob, not alice: the fuzzed sessions log in as alice.
    for (const [tag, command] of [['h1', 'LOGIN bob bob'], ['h2', 'SELECT INBOX'], ['h3', 'LOGOUT']] as const) {
      await c.write(`${tag} ${command}\r\n`);
      const done = await c.reply(tagged(tag), `IMAP reply to ${command}`, deadlineMs);
      expectThat(done.startsWith(`${tag} OK`), `IMAP ${command} should end with ${tag} OK, got ${done}`);
    }
  });
}

const appended = 'From: <carol@example.test>\r\nSubject: fuzz\r\n\r\nHello.\r\n';
const IMAP_SESSION = [
  ...lines('a1 CAPABILITY', 'a2 LOGIN alice {5}'),
  Buffer.from('alice\r\n'),
  ...lines('a3 LIST "" *', 'a4 SELECT INBOX', `a5 APPEND INBOX (\\Seen) {${appended.length}+}`),
  Buffer.from(appended + '\r\n'),
  ...lines('a6 FETCH 1:* (FLAGS UID BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODYSTRUCTURE)', 'a7 SEARCH UNSEEN SINCE 1-Jan-2026', 'a8 STORE 1 +FLAGS (\\Flagged)', 'a9 UID COPY 1:* Trash', 'a10 CREATE Fuzz.Sub', 'a11 IDLE', 'DONE', 'a12 EXPUNGE', 'a13 LOGOUT'),
];

// ---------------------------------------------------------------------------
// File transfer

async function ftpHealth(port: number, deadlineMs: number): Promise<void> {
  const client = new FtpClient(deadlineMs);
  try {
    await client.access({ host: '127.0.0.1', port, user: 'anonymous', password: 'health@lab.test' });
    const names = (await client.list('/pub')).map((e) => e.name);
    expectThat(names.includes('README.txt'), `FTP LIST /pub should show README.txt, got ${JSON.stringify(names)}`);
  } finally {
    client.close();
  }
}

const FTP_SESSION = lines(
  'USER alice',
  'PASS alice',
  'SYST',
  'FEAT',
  'OPTS UTF8 ON',
  'PWD',
  'TYPE I',
  'MKD fuzz',
  'CWD fuzz',
  'CDUP',
  'SIZE notes.txt',
  'MDTM notes.txt',
  'RNFR notes.txt',
  'RNTO renamed.txt',
  'RNFR renamed.txt',
  'RNTO notes.txt',
  'EPSV',
  'LIST',
  'PASV',
  'RETR notes.txt',
  'PORT 127,0,0,2,4,1', // the fuzzer's own address (FUZZ_SOURCE): no one listens there
  'EPRT |1|127.0.0.2|1025|',
  'STOR up.txt',
  'ABOR',
  'RMD fuzz',
  'STAT',
  'HELP',
  'QUIT',
);

async function sftpHealth(port: number, deadlineMs: number): Promise<void> {
  const ssh = new SshClient();
  try {
    const names = await new Promise<string[]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`SFTP: no login and listing within ${deadlineMs} ms`)), deadlineMs);
      const fail = (err: Error): void => {
        clearTimeout(timer);
        reject(new Error(`SFTP: ${err.message}`));
      };
      ssh.on('error', fail);
      ssh.on('ready', () =>
        ssh.sftp((err, sftp) => {
          if (err) return fail(err);
          sftp.readdir('/', (err2, list) => {
            if (err2) return fail(err2);
            clearTimeout(timer);
            resolve(list.map((e) => e.filename));
          });
        }),
      );
      ssh.connect({ host: '127.0.0.1', port, username: 'alice', password: 'alice', readyTimeout: deadlineMs });
    });
    expectThat(names.includes('notes.txt'), `SFTP readdir / as alice should show notes.txt, got ${JSON.stringify(names)}`);
  } finally {
    ssh.end();
  }
}

/** SSH's first messages in clear (RFC 4253 4.2, 7.1): the version line, then a KEXINIT. What follows is encrypted, so fuzzing stops there. */
function sshSession(): Buffer[] {
  const nameList = (names: string[]): Buffer => sshString(names.join(','));
  const payload = Buffer.concat([
    Buffer.from([20]), // SSH_MSG_KEXINIT
    Buffer.alloc(16, 0x5a), // cookie
    nameList(['curve25519-sha256', 'ecdh-sha2-nistp256', 'diffie-hellman-group14-sha256', 'ext-info-c']),
    nameList(['ssh-ed25519', 'ecdsa-sha2-nistp256', 'rsa-sha2-512']),
    ...[0, 1].map(() => nameList(['aes128-ctr', 'aes256-gcm@openssh.com', 'chacha20-poly1305@openssh.com'])),
    ...[0, 1].map(() => nameList(['hmac-sha2-256', 'hmac-sha2-512'])),
    ...[0, 1].map(() => nameList(['none', 'zlib@openssh.com'])),
    nameList([]),
    nameList([]),
    Buffer.from([0]), // first_kex_packet_follows
    uint32(0), // reserved
  ]);
  // Packet: length, padding length, payload, padding (4 to 255 bytes, to a multiple of 8).
  const padding = 8 - ((payload.length + 5) % 8) + 8;
  const packet = Buffer.concat([uint32(payload.length + padding + 1), Buffer.from([padding]), payload, Buffer.alloc(padding)]);
  return [Buffer.from('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n'), packet];
}

// ---------------------------------------------------------------------------

export const PROTOCOLS: readonly Protocol[] = [
  { name: 'dns-udp', services: ['dns'], port: 'dns', transport: 'udp', greeting: false, session: DNS_SESSION, health: dnsHealth },
  { name: 'dns-tcp', services: ['dns'], port: 'dns', transport: 'tcp', greeting: false, session: DNS_SESSION.map(frame), health: dnsHealth },
  { name: 'http', services: ['http', 'dns'], port: 'http', transport: 'tcp', greeting: false, session: WWW_SESSION, health: httpHealth('www.lab.test', '/') },
  { name: 'proxy', services: ['proxy', 'app', 'dns'], port: 'http', transport: 'tcp', greeting: false, session: SHOP_SESSION, health: httpHealth('shop.lab.test', '/') },
  { name: 'app', services: ['app', 'dns'], port: 'http', transport: 'tcp', greeting: false, session: SHOP_SESSION.map((m) => Buffer.from(m.toString('latin1').replace(/shop\.lab\.test/g, 'app.lab.test'), 'latin1')), health: httpHealth('app.lab.test', '/') },
  { name: 'smtp', services: ['smtp', 'dns'], port: 'smtp', transport: 'tcp', greeting: true, session: SMTP_SESSION, health: (port, ms) => smtpHealth(port, ms) },
  { name: 'submission', services: ['smtp', 'dns'], port: 'submission', transport: 'tcp', greeting: true, session: SUBMISSION_SESSION, health: (port, ms) => smtpHealth(port, ms, 'bob') },
  { name: 'pop3', services: ['pop3', 'dns'], port: 'pop3', transport: 'tcp', greeting: true, session: POP3_SESSION, health: pop3Health },
  { name: 'imap', services: ['imap', 'dns'], port: 'imap', transport: 'tcp', greeting: true, session: IMAP_SESSION, health: imapHealth },
  { name: 'ftp', services: ['ftp', 'dns'], port: 'ftp', transport: 'tcp', greeting: true, session: FTP_SESSION, health: ftpHealth },
  { name: 'sftp', services: ['sftp', 'dns'], port: 'sftp', transport: 'tcp', greeting: true, session: sshSession(), health: sftpHealth },
];

export function findProtocol(name: string): Protocol {
  const protocol = PROTOCOLS.find((p) => p.name === name);
  if (!protocol) throw new Error(`no protocol named ${name} (known: ${PROTOCOLS.map((p) => p.name).join(', ')})`);
  return protocol;
}
