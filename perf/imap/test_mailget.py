#!/usr/bin/python3
"""test_mailget.py - mailget (perf/imap/mailget.c) against tiny scripted
POP3 and IMAP servers on 127.0.0.1: it passes right answers, including
dot-stuffed lines and FETCH items in another order, and fails the run on
every kind of wrong one (a changed byte, a missing or extra message, a
-ERR, a duplicate UID, a NO to FETCH, another message's ENVELOPE).

  /usr/bin/python3 -m pytest perf/imap/test_mailget.py   (after make all)
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pytest

ROOT = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, ROOT)
import bench  # noqa: E402

MAILGET = os.environ.get("MAILGET", os.path.join(ROOT, "../../build/perf/imap/mailget"))
N, SIZE = 40, 600


def messages():
    out = []
    for i in range(N):
        m = bench.message(i, SIZE)
        if i == 3:  # a line that starts with a dot, to be stuffed
            m = m[:200] + b"\r\n.dot line\r\n" + m[213:]
        if i == 5:  # a lone dot line, a line ending in dots, a dots-only line
            ins = b"\r\n.\r\nend.\r\n..\r\n.\r\n"
            m = m[:300] + ins + m[300 + len(ins):]
        out.append(m[:SIZE])
    return out


def serve(handler):
    """Listen on an ephemeral port; HANDLER(conn) answers one client."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)

    def run():
        c, _ = ls.accept()
        try:
            handler(c)
        except OSError:
            pass
        finally:
            c.close()
            ls.close()
    threading.Thread(target=run, daemon=True).start()
    return ls.getsockname()[1]


def send(c, data, split):
    """All of DATA; SPLIT: in 7-byte pieces with a pause between them, so
    that the client's reads end at every kind of place (inside CRLF "."
    CRLF, inside a literal's announcement)."""
    if not split:
        c.sendall(data)
        return
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for k in range(0, len(data), 7):
        c.sendall(data[k:k + 7])
        time.sleep(0.0001)


def lines(c):
    buf = b""
    while True:
        while b"\r\n" not in buf:
            d = c.recv(65536)
            if not d:
                return
            buf += d
        ln, buf = buf.split(b"\r\n", 1)
        yield ln


def pop3_server(msgs, fault=None, split=False):
    def h(c):
        c.sendall(b"+OK ready\r\n")
        for ln in lines(c):
            verb = ln.split()[0].upper()
            if verb in (b"USER", b"PASS"):
                c.sendall(b"+OK\r\n")
            elif verb == b"STAT":
                n = len(msgs) + (1 if fault == "extra" else 0)
                c.sendall(b"+OK %d %d\r\n" % (n, SIZE * n))
            elif verb == b"RETR":
                i = int(ln.split()[1]) - 1
                if fault == "err" and i == 7:
                    c.sendall(b"-ERR no such message\r\n")
                    continue
                body = msgs[i % len(msgs)]
                if fault == "byte" and i == 11:
                    body = body[:100] + b"X" + body[101:]
                stuffed = b"\r\n".join(b"." + x if x.startswith(b".") and fault != "unstuffed"
                                       else x for x in body.split(b"\r\n"))
                send(c, b"+OK %d octets\r\n" % len(body) + stuffed + b"\r\n.\r\n", split)
            elif verb == b"QUIT":
                c.sendall(b"+OK bye\r\n")
                return
    return h


