"""Mailbox load for `npm run bench`: many message downloads in one logged-in session.

    mail_load.py pop3 HOST PORT USER PASSWORD COUNT SECONDS   RETR 1, 2, ... n, 1, ... (poplib)
    mail_load.py imap HOST PORT USER PASSWORD COUNT SECONDS   FETCH n BODY.PEEK[] (imaplib)

Prints one line of JSON: downloads, seconds, rate. Only the downloads are timed, not
the login. Bounded both ways: at most COUNT downloads, and no new one after SECONDS.
"""
import imaplib
import json
import poplib
import sys
import time


def main():
    proto, host, port, user, password = sys.argv[1:6]
    count, seconds = int(sys.argv[6]), float(sys.argv[7])
    if proto == 'pop3':
        box = poplib.POP3(host, int(port), timeout=30)
        box.user(user)
        box.pass_(password)
        messages = len(box.list()[1])

        def fetch(n):
            return sum(len(line) for line in box.retr(n)[1])

        def done():
            box.quit()
    elif proto == 'imap':
        box = imaplib.IMAP4(host, int(port), timeout=30)
        box.login(user, password)
        typ, data = box.select('INBOX', readonly=True)
        messages = int(data[0])

        def fetch(n):
            typ, data = box.fetch(str(n), '(BODY.PEEK[])')
            if typ != 'OK':
                raise SystemExit('FETCH %d: %s' % (n, typ))
            return len(data[0][1])

        def done():
            box.logout()
    else:
        raise SystemExit('unknown protocol ' + proto)
    if messages == 0:
        raise SystemExit('the mailbox is empty')
    size = 0
    ops = 0
    start = time.perf_counter()
    while ops < count and time.perf_counter() - start < seconds:
        size += fetch(ops % messages + 1)
        ops += 1
    elapsed = time.perf_counter() - start
    done()
    print(json.dumps({'ops': ops, 'bytes': size, 'seconds': elapsed, 'rate': ops / elapsed}))


main()
