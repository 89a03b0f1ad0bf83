"""smtp_e2e - helpers for the SMTP and store end-to-end tests.

Built on sluice_e2e (the appliance in namespace `sluice`, clients in forked
children that join it). The demo config (conf/demo.conf) has a store under
/var/lib/sluice/demo that persists across runs, so every test works with
users it creates itself (`new_user`), never with counts it did not make.

- sluicectl wrappers that parse the store commands' tables;
- `smtp_chat`: a raw-socket SMTP transcript for what smtplib cannot do
  (BDAT, pipelining a whole transaction in one write, smuggling probes);
- `strip_received`: the stored message minus the trace header we prepend,
  to compare it with what the client sent byte for byte.
"""

import hashlib
import os
import re
import secrets
import socket
import subprocess

import sluice_e2e as e2e

DOMAIN = "sluice.test"
DEMO_USER = "demo@sluice.test"
DEMO_PASSWORD = "demo"
MX = 25
SUBMISSION = 587
MAX_MESSAGE = 25 * 1024 * 1024  # conf/demo.conf smtp.max_message_size
# conf/demo.conf with tight limits (test_smtp_limits.py)
LIMITS_CONF = e2e.E2E_DIR / "smtp_limits.conf"


# ------------------------------------------------------------- sluicectl

def ctl(*args, input=None, check=True, timeout=30):
    """Run sluicectl; returns the CompletedProcess (stdout, stderr, code)."""
    return e2e.run([str(e2e.SLUICECTL), *map(str, args)], input=input, check=check,
                   timeout=timeout)


def ctl_fails(*args, input=None, expect=None):
    """sluicectl must exit 1 with 'error: ...' on stderr (containing EXPECT)."""
    p = ctl(*args, input=input, check=False)
    assert p.returncode == 1, (f"sluicectl {' '.join(map(str, args))} exited {p.returncode}, "
                               f"expected 1\nstdout: {p.stdout}\nstderr: {p.stderr}")
    assert p.stderr.startswith("error: "), p.stderr
    if expect is not None:
        assert expect in p.stderr, f"expected {expect!r} in {p.stderr!r}"
    return p.stderr


def new_user(tag="u", domain=DOMAIN, password=None):
    """Create a fresh user; returns (address, password)."""
    addr = f"{tag}-{secrets.token_hex(4)}@{domain}"
    password = password or "pw" + secrets.token_hex(8)  # never starts with "-"
    ctl("user", "add", addr, "--password-stdin", input=password + "\n")
    return addr, password


def mailboxes(user):
    """{mailbox: (messages, unseen, size)} from `sluicectl mailbox list`."""
    out = {}
    for line in ctl("mailbox", "list", user).stdout.splitlines()[1:]:
        parts = line.split()
        out[parts[0]] = (int(parts[1]), int(parts[2]), int(parts[3]))
    return out


def inbox_count(user):
    return mailboxes(user)["INBOX"][0]


def messages(user, mailbox="INBOX"):
    """[(uid, size, sha256hex)] from `sluicectl message list`."""
    out = []
    for line in ctl("message", "list", user, mailbox).stdout.splitlines()[1:]:
        parts = line.split()
        out.append((int(parts[0]), int(parts[1]), parts[-1]))
    return out


def message_get(user, uid, mailbox="INBOX", offset=None, length=None):
    """The stored bytes of one message (sluicectl returns at most 8 MiB a call)."""
    args = [str(e2e.SLUICECTL), "message", "get", user, mailbox, str(uid)]
    if offset is not None:
        args += [str(offset), str(length if length is not None else 8 << 20)]
    p = subprocess.run(args, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    return p.stdout


def message_full(user, uid, size, mailbox="INBOX"):
    chunk = 8 << 20
    parts = [message_get(user, uid, mailbox, off, chunk) for off in range(0, size, chunk)]
    return b"".join(parts)


def strip_received(stored):
    """Split the stored message into (our Received: header, the rest)."""
    assert stored.startswith(b"Received: "), stored[:80]
    i = 0
    while True:
        j = stored.index(b"\r\n", i) + 2
        if stored[j:j + 1] not in (b" ", b"\t"):
            return stored[:j], stored[j:]
        i = j


def queue_list():
    return ctl("queue", "list").stdout


def smtp_stats():
    return {k: v for k, v in e2e.stats().items() if k.startswith("smtp.")}


def sha256(b):
    return hashlib.sha256(b).hexdigest()


# ------------------------------------------------------- in the netns child

def read_reply(f):
    """One (possibly multiline) reply from file object F: (code, [lines])."""
    lines = []
    while True:
        line = f.readline()
        if not line:
            raise AssertionError(f"EOF while reading a reply (got {lines!r})")
        line = line.decode("utf-8", "replace").rstrip("\r\n")
        lines.append(line)
        if len(line) < 4 or line[3] != "-":
            return int(line[:3]), lines


def smtp_chat(steps, port=MX, timeout=20.0):
    """A raw transcript. STEPS is a list of ("send", bytes) and ("expect", n)
    (read N replies) items; returns the list of replies read, each
    (code, lines). The greeting is read first and returned first."""
    replies = []
    with socket.create_connection((e2e.APPLIANCE_IP, port), timeout=timeout) as s:
        f = s.makefile("rb")
        replies.append(read_reply(f))
        for kind, arg in steps:
            if kind == "send":
                s.sendall(arg)
            elif kind == "expect":
                for _ in range(arg):
                    replies.append(read_reply(f))
            elif kind == "eof":
                s.settimeout(arg)
                rest = s.recv(4096)
                assert rest == b"", f"expected EOF, got {rest!r}"
            else:
                raise ValueError(kind)
    return replies


def smtplib_send(sender, rcpts, msg, port=MX, user=None, password=None, mail_options=(),
                 timeout=60.0):
    """Send one message with smtplib; returns (refused dict, last reply)."""
    import smtplib

    with smtplib.SMTP(e2e.APPLIANCE_IP, port, timeout=timeout) as c:
        c.ehlo("client.example.org")
        if user is not None:
            c.login(user, password)
        refused = c.sendmail(sender, rcpts, msg, mail_options=list(mail_options))
        return refused, (c.noop()[0])


def netns(fn, *args, timeout=120, **kwargs):
    return e2e.in_netns(fn, *args, timeout=timeout, **kwargs)


def swaks(*args, timeout=120, check=True):
    """swaks inside the namespace; returns the CompletedProcess."""
    return e2e.nsexec("swaks", "--server", e2e.APPLIANCE_IP, "--hide-informational",
                      *args, timeout=timeout, check=check)


def last_reply_code(swaks_out, prefix="<-"):
    codes = re.findall(r"^<[-*~]+ *(\d{3})[ -]", swaks_out, re.M)
    return int(codes[-1]) if codes else None


def crlf(text):
    """TEXT with every line end as CRLF (what SMTP puts on the wire)."""
    return re.sub(rb"\r?\n", b"\r\n", text if isinstance(text, bytes) else text.encode())


def unique_body(tag, size=0):
    """An RFC 5322 message with a unique Message-Id; SIZE pads the body."""
    token = secrets.token_hex(8)
    head = (f"From: sender@example.org\r\nTo: someone\r\nSubject: {tag} {token}\r\n"
            f"Message-Id: <{token}@example.org>\r\n\r\n").encode()
    body = b"hello from the e2e suite\r\n"
    if size > len(head) + len(body):
        line = (b"x" * 76 + b"\r\n")
        n = (size - len(head) - len(body)) // len(line)
        body += line * n
    return head + body, token


def rundir_path(*parts):
    return os.path.join(str(e2e.RUNDIR), *parts)
