#!/usr/bin/python3
"""bench.py - the IMAP workloads of issue 6's benchmark, against one server.

Runs inside the client's network namespace (run.sh starts it there) and
talks plain IMAP on a socket (no client library in the measured path):

  load       APPEND N messages of SIZE bytes, pipelined with LITERAL+
  fetch_all  SELECT + UID FETCH 1:* (FLAGS BODY.PEEK[])
  structure  UID FETCH 1:* (ENVELOPE BODYSTRUCTURE)
  search     UID SEARCH BODY <a term in one message>
  store      UID STORE 1:* +FLAGS.SILENT (\\Flagged)
  sessions   C concurrent clients, each LOGIN/EXAMINE/FETCH 1:10 BODY.PEEK[]/LOGOUT
             ROUNDS times
  pop3_retr  POP3 (--pop3-port): USER/PASS, STAT, then RETR of every message,
             pipelined (RFC 2449 PIPELINING, both servers offer it) WINDOW
             commands ahead, QUIT without DELE

With --mailget (run.sh gives it by default), fetch_all, structure and
pop3_retr run in perf/imap/mailget.c instead: in Python those rows were bound by the
client (the servers 25-50 % busy). mailget frames the answers while the
clock runs and checks every body byte against the APPENDed messages after
it stops; it says when its window starts and ends, so the server's CPU is
read around the same window.

Every workload checks what it got (message count, byte count, the SEARCH
answer): a wrong answer is an error, not a figure. Each row also reports
the client's CPU-seconds in its window (client_cpu_s): a row whose client
is busy for most of the window is the client's, not the server's; and
others_cpu_s, what everything else on the box took meanwhile. A server that refuses a
command as unsupported (IMAP NO [CANNOT] / BAD) gets the row marked
"not supported" (status) and no figures.

Server CPU before and after each measured window: --pids (comma list), the
run time of their threads from /proc/PID/task/*/schedstat (ns), or
--cpu-file, a cpuacct.usage (ns) of the server's cgroup.
Prints one JSON object per workload on stdout.
"""

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time



def cpu_of(pids):
    """Seconds of CPU PIDS' threads have run: the first field of each
    /proc/PID/task/TID/schedstat (ns; the clock tick of /proc/PID/stat is
    10 ms, too coarse for rows that take 30 ms). Threads that exited are not
    counted: meant for a server whose threads live as long as it does
    (sluiced); a forking server is measured by its cgroup (--cpu-file)."""
    total = 0
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
    return total / 1e9


LITERAL = re.compile(rb"\{(\d+)\}\r\n$")


class Conn:
    """An IMAP client on a plain socket. The receive buffer is consumed by
    moving an offset (compacted now and then), not by deleting from its
    front: the client must not be what a 20 MB FETCH waits for."""

    def __init__(self, host, port, timeout=120):
        self.s = socket.create_connection((host, port), timeout=timeout)
        self.buf = bytearray()
        self.pos = 0
        self.rx = 0
        self.kept = []
        self.literal_bytes = 0
        self.line()

    def fill(self):
        chunk = self.s.recv(1 << 20)
        if not chunk:
            raise EOFError("closed")
        self.rx += len(chunk)
        if self.pos >= (1 << 20):
            del self.buf[:self.pos]
            self.pos = 0
        self.buf += chunk

    def line(self):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                ln = bytes(self.buf[self.pos:i + 2])
                self.pos = i + 2
                return ln
            self.fill()

    def take(self, n):
        while len(self.buf) - self.pos < n:
            self.fill()
        self.pos += n

    def until(self, tag, keep=None):
        """Read responses up to TAG's; returns (status line, untagged count).
        Untagged lines starting with KEEP (bytes) are appended to self.kept."""
        n = 0
        t = tag.encode() + b" "
        while True:
            ln = self.line()
            if keep and ln.startswith(keep):
                self.kept.append(ln)
            lit = 0
            m = LITERAL.search(ln) if ln.endswith(b"}\r\n") else None
            while m:
                self.take(int(m.group(1)))
                lit += int(m.group(1))
                ln = self.line()
                m = LITERAL.search(ln) if ln.endswith(b"}\r\n") else None
            self.literal_bytes += lit
            if ln.startswith(t):
                return ln, n
            n += 1

    def cmd(self, tag, text, keep=None):
        self.s.sendall(f"{tag} {text}\r\n".encode())
        ln, n = self.until(tag, keep)
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


