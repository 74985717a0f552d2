"""FTP load for `npm run bench`, with Python's ftplib, on one logged-in session.

    ftp_load.py HOST PORT USER PASSWORD small FILE COUNT SECONDS   RETR FILE again and again
    ftp_load.py HOST PORT USER PASSWORD retr FILE                  one RETR, bytes thrown away
    ftp_load.py HOST PORT USER PASSWORD stor LOCAL REMOTE          one STOR of a local file

Prints one line of JSON. Only the transfers are timed, not the login. Passive mode
(ftplib's default), binary type.
"""
import ftplib
import json
import sys
import time

BLOCK = 256 * 1024


def main():
    host, port, user, password, mode = sys.argv[1:6]
    ftp = ftplib.FTP()
    ftp.connect(host, int(port), timeout=30)
    ftp.login(user, password)
    ftp.voidcmd('TYPE I')
    counted = {'bytes': 0}

    def sink(data):
        counted['bytes'] += len(data)

    if mode == 'small':
        name, count, seconds = sys.argv[6], int(sys.argv[7]), float(sys.argv[8])
        start = time.perf_counter()
        done = 0
        # Bounded both ways: at most COUNT transfers, and no new one after SECONDS.
        while done < count and time.perf_counter() - start < seconds:
            ftp.retrbinary('RETR ' + name, sink, BLOCK)
            done += 1
        elapsed = time.perf_counter() - start
        result = {'ops': done, 'seconds': elapsed, 'rate': done / elapsed}
    elif mode == 'retr':
        start = time.perf_counter()
        ftp.retrbinary('RETR ' + sys.argv[6], sink, BLOCK)
        elapsed = time.perf_counter() - start
        result = {'bytes': counted['bytes'], 'seconds': elapsed, 'mibs': counted['bytes'] / elapsed / 2**20}
    elif mode == 'stor':
        local, remote = sys.argv[6], sys.argv[7]
        with open(local, 'rb') as f:
            start = time.perf_counter()
            ftp.storbinary('STOR ' + remote, f, BLOCK)
            elapsed = time.perf_counter() - start
            size = f.tell()
        result = {'bytes': size, 'seconds': elapsed, 'mibs': size / elapsed / 2**20}
    else:
        raise SystemExit('unknown mode ' + mode)
    ftp.quit()
    print(json.dumps(result))


main()