def imap_server(msgs, fault=None, split=False):
    def h(c):
        c.sendall(b"* OK ready\r\n")
        for ln in lines(c):
            tag, verb = ln.split()[0], ln.split()[1].upper()
            if verb == b"LOGIN":
                c.sendall(tag + b" OK done\r\n")
            elif verb == b"SELECT":
                c.sendall(b"* %d EXISTS\r\n* OK [UIDVALIDITY 1] x\r\n" % len(msgs) + tag +
                          b" OK [READ-WRITE] done\r\n")
            elif verb == b"UID" and b"ENVELOPE" in ln:
                out = b""
                for i in range(len(msgs)):
                    subj = b"bench message %d" % (i + 1 if fault == "subject" and i == 4 else i)
                    out += (b'* %d FETCH (UID %d ENVELOPE ("Mon, 23 Nov 2026" "%s" NIL NIL NIL '
                            b'NIL NIL NIL NIL "<b%d@example.org>") BODYSTRUCTURE ("text" '
                            b'"plain" NIL NIL NIL "7bit" %d 10 NIL NIL NIL NIL))\r\n'
                            % (i + 1, i + 1, subj, i, SIZE))
                c.sendall(out + tag + b" OK done\r\n")
            elif verb == b"UID":
                out = b""
                for i, m in enumerate(msgs):
                    uid = i + 1
                    if fault == "missing" and i == 5:
                        continue
                    if fault == "dupuid" and i == 6:
                        uid = 6
                    if fault == "byte" and i == 9:
                        m = m[:50] + b"?" + m[51:]
                    # FLAGS first on even messages, UID first on odd ones
                    items = (b"FLAGS (\\Seen) UID %d" if i % 2 == 0 else b"UID %d FLAGS ()") % uid
                    out += b"* %d FETCH (%s BODY[] {%d}\r\n" % (i + 1, items, len(m)) + m + b")\r\n"
                send(c, out + tag + (b" NO failed\r\n" if fault == "no" else b" OK done\r\n"),
                     split)
            elif verb == b"LOGOUT":
                c.sendall(b"* BYE\r\n" + tag + b" OK bye\r\n")
                return
    return h


def run_mailget(mode, port, msgs_expected):
    with tempfile.NamedTemporaryFile() as f:
        f.write(b"".join(msgs_expected))
        f.flush()
        p = subprocess.run([MAILGET, mode, "--host", "127.0.0.1", "--port", str(port),
                            "--user", "u", "--pass", "p", "--expect", f.name,
                            "--size", str(SIZE), "--window", "8", "--timeout", "10"],
                           input=b"go\n", capture_output=True, timeout=60)
    out = p.stdout.decode().splitlines()
    res = json.loads(out[-1]) if out and out[-1].startswith("{") else None
    return p.returncode, res, p.stderr.decode()


@pytest.fixture(scope="module", autouse=True)
def built():
    if not os.access(MAILGET, os.X_OK):
        pytest.skip(f"{MAILGET} not built (make all)")


@pytest.mark.parametrize("split", [False, True])
def test_pop3_right_answers_pass(split):
    msgs = messages()
    rc, res, err = run_mailget("pop3", serve(pop3_server(msgs, split=split)), msgs)
    assert rc == 0 and res["ok"] and res["ops"] == N, (res, err)


@pytest.mark.parametrize("fault", ["byte", "err", "extra", "unstuffed"])
def test_pop3_wrong_answers_fail(fault):
    msgs = messages()
    rc, res, err = run_mailget("pop3", serve(pop3_server(msgs, fault)), msgs)
    assert rc == 1, (res, err)
    assert (res is not None and not res["ok"]) or "STAT says" in err


@pytest.mark.parametrize("split", [False, True])
def test_imap_right_answers_pass(split):
    msgs = messages()
    rc, res, err = run_mailget("fetch", serve(imap_server(msgs, split=split)), msgs)
    assert rc == 0 and res["ok"] and res["ops"] == N, (res, err)


@pytest.mark.parametrize("fault", ["byte", "missing", "dupuid", "no"])
def test_imap_wrong_answers_fail(fault):
    msgs = messages()
    rc, res, err = run_mailget("fetch", serve(imap_server(msgs, fault)), msgs)
    assert rc == 1 and res is not None and not res["ok"], (res, err)


def test_structure_right_answers_pass():
    msgs = messages()
    rc, res, err = run_mailget("structure", serve(imap_server(msgs)), msgs)
    assert rc == 0 and res["ok"] and res["ops"] == N, (res, err)


def test_structure_wrong_subject_fails():
    msgs = messages()
    rc, res, err = run_mailget("structure", serve(imap_server(msgs, "subject")), msgs)
    assert rc == 1 and res is not None and "ENVELOPE" in res["error"], (res, err)