class Unsupported(Exception):
    """The server refused the command as not implemented (a row to mark)."""


def unsupported(ln):
    return b" BAD " in ln or b"[CANNOT]" in ln


def cpu_by_thread(pids):
    """{thread name: CPU seconds} of PIDS' threads (schedstat), to split a
    row's server CPU between the worker and its helper threads."""
    out = {}
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/comm") as f:
                    name = f.read().strip()
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    ns = int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                continue
            out[name] = out.get(name, 0) + ns / 1e9
    return out


def box_busy():
    """CPU-seconds the whole box has been busy (all CPUs, /proc/stat: user,
    nice, system, irq, softirq, steal; 10 ms ticks). Minus the server's and
    the client's CPU it is what everything else took during a window: the
    other engineers' builds that share this box."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / os.sysconf("SC_CLK_TCK")


class Clock:
    """The measured window: from the start of the workload, or from the
    point where it calls start() (after its LOGIN and set-up commands, which
    are not what the row measures), to its end."""

    def __init__(self, pids):
        self.pids = pids
        self.start()

    def start(self):
        self.threads0 = cpu_by_thread(self.pids)
        self.cpu0 = cpu_of(self.pids)
        self.box0 = box_busy()
        self.t0 = time.monotonic()


# Rows that read without changing the mailbox, so they can be repeated on
# the same account: each is run --repeat times and the fastest repetition
# is the row's figure (its time and the server CPU of that same window).
# Other engineers' builds share this 2-core box; they only ever slow a
# repetition down, and a row that takes 30-300 ms is at their mercy: one
# compile landing on the server's CPU doubled the FETCH row's time. The
# other repetitions' times are kept in the row (rep_seconds).
REPEATABLE = {"fetch_all", "structure", "search", "pop3_retr"}


def measure(args, name, fn):
    """One measured run of workload FN: its result dict (not printed)."""
    prof = None
    if args.perf_dir and args.pids:
        # profile runs are for reading, not for the table: perf's sampling
        # costs the server a few per cent
        prof = subprocess.Popen(["perf", "record", "-F", "999", "-o",
                                 f"{args.perf_dir}/{args.name}-{name}.data",
                                 "-p", ",".join(map(str, args.pids))],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
    clock = Clock(args.pids)
    pcpu0 = time.process_time()
    try:
        out = fn(clock)
    except Unsupported as e:
        out = {"status": "not supported", "reply": str(e)[:80]}
    finally:
        if prof is not None:
            prof.send_signal(signal.SIGINT)
            prof.wait(timeout=60)
    # a workload that checks its result after the measured part ends the
    # window itself (_end: time and CPU when the measured part was done)
    box1 = out.pop("_box", None) or box_busy()
    t1, cpu1 = out.pop("_end", None) or (time.monotonic(), cpu_of(args.pids))
    dt = t1 - clock.t0
    # mailget times its own window (from the go line to the last answer):
    # the pipe round trips to this process are not the server's
    dt = out.pop("_seconds", None) or dt
    # the client's CPU in the window (all its threads; mailget's own figure
    # when it ran the row): a row whose client is near one CPU-second per
    # second is the client's, not the server's
    out["client_cpu_s"] = round(out.pop("_client_cpu", None) or
                                (time.process_time() - pcpu0), 4)
    cpu = cpu1 - clock.cpu0
    if clock.threads0:
        th = cpu_by_thread(args.pids)
        out["server_cpu_threads"] = {k: round(v - clock.threads0.get(k, 0), 4)
                                     for k, v in th.items() if v - clock.threads0.get(k, 0) > 0}
    out.update(workload=name, server=args.name, seconds=round(dt, 4),
               server_cpu_s=round(cpu, 4))
    if box1 is not None and clock.box0 is not None:
        # everything else on the box in the window (10 ms resolution)
        out["others_cpu_s"] = round(max(0.0, box1 - clock.box0 - cpu - out["client_cpu_s"]), 2)
    if out.get("status") != "not supported":
        if "ops" in out:
            out["ops_per_s"] = round(out["ops"] / dt, 1)
        if "bytes" in out:
            out["mb_per_s"] = round(out["bytes"] / dt / 1e6, 2)
    return out


def run(args, name, fn):
    """Measure NAME (REPEATABLE rows --repeat times, the fastest kept) and
    print its JSON line. A repetition that fails fails the row."""
    reps = args.repeat if name in REPEATABLE and not args.perf_dir else 1
    outs = [measure(args, name, fn) for _ in range(reps)]
    out = min(outs, key=lambda o: o["seconds"])
    if len(outs) > 1:
        out["rep_seconds"] = [o["seconds"] for o in outs]
        out["rep_server_cpu_s"] = [o["server_cpu_s"] for o in outs]
    out.update(args.extra)
    print(json.dumps(out), flush=True)


class Pop3:
    """A POP3 client on a plain socket: status lines and dot-stuffed
    multi-line answers (RFC 1939 §3)."""

    def __init__(self, host, port, timeout=120):
        self.s = socket.create_connection((host, port), timeout=timeout)
        self.buf = bytearray()
        self.pos = 0
        self.rx = 0
        ln = self.line()
        assert ln.startswith(b"+OK"), ln

    def fill(self):
        chunk = self.s.recv(1 << 20)
        if not chunk:
            raise EOFError("closed")
        self.rx += len(chunk)
        if self.pos > (1 << 20):
            del self.buf[:self.pos]
            self.pos = 0
        self.buf += chunk

    def line(self):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                ln = bytes(self.buf[self.pos:i + 2])
                self.pos = i + 2
                return ln
            self.fill()

    def multiline(self):
        """The body of a multi-line answer, dot-unstuffed, without its end
        line: one search for CRLF "." CRLF (an empty body is "." CRLF
        alone) and one replace to unstuff. A line-by-line loop in Python
        would make the client, not the server, what a RETR of every
        message waits for."""
        while True:
            start = self.pos
            if self.buf.startswith(b".\r\n", start):
                self.pos = start + 3
                return b""  # an empty body: a body's own "." line is stuffed
            i = self.buf.find(b"\r\n.\r\n", start)
            if i >= 0:
                break
            self.fill()  # may compact the buffer: start again from self.pos
        body = bytes(self.buf[start:i + 2])
        self.pos = i + 5
        if body.startswith(b"."):
            body = body[1:]
        return body.replace(b"\r\n..", b"\r\n.")

    def cmd(self, text):
        self.s.sendall(text.encode() + b"\r\n")
        return self.line()


def mailget(args, clock, mode, expect_file):
    """Run a bulk-read row with the C client (perf/imap/mailget.c): it logs
    in, says "ready", starts on our go line (the CPU window opens here), says
    "end" when the last answer is in (the window closes), then checks every
    answer against EXPECT_FILE and prints its JSON. A wrong answer fails
    the row."""
    cmd = [args.mailget, mode, "--host", args.host, "--user", args.user,
           "--pass", args.password, "--expect", expect_file, "--size", str(args.size),
           "--window", str(args.window),
           "--port", str(args.pop3_port if mode == "pop3" else args.port)]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        ln = p.stdout.readline()
        if ln != b"ready\n":
            raise AssertionError(f"mailget: {ln!r} {p.stderr.read()[-200:]!r}")
        clock.start()
        p.stdin.write(b"go\n")
        p.stdin.flush()
        ln = p.stdout.readline()
        end = (time.monotonic(), cpu_of(args.pids))
        box = box_busy()
        if ln != b"end\n":
            raise AssertionError(f"mailget: {ln!r} {p.stderr.read()[-200:]!r}")
        res = json.loads(p.stdout.readline())
        p.wait(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert res.get("ok") and p.returncode == 0, f"mailget {mode}: {res.get('error')}"
    return {"ops": res["ops"], "bytes": res["bytes"], "_end": end, "_box": box,
            "_seconds": res["seconds"], "_client_cpu": res["client_cpu_s"],
            "client": "mailget"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, default=143)
    ap.add_argument("--pop3-port", type=int, default=110)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--pids", type=lambda s: [int(x) for x in s.split(",") if x], default=[])
    ap.add_argument("--cpu-file", default="",
                    help="a cpuacct.usage file (ns): server CPU from it instead of --pids")
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--window", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=5,
                    help="repetitions of the read-only rows (REPEATABLE); the fastest is kept")
    ap.add_argument("--workloads", default="load,fetch_all,structure,search,store,sessions,pop3_retr")
    ap.add_argument("--perf-dir", default="", help="perf record each workload of --pids into DIR")
    ap.add_argument("--mailget", default="",
                    help="the C client (build/perf/imap/mailget) for fetch_all, structure and pop3_retr; "
                         "without it they run in Python")
    ap.add_argument("--extra", type=json.loads, default={}, help="JSON merged into every line")
    args = ap.parse_args()
    h, p = args.host, args.port
    if args.cpu_file:
        global cpu_of
        cg = args.cpu_file

        def cpu_of(_pids):  # noqa: F811 - the cgroup replaces the pid walk
            with open(cg) as f:
                return int(f.read()) / 1e9
    expect_bytes = sum(len(message(i, args.size)) for i in range(args.messages))
    expect_file = ""
    if args.mailget:
        fd, expect_file = tempfile.mkstemp(prefix="imapbench-expect.")
        with os.fdopen(fd, "wb") as f:
            for i in range(args.messages):
                f.write(message(i, args.size))

    def load(clock):
        # the whole APPEND stream is one sendall, whose socket timeout
        # bounds all of it: 20 MB into a server fsyncing on a box that
        # others' builds keep busy can take longer than the usual 120 s
        c = Conn(h, p, timeout=600)
        login(c, args.user, args.password)
        clock.start()
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
        return {"ops": args.messages, "bytes": expect_bytes}

    def fetch_all(clock):
        if args.mailget:
            return mailget(args, clock, "fetch", expect_file)
        c = Conn(h, p)
        login(c, args.user, args.password)
        clock.start()
        c.cmd("s", "SELECT INBOX")
        rx0 = c.rx
        ln, n = c.cmd("f", "UID FETCH 1:* (FLAGS BODY.PEEK[])")
        assert b"f OK" in ln, ln
        c.close()
        assert n == args.messages, f"{n} FETCH responses for {args.messages} messages"
        assert c.literal_bytes == expect_bytes, f"{c.literal_bytes} body bytes, not {expect_bytes}"
        return {"ops": n, "bytes": c.rx - rx0}

    def structure(clock):
        if args.mailget:
            return mailget(args, clock, "structure", expect_file)
        c = Conn(h, p)
        login(c, args.user, args.password)
        c.cmd("s", "SELECT INBOX")
        clock.start()
        rx0 = c.rx
        ln, n = c.cmd("f", "UID FETCH 1:* (ENVELOPE BODYSTRUCTURE)")
        c.close()
        assert b"f OK" in ln, ln
        assert n == args.messages, f"{n} FETCH responses for {args.messages} messages"
        return {"ops": n, "bytes": c.rx - rx0}

    def search(clock):
        c = Conn(h, p)
        login(c, args.user, args.password)
        c.cmd("s", "SELECT INBOX")
        clock.start()
        ln, _ = c.cmd("q", "UID SEARCH BODY needle1007", keep=b"* SEARCH")
        c.close()
        if unsupported(ln):
            raise Unsupported(ln.decode(errors="replace").strip())
        assert b"q OK" in ln, ln
        # APPEND order: message i has UID i+1 on both servers (fresh mailbox)
        want = [1008] if args.messages > 1007 else []
        got = [int(x) for k in c.kept for x in k.split()[2:]]
        assert got == want, f"SEARCH answered {got}, expected {want}"
        return {"ops": 1, "bytes": args.messages * args.size}

    def store(clock):
        c = Conn(h, p)
        login(c, args.user, args.password)
        c.cmd("s", "SELECT INBOX")
        clock.start()
        ln, _ = c.cmd("t", "UID STORE 1:* +FLAGS.SILENT (\\Flagged)")
        assert b"t OK" in ln, ln
        out = {"ops": args.messages, "_box": box_busy(),
               "_end": (time.monotonic(), cpu_of(args.pids))}
        ln, _ = c.cmd("c", "UID SEARCH FLAGGED", keep=b"* SEARCH")
        c.close()
        flagged = sum(len(k.split()) - 2 for k in c.kept)
        assert flagged == args.messages, f"{flagged} flagged after STORE"
        return out

    def sessions(clock):
        errors = []

        def worker():
            try:
                for _ in range(args.rounds):
                    c = Conn(h, p)
                    login(c, args.user, args.password)
                    c.cmd("s", "EXAMINE INBOX")
                    ln, n = c.cmd("f", "FETCH 1:10 BODY.PEEK[]")
                    assert b"f OK" in ln and n == 10, (ln, n)
                    c.cmd("o", "LOGOUT")
                    c.close()
            except Exception as e:  # noqa: BLE001 - counted and reported
                errors.append(repr(e))
        ts = [threading.Thread(target=worker) for _ in range(args.clients)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert len(errors) < args.clients * args.rounds, f"every session failed: {errors[:3]}"
        out = {"ops": args.clients * args.rounds - len(errors), "errors": len(errors)}
        if errors:
            out["error_sample"] = errors[0][:120]
        return out

    def pop3_retr(clock):
        if args.mailget:
            return mailget(args, clock, "pop3", expect_file)
        c = Pop3(h, args.pop3_port)
        ln = c.cmd(f"USER {args.user}")
        assert ln.startswith(b"+OK"), ln
        ln = c.cmd(f"PASS {args.password}")
        assert ln.startswith(b"+OK"), ln
        clock.start()
        ln = c.cmd("STAT")
        assert ln.startswith(b"+OK"), ln
        n = int(ln.split()[1])
        assert n == args.messages, f"STAT says {n} messages"
        rx0 = c.rx
        got = 0
        sent = 0
        done = 0
        while done < n:
            batch = b""
            while sent < n and sent - done < args.window:
                sent += 1
                batch += b"RETR %d\r\n" % sent
            if batch:
                c.s.sendall(batch)
            ln = c.line()
            assert ln.startswith(b"+OK"), ln
            body = c.multiline()
            want = message(done, args.size)
            # a message that does not end in CRLF gets one before the end
            # line (RFC 1939 §3); the rest must be the APPENDed bytes
            assert body == want or body == want + b"\r\n", f"RETR {done + 1}: wrong bytes"
            got += len(want)
            done += 1
        rx = c.rx - rx0
        out = {"ops": n, "bytes": rx, "_box": box_busy(),
               "_end": (time.monotonic(), cpu_of(args.pids))}
        c.cmd("QUIT")
        c.s.close()
        return out

    table = {"load": load, "fetch_all": fetch_all, "structure": structure, "search": search,
             "store": store, "sessions": sessions, "pop3_retr": pop3_retr}
    for name in args.workloads.split(","):
        try:
            run(args, name, table[name])
        except Exception as e:  # noqa: BLE001 - one failed row, reported as such
            print(json.dumps(dict(workload=name, server=args.name, status="failed",
                                  error=repr(e)[:200], **args.extra)), flush=True)
    if expect_file:
        os.unlink(expect_file)


if __name__ == "__main__":
    main()
