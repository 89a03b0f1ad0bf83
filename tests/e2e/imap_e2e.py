"""imap_e2e - helpers for the IMAP end-to-end tests (test_imap*.py).

Built on sluice_e2e and smtp_e2e: the appliance runs conf/demo.conf (IMAP on
143 with STARTTLS, plaintext logins allowed for the demo, and 993 implicit
TLS); every test creates its own users (smtp_e2e.new_user). Clients run in
netns children; imaplib objects cannot cross the fork, so each helper does a
whole conversation in the child and returns plain data.
"""

import imaplib
import re
import socket
import ssl
import time

import sluice_e2e as e2e
import smtp_e2e as se

IMAP = 143
IMAPS = 993
HOST = e2e.APPLIANCE_IP


def netns(fn, *args, timeout=120, **kwargs):
    return e2e.in_netns(fn, *args, timeout=timeout, **kwargs)


def tls_context():
    """A client context for the appliance's self-signed certificate."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def connect(user=None, password=None, tls=False, timeout=20):
    """imaplib client (in a netns child), logged in if USER is given."""
    if tls:
        c = imaplib.IMAP4_SSL(HOST, IMAPS, ssl_context=tls_context(), timeout=timeout)
    else:
        c = imaplib.IMAP4(HOST, IMAP, timeout=timeout)
    if user is not None:
        typ, _ = c.login(user, password)
        assert typ == "OK"
    return c


def ok(resp):
    typ, data = resp
    assert typ == "OK", (typ, data)
    return data


def fetch_bodies(c, spec="1:*", item="BODY.PEEK[]"):
    """{uid: bytes} of FETCH SPEC (UID FETCH) ITEM."""
    data = ok(c.uid("FETCH", spec, f"(UID {item})"))
    out = {}
    for part in data:
        if isinstance(part, tuple):
            m = re.search(rb"UID (\d+)", part[0])
            out[int(m.group(1))] = part[1]
    return out


def untagged(c, name):
    """Pop imaplib's untagged responses of NAME (a list, maybe empty)."""
    return c.untagged_responses.pop(name, [])


class Raw:
    """A line-level IMAP client on a plain socket (in a netns child), for
    IDLE, pipelining and what imaplib hides."""

    def __init__(self, port=IMAP, tls=False, timeout=20):
        s = socket.create_connection((HOST, port), timeout=timeout)
        if tls:
            s = tls_context().wrap_socket(s)
        self.s = s
        self.buf = b""
        self.greeting = self.line()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.s.sendall(data)

    def line(self, timeout=None):
        if timeout is not None:
            self.s.settimeout(timeout)
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("connection closed; have %r" % self.buf)
            self.buf += chunk
        i = self.buf.index(b"\r\n") + 2
        ln, self.buf = self.buf[:i], self.buf[i:]
        return ln.decode("utf-8", "replace")

    def until_tagged(self, tag, timeout=20):
        """Lines up to and including the one tagged TAG (literals are kept
        inline as raw text)."""
        lines = []
        deadline = time.monotonic() + timeout
        while True:
            ln = self.line(timeout=max(0.1, deadline - time.monotonic()))
            m = re.search(r"\{(\d+)\}\r\n$", ln)
            if m:
                n = int(m.group(1))
                while len(self.buf) < n:
                    chunk = self.s.recv(65536)
                    if not chunk:
                        raise EOFError
                    self.buf += chunk
                ln += self.buf[:n].decode("utf-8", "replace")
                self.buf = self.buf[n:]
            lines.append(ln)
            if ln.startswith(tag + " "):
                return lines

    def cmd(self, tag, text, timeout=20):
        self.send(f"{tag} {text}\r\n")
        return self.until_tagged(tag, timeout)

    def wait_for(self, pattern, timeout=5):
        """Read lines until one matches PATTERN; returns all lines read."""
        lines = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no line matching {pattern!r} within {timeout}s: {lines}")
            try:
                ln = self.line(timeout=left)
            except socket.timeout:
                continue
            lines.append(ln)
            if re.search(pattern, ln):
                return lines

    def silent(self, wait=0.5):
        """Nothing arrives within WAIT seconds."""
        self.s.settimeout(wait)
        try:
            chunk = self.s.recv(65536)
        except socket.timeout:
            return self.buf == b""
        return chunk == b"" and self.buf == b""

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def imap_stats():
    """{name: value} of the imap.* lines of `sluicectl show stats`."""
    out = {}
    for line in se.ctl("show", "stats").stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].startswith("imap."):
            out[parts[0]] = int(parts[1])
    return out
