"""mbsync (isync) two-way sync of a 2,000-message account over IMAP with
STARTTLS (issue 6): a full download into a local Maildir, then flag and
delete changes on each side, a re-sync, and both sides checked."""

import hashlib
import imaplib
import os
import re
import shutil
import subprocess
import time

import pytest

import imap_e2e as ie
import sluice_e2e as e2e
import smtp_e2e as se

N = 2000
CERT = "/var/lib/sluice/demo/selfsigned-cert.pem"


def message(i):
    return (f"From: sender{i}@example.org\r\nTo: sync@sluice.test\r\n"
            f"Subject: message {i}\r\nMessage-ID: <sync-{i}@example.org>\r\n\r\n"
            f"Body of message {i}.\r\n" + "x" * (i % 300) + "\r\n").encode()


def load(addr, pw, n):
    """APPEND N messages, pipelined with LITERAL+ (one write, then read
    all the tagged answers)."""
    raw = ie.Raw()
    raw.cmd("l", f'LOGIN "{addr}" "{pw}"')
    out = bytearray()
    for i in range(n):
        m = message(i)
        out += b"a%d APPEND INBOX {%d+}\r\n" % (i, len(m)) + m + b"\r\n"
    raw.send(bytes(out))
    bad = []
    for i in range(n):
        ln = raw.until_tagged(f"a{i}", timeout=120)[-1]
        if not ln.startswith(f"a{i} OK"):
            bad.append(ln)
    raw.close()
    return bad


def mbsyncrc(home, addr, pw):
    os.makedirs(os.path.join(home, "mail"), exist_ok=True)
    rc = os.path.join(home, "mbsyncrc")
    with open(rc, "w") as f:
        f.write(f"""IMAPAccount sluice
Host {e2e.APPLIANCE_IP}
Port 143
User {addr}
Pass {pw}
SSLType STARTTLS
CertificateFile {CERT}
Timeout 60

IMAPStore remote
Account sluice

MaildirStore local
Path {home}/mail/
Inbox {home}/mail/INBOX

Channel sync
Far :remote:
Near :local:
Patterns INBOX
Create Near
Expunge Both
SyncState *
""")
    return rc


def mbsync(rc):
    p = subprocess.run(["ip", "netns", "exec", e2e.NETNS, "mbsync", "-c", rc, "-a"],
                       capture_output=True, timeout=600, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, (p.stdout.decode(errors="replace")[-2000:],
                               p.stderr.decode(errors="replace")[-2000:])
    return p


def local_msgs(home):
    """{message index: (path, maildir flags)} of the local INBOX."""
    out = {}
    for sub in ("cur", "new"):
        d = os.path.join(home, "mail", "INBOX", sub)
        for name in os.listdir(d):
            path = os.path.join(d, name)
            with open(path, "rb") as f:
                data = f.read()
            # mbsync stores LF line ends and adds its X-TUID header
            data = re.sub(rb"(?m)^X-TUID: \S+\n", b"", data)
            m = re.search(rb"Subject: message (\d+)\n", data)
            assert m, data[:200]
            i = int(m.group(1))
            assert data == message(i).replace(b"\r\n", b"\n"), \
                f"local copy of message {i} differs"
            flags = name.split(":2,", 1)[1] if ":2," in name else ""
            out[i] = (path, flags)
    return out


def remote_state(addr, pw):
    """{message index: set of flags} of the remote INBOX."""
    def run():
        c = ie.connect(addr, pw)
        c.select("INBOX", readonly=True)
        data = ie.ok(c.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])"))
        c.logout()
        out = {}
        for part in data:
            if not isinstance(part, tuple):
                continue
            i = int(re.search(rb"message (\d+)", part[1]).group(1))
            fl = re.search(rb"FLAGS \(([^)]*)\)", part[0]).group(1).decode().split()
            out[i] = set(fl)
        return out
    return ie.netns(run, timeout=120)


@pytest.mark.slow
def test_mbsync_two_way_2000(appliance, tmp_path):
    addr, pw = se.new_user("sync")
    t0 = time.monotonic()
    bad = ie.netns(load, addr, pw, N, timeout=300)
    t_load = time.monotonic() - t0
    assert bad == [], bad[:5]
    home = str(tmp_path)
    rc = mbsyncrc(home, addr, pw)
    t0 = time.monotonic()
    mbsync(rc)
    t_first = time.monotonic() - t0
    local = local_msgs(home)
    assert sorted(local) == list(range(N))
    # changes on the near side: flag 10, delete 10 (trashed files;
    # Expunge Both carries the deletion to the server)
    for i in range(0, 10):
        path, flags = local[i]
        base = path.rsplit(":2,", 1)[0]
        os.rename(path, base + ":2," + "".join(sorted(set(flags) | {"F"})))
    for i in range(10, 20):
        os.unlink(local[i][0])
    # changes on the far side: \Seen on 20, expunge 15

    def far():
        c = ie.connect(addr, pw)
        c.select("INBOX")
        # message i has UID i+1 (appended in order into a fresh INBOX)
        ie.ok(c.uid("STORE", "101:120", "+FLAGS", r"(\Seen)"))
        ie.ok(c.uid("STORE", "201:215", "+FLAGS", r"(\Deleted)"))
        ie.ok(c.expunge())
        c.logout()
    ie.netns(far)
    t0 = time.monotonic()
    mbsync(rc)
    t_second = time.monotonic() - t0
    local = local_msgs(home)
    remote = remote_state(addr, pw)
    gone = set(range(10, 20)) | set(range(200, 215))
    want = set(range(N)) - gone
    assert set(local) == want, (sorted(set(local) ^ want)[:20])
    assert set(remote) == want, (sorted(set(remote) ^ want)[:20])
    for i in range(0, 10):
        assert "F" in local[i][1] and "\\Flagged" in remote[i], (i, local[i], remote[i])
    for i in range(100, 120):
        assert "S" in local[i][1] and "\\Seen" in remote[i], (i, local[i], remote[i])
    for i in (0, 50, 500, 1999):
        if i >= 10:
            assert "\\Flagged" not in remote[i]
    # a third run with nothing to do changes nothing
    mbsync(rc)
    assert set(local_msgs(home)) == want
    print(f"\nmbsync: load {N} msgs {t_load:.1f}s, first sync {t_first:.1f}s, "
          f"re-sync {t_second:.1f}s")
