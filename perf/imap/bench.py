#!/usr/bin/python3
"""bench.py - the IMAP workloads of issue 6's benchmark, against one server.

Runs inside the client's network namespace (run.sh starts it there) and
talks plain IMAP on a socket (no client library in the measured path):

  load       APPEND N messages of SIZE bytes, pipelined with LITERAL+
  fetch_all  SELECT + UID FETCH 1:* (FLAGS BODY.PEEK[])
  structure  UID FETCH 1:* (ENVELOPE BODYSTRUCTURE)
  search     UID SEARCH BODY <a term in one message>
  store      UID STORE 1:* +FLAGS.SILENT (\\Flagged)
  sessions   C concurrent clients, each LOGIN/SELECT/FETCH 1:10 BODY.PEEK[]/LOGOUT
             in a loop for a fixed count

Server CPU: --pids (comma list; for a forking server, its master: the CPU
of children that exited is in the master's cutime/cstime) read from
/proc/<pid>/stat before and after each workload; the kernel's clock tick.
Prints one JSON object per workload on stdout.
"""

import argparse
import json
import os
import re
import socket
import threading
import time

TICK = os.sysconf("SC_CLK_TCK")


def cpu_of(pids):
    """Seconds of CPU of PIDS, their live children and their reaped ones."""
    total = 0
    seen = set()
    pending = list(pids)
    while pending:
        pid = pending.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            with open(f"/proc/{pid}/stat") as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rindex(")") + 2:].split()
        # utime stime cutime cstime are fields 14..17 (1-based); here 11..14
        total += sum(int(x) for x in fields[11:15])
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                pending.extend(int(x) for x in f.read().split())
        except OSError:
            pass
    return total / TICK


class Conn:
    def __init__(self, host, port, timeout=120):
        self.s = socket.create_connection((host, port), timeout=timeout)
        self.buf = bytearray()
        self.rx = 0
        self.line()

    def line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                ln = bytes(self.buf[:i + 2])
                del self.buf[:i + 2]
                return ln
            chunk = self.s.recv(1 << 20)
            if not chunk:
                raise EOFError("closed")
            self.rx += len(chunk)
            self.buf += chunk

    def take(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(1 << 20)
            if not chunk:
                raise EOFError("closed")
            self.rx += len(chunk)
            self.buf += chunk
        del self.buf[:n]

    def until(self, tag):
        """Read responses up to TAG's; returns (status line, untagged count)."""
        n = 0
        t = tag.encode() + b" "
        while True:
            ln = self.line()
            m = re.search(rb"\{(\d+)\}\r\n$", ln)
            while m:
                self.take(int(m.group(1)))
                ln = self.line()
                m = re.search(rb"\{(\d+)\}\r\n$", ln)
            if ln.startswith(t):
                return ln, n
            n += 1

    def cmd(self, tag, text):
        self.s.sendall(f"{tag} {text}\r\n".encode())
        ln, n = self.until(tag)
        return ln, n

    def close(self):
        self.s.close()


def message(i, size):
    head = (f"From: sender{i}@example.org\r\nTo: bench@example.net\r\n"
            f"Subject: bench message {i}\r\nMessage-ID: <b{i}@example.org>\r\n"
            f"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\n")
    body = f"needle{i} " if i % 1000 == 7 else ""
    line = "the quick brown fox jumps over the lazy dog 0123456789\r\n"
    text = body + line * ((size - len(head) - len(body)) // len(line) + 1)
    return (head + text)[:size].encode()


def login(c, user, pw):
    ln, _ = c.cmd("l", f'LOGIN "{user}" "{pw}"')
    assert b"l OK" in ln, ln


def run(args, name, fn):
    cpu0 = cpu_of(args.pids)
    t0 = time.monotonic()
    out = fn()
    dt = time.monotonic() - t0
    cpu = cpu_of(args.pids) - cpu0
    out.update(workload=name, server=args.name, seconds=round(dt, 3),
               server_cpu_s=round(cpu, 3))
    if "ops" in out:
        out["ops_per_s"] = round(out["ops"] / dt, 1)
    if "bytes" in out:
        out["mb_per_s"] = round(out["bytes"] / dt / 1e6, 2)
    print(json.dumps(out), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, default=143)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--pids", type=lambda s: [int(x) for x in s.split(",") if x], default=[])
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=10)
    args = ap.parse_args()
    h, p = args.host, args.port

    def load():
        c = Conn(h, p)
        login(c, args.user, args.password)
        out = bytearray()
        for i in range(args.messages):
            m = message(i, args.size)
            out += b"a%d APPEND INBOX {%d+}\r\n" % (i, len(m)) + m + b"\r\n"
        sender = threading.Thread(target=c.s.sendall, args=(bytes(out),))
        sender.start()
        bad = 0
        for i in range(args.messages):
            ln, _ = c.until(f"a{i}")
            bad += b" OK" not in ln
        sender.join()
        c.close()
        assert bad == 0, f"{bad} APPENDs failed"
        return {"ops": args.messages, "bytes": args.messages * args.size}

    def fetch_all():
        c = Conn(h, p)
        login(c, args.user, args.password)
        c.cmd("s", "SELECT INBOX")
        rx0 = c.rx
        ln, n = c.cmd("f", "UID FETCH 1:* (FLAGS BODY.PEEK[])")
        assert b"f OK" in ln, ln
        c.close()
        return {"ops": n, "bytes": c.rx - rx0}

    def structure():
        c = Conn(h, p)
        login(c, args.user, args.password)
        c.cmd("s", "SELECT INBOX")
        rx0 = c.rx
        ln, n = c.cmd("f", "UID FETCH 1:* (ENVELOPE BODYSTRUCTURE)")
        c.close()
        return {"ops": n, "bytes": c.rx - rx0, "status": ln.decode().strip()[:60]}

    def search():
        c = Conn(h, p)
        login(c, args.user, args.password)
        c.cmd("s", "SELECT INBOX")
        ln, _ = c.cmd("q", "UID SEARCH BODY needle1007")
        c.close()
        return {"ops": 1, "status": ln.decode().strip()[:60]}

    def store():
        c = Conn(h, p)
        login(c, args.user, args.password)
        c.cmd("s", "SELECT INBOX")
        ln, _ = c.cmd("t", "UID STORE 1:* +FLAGS.SILENT (\\Flagged)")
        assert b"t OK" in ln, ln
        c.close()
        return {"ops": args.messages}

    def sessions():
        errors = []

        def worker():
            try:
                for _ in range(args.rounds):
                    c = Conn(h, p)
                    login(c, args.user, args.password)
                    c.cmd("s", "EXAMINE INBOX")
                    c.cmd("f", "FETCH 1:10 BODY.PEEK[]")
                    c.cmd("o", "LOGOUT")
                    c.close()
            except Exception as e:  # noqa: BLE001 - counted and reported
                errors.append(repr(e))
        ts = [threading.Thread(target=worker) for _ in range(args.clients)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return {"ops": args.clients * args.rounds - len(errors), "errors": len(errors)}

    for name, fn in (("load", load), ("fetch_all", fetch_all), ("structure", structure),
                     ("search", search), ("store", store), ("sessions", sessions)):
        run(args, name, fn)


if __name__ == "__main__":
    main()
