"""IMAP over the TAP with real clients (issue 6, IMAP part of issue 7).

imaplib for the commands, two sessions for change notification (IDLE and
NOOP), a message delivered over SMTP read back byte for byte, STARTTLS
(with the plaintext-injection probe) and implicit TLS on 993, openssl
s_client and curl. Every test makes its own user."""

import imaplib
import re
import smtplib
import ssl
import subprocess
import time

import pytest

import imap_e2e as ie
import sluice_e2e as e2e
import smtp_e2e as se

# Until conf/demo.conf has its imap section (the lane wiring lands with it)
# there is nothing to talk to.
pytestmark = pytest.mark.skipif(
    not re.search(r"^imap \{", e2e.DEMO_CONF.read_text(), re.M),
    reason="conf/demo.conf has no imap section yet")

MSG1 = (b"From: Bob <bob@example.org>\r\nTo: someone@sluice.test\r\nSubject: first\r\n"
        b"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <m1@example.org>\r\n\r\n"
        b"Hello, first body.\r\n")
MSG2 = (b"From: Carol <carol@example.org>\r\nSubject: second\r\n\r\n"
        b"Second body\r\nwith two lines and a needle.\r\n")


@pytest.fixture
def user(appliance):
    return se.new_user("imap")


def test_greeting_and_capabilities(appliance):
    def run():
        plain = ie.Raw(ie.IMAP)
        tls = ie.Raw(ie.IMAPS, tls=True)
        caps = plain.cmd("a", "CAPABILITY")
        caps_tls = tls.cmd("a", "CAPABILITY")
        plain.close()
        tls.close()
        return plain.greeting, caps, tls.greeting, caps_tls
    g, caps, gt, caps_tls = ie.netns(run)
    assert g.startswith("* OK [CAPABILITY ") and "IMAP4rev2" in g
    line = caps[0]
    for cap in ("IMAP4rev1", "IMAP4rev2", "STARTTLS", "AUTH=PLAIN", "SASL-IR", "LITERAL+",
                "IDLE", "UIDPLUS", "MOVE", "CONDSTORE", "ESEARCH", "SPECIAL-USE",
                "LIST-STATUS", "APPENDLIMIT=", "NAMESPACE", "ID", "ENABLE", "UNSELECT"):
        assert cap in line, (cap, line)
    assert caps[-1].startswith("a OK")
    # implicit TLS: no STARTTLS to offer
    assert gt.startswith("* OK") and "STARTTLS" not in caps_tls[0]
    assert "AUTH=PLAIN" in caps_tls[0]


def test_login_and_mailbox_commands(user):
    addr, pw = user

    def run():
        c = ie.connect()
        try:
            c.login(addr, "wrong-" + pw)
            bad = "accepted"
        except imaplib.IMAP4.error as e:
            bad = str(e)
        c.logout()
        c = ie.connect(addr, pw)
        r = {"bad": bad}
        r["list"] = ie.ok(c.list())
        r["create"] = c.create("Projects/2026")
        r["create_again"] = c.create("Projects/2026")
        r["rename"] = c.rename("Projects/2026", "Projects/Done")
        r["subscribe"] = c.subscribe("Projects/Done")
        r["lsub"] = ie.ok(c.lsub())
        r["status"] = ie.ok(c.status("INBOX", "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN)"))
        r["namespace"] = ie.ok(c.namespace())
        r["id"] = c.xatom("ID", '("name" "e2e")')
        r["id_resp"] = ie.untagged(c, "ID")
        r["special"] = ie.ok(c.list('""', "*"))
        r["unsubscribe"] = c.unsubscribe("Projects/Done")
        r["delete"] = c.delete("Projects/Done")
        r["delete_missing"] = c.delete("Projects/Done")
        r["utf7"] = c.create("Caf&AOk-")
        r["list2"] = ie.ok(c.list('""', "Caf*"))
        c.logout()
        return r
    r = ie.netns(run)
    assert "AUTHENTICATIONFAILED" in r["bad"]
    names = b"\n".join(r["list"])
    for mb in (b'"INBOX"', b'"Sent"', b'"Trash"', b'"Drafts"', b'"Junk"', b'"Archive"'):
        assert mb in names
    assert b"\\Sent" in names and b"\\Trash" in names
    assert r["create"][0] == "OK"
    assert r["create_again"][0] == "NO" and b"ALREADYEXISTS" in r["create_again"][1][0]
    assert r["rename"][0] == "OK" and r["subscribe"][0] == "OK"
    assert any(b'"Projects/Done"' in x for x in r["lsub"])
    assert re.search(rb"MESSAGES 0 UIDNEXT 1 UIDVALIDITY \d+ UNSEEN 0", r["status"][0])
    assert r["namespace"][0].startswith(b'(("" "/"))')
    assert r["id"][0] == "OK"
    assert r["unsubscribe"][0] == "OK" and r["delete"][0] == "OK"
    assert r["delete_missing"][0] == "NO" and b"NONEXISTENT" in r["delete_missing"][1][0]
    assert r["utf7"][0] == "OK" and b'"Caf&AOk-"' in r["list2"][0]


def test_authenticate_plain_and_sasl_ir(user):
    addr, pw = user

    def run():
        c = ie.connect()
        typ, _ = c.authenticate("PLAIN", lambda _: f"\0{addr}\0{pw}".encode())
        c.logout()
        raw = ie.Raw()
        import base64
        tok = base64.b64encode(f"\0{addr}\0{pw}".encode()).decode()
        ir = raw.cmd("a", f"AUTHENTICATE PLAIN {tok}")
        raw.close()
        return typ, ir
    typ, ir = ie.netns(run)
    assert typ == "OK"
    assert ir[-1].startswith("a OK [CAPABILITY")


def test_append_select_fetch_store_search_expunge(user):
    addr, pw = user

    def run():
        c = ie.connect(addr, pw)
        r = {}
        r["a1"] = c.append("INBOX", r"(\Flagged $Work)", imaplib.Time2Internaldate(1700000000),
                           MSG1)
        r["a2"] = c.append("INBOX", None, None, MSG2)
        r["a3"] = c.append("Nowhere", None, None, MSG2)
        r["select"] = c.select("INBOX")
        r["recent"] = ie.untagged(c, "RECENT")
        r["flags"] = ie.untagged(c, "FLAGS")
        r["bodies"] = ie.fetch_bodies(c)
        r["meta"] = ie.ok(c.fetch("1:2", "(UID FLAGS RFC822.SIZE INTERNALDATE)"))
        r["hdr"] = ie.ok(c.fetch("2", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])"))
        r["partial"] = ie.ok(c.fetch("1", "(BODY.PEEK[TEXT]<0.5>)"))
        r["unseen"] = ie.ok(c.search(None, "UNSEEN"))
        r["flagged"] = ie.ok(c.uid("SEARCH", "FLAGGED"))
        r["kw"] = ie.ok(c.search(None, "KEYWORD", "$Work"))
        r["larger"] = ie.ok(c.search(None, "LARGER", "150"))
        r["seen"] = ie.ok(c.fetch("2", "(BODY[])"))
        r["unseen2"] = ie.ok(c.search(None, "UNSEEN"))
        r["store"] = ie.ok(c.store("1", "+FLAGS", r"(\Deleted)"))
        r["uidstore"] = ie.ok(c.uid("STORE", "2", "+FLAGS.SILENT", r"(\Answered)"))
        r["copy"] = c.copy("1:2", "Archive")
        r["move"] = c.uid("MOVE", "2", "Trash")
        r["move_untagged"] = ie.untagged(c, "EXPUNGE")
        r["expunge"] = c.expunge()
        r["after"] = ie.ok(c.status("INBOX", "(MESSAGES)"))
        r["archive"] = ie.ok(c.status("Archive", "(MESSAGES)"))
        r["trash"] = ie.ok(c.status("Trash", "(MESSAGES)"))
        r["check"] = c.check()
        r["close"] = c.close()
        r["examine"] = c.select("Archive", readonly=True)
        r["ro_store"] = c.store("1", "+FLAGS", r"(\Seen)")
        r["unselect"] = c.unselect()
        c.logout()
        return r
    r = ie.netns(run)
    assert r["a1"][0] == "OK" and b"APPENDUID" in r["a1"][1][0]
    assert r["a3"][0] == "NO" and b"TRYCREATE" in r["a3"][1][0]
    assert r["select"] == ("OK", [b"2"])
    assert r["recent"] == [b"2"]
    assert b"$Work" in r["flags"][0]
    assert r["bodies"] == {1: MSG1, 2: MSG2}
    meta = b" ".join(x if isinstance(x, bytes) else x[0] for x in r["meta"])
    assert b"RFC822.SIZE %d" % len(MSG1) in meta and b"\\Flagged" in meta
    assert b'"14-Nov-2023 22:13:20 +0000"' in meta or b"14-Nov-2023" in meta
    assert r["hdr"][0][1] == b"Subject: second\r\n\r\n"
    assert r["partial"][0][1] == b"Hello"
    assert r["unseen"] == [b"1 2"] and r["flagged"] == [b"1"] and r["kw"] == [b"1"]
    assert r["larger"] == [b"1"]
    assert r["unseen2"] == [b"1"]  # FETCH BODY[] set \Seen on 2
    assert r["copy"][0] == "OK" and b"COPYUID" in r["copy"][1][0]
    assert r["move"][0] == "OK" and r["move_untagged"] == [b"2"]
    assert r["expunge"] == ("OK", [b"1"])
    assert b"MESSAGES 0" in r["after"][0]
    assert b"MESSAGES 2" in r["archive"][0] and b"MESSAGES 1" in r["trash"][0]
    assert r["check"][0] == "OK" and r["close"][0] == "OK"
    assert r["examine"][0] == "OK"
    assert r["ro_store"][0] == "NO"
    assert r["unselect"][0] == "OK"


def test_two_sessions_idle_and_noop(user):
    """One session appends, sets flags and expunges while the other IDLEs
    (told at once) or NOOPs (told at the NOOP)."""
    addr, pw = user

    def run():
        a = ie.connect(addr, pw)
        ie.ok(a.append("INBOX", None, None, MSG1))
        b = ie.Raw()
        b.cmd("l", f'LOGIN "{addr}" "{pw}"')
        sel = b.cmd("s", "SELECT INBOX")
        r = {"sel": sel}
        b.send("i IDLE\r\n")
        r["idle"] = b.line()
        ie.ok(a.select("INBOX"))
        t0 = time.monotonic()
        ie.ok(a.append("INBOX", None, None, MSG2))
        r["exists"] = b.wait_for(r"^\* 2 EXISTS", timeout=2)
        r["exists_s"] = time.monotonic() - t0
        ie.ok(a.store("1", "+FLAGS", r"(\Flagged)"))
        r["fetch"] = b.wait_for(r"^\* 1 FETCH \(FLAGS \(.*\\Flagged", timeout=2)
        ie.ok(a.store("1", "+FLAGS", r"(\Deleted)"))
        ie.ok(a.expunge())
        r["expunge"] = b.wait_for(r"^\* 1 EXPUNGE", timeout=2)
        b.send("DONE\r\n")
        r["done"] = b.until_tagged("i")
        # NOOP: a change made while not idling is told at the NOOP
        ie.ok(a.append("INBOX", None, None, MSG1))
        r["quiet"] = b.silent(0.3)
        r["noop"] = b.cmd("n", "NOOP")
        r["noop2"] = b.cmd("n2", "NOOP")
        b.close()
        a.logout()
        return r
    r = ie.netns(run)
    assert any(x.startswith("* 1 EXISTS") for x in r["sel"])
    assert r["idle"].startswith("+ ")
    assert r["exists_s"] < 1.0, r["exists_s"]
    assert r["done"][-1].startswith("i OK")
    assert r["quiet"], "nothing may arrive outside IDLE before the NOOP"
    assert any(x.startswith("* 2 EXISTS") for x in r["noop"]), r["noop"]
    assert r["noop2"] == [r["noop2"][-1]] and r["noop2"][-1].startswith("n2 OK")


def test_smtp_delivery_byte_identical_and_idle(user):
    """A message delivered over SMTP is what IMAP serves, byte for byte
    (the stored message = our Received: header + what the client sent),
    and an IDLE session hears of it within a second."""
    addr, pw = user
    body = se.crlf(f"From: x@example.org\nTo: {addr}\nSubject: via smtp\n\n"
                   + "line of the smtp body\n" * 200)

    def run():
        b = ie.Raw()
        b.cmd("l", f'LOGIN "{addr}" "{pw}"')
        b.cmd("s", "SELECT INBOX")
        b.send("i IDLE\r\n")
        b.line()
        t0 = time.monotonic()
        s = smtplib.SMTP(e2e.APPLIANCE_IP, se.MX, timeout=20)
        s.sendmail("x@example.org", [addr], body)
        s.quit()
        t_sent = time.monotonic()
        seen = b.wait_for(r"^\* 1 EXISTS", timeout=3)
        t_seen = time.monotonic()
        b.send("DONE\r\n")
        b.until_tagged("i")
        b.close()
        c = ie.connect(addr, pw)
        c.select("INBOX")
        bodies = ie.fetch_bodies(c)
        size = ie.ok(c.fetch("1", "(RFC822.SIZE)"))
        c.logout()
        return seen, t_sent - t0, t_seen - t_sent, bodies, size
    seen, t_smtp, t_push, bodies, size = ie.netns(run)
    assert t_push < 1.0, t_push
    stored = se.message_full(addr, 1, len(bodies[1]))
    assert bodies[1] == stored
    hdr, rest = se.strip_received(bodies[1])
    assert rest == body
    assert b"RFC822.SIZE %d" % len(stored) in size[0]


def test_starttls_and_plaintext_injection(appliance):
    """STARTTLS on 143; `a STARTTLS\\r\\nb NOOP\\r\\n` in one segment: b is
    never answered (CVE-2011-0411)."""
    def run():
        raw = ie.Raw()
        caps = raw.cmd("c", "CAPABILITY")
        raw.send(b"a STARTTLS\r\nb NOOP\r\n")
        ok = raw.until_tagged("a")
        assert raw.buf == b"", raw.buf
        tls = ie.tls_context().wrap_socket(raw.s)
        tls.settimeout(1.0)
        tls.sendall(b"c CAPABILITY\r\n")
        got = b""
        deadline = time.monotonic() + 5
        while b"c OK" not in got and time.monotonic() < deadline:
            try:
                got += tls.recv(65536)
            except (socket_timeout(), ssl.SSLWantReadError):
                pass
        version = tls.version()
        tls.close()
        return caps, ok, got.decode(), version
    caps, ok, got, version = ie.netns(run)
    assert "STARTTLS" in caps[0]
    assert ok[-1].startswith("a OK")
    assert "b OK" not in got and "b BAD" not in got and "b NO" not in got, got
    assert "c OK" in got and "STARTTLS" not in got.split("\r\n")[0]
    assert version in ("TLSv1.2", "TLSv1.3")


def socket_timeout():
    import socket
    return socket.timeout


def s_client(args, stdin, timeout=30):
    p = e2e.nsexec("openssl", "s_client", *args, timeout=timeout, check=False,
                   input=stdin)
    return p.stdout if isinstance(p.stdout, str) else p.stdout.decode(errors="replace")


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_openssl_s_client(user, version):
    addr, pw = user
    script = f"a LOGIN {addr} {pw}\nb SELECT INBOX\nc LOGOUT\n"
    out = s_client(["-connect", f"{e2e.APPLIANCE_IP}:{ie.IMAPS}", version, "-quiet",
                    "-ign_eof"], script)
    assert "a OK" in out and "b OK [READ-WRITE]" in out and "* BYE" in out, out
    out = s_client(["-connect", f"{e2e.APPLIANCE_IP}:{ie.IMAP}", "-starttls", "imap",
                    version, "-quiet", "-ign_eof"], script)
    assert "a OK" in out and "b OK [READ-WRITE]" in out, out


def curl(*args, timeout=60):
    """curl in the namespace; stdout as bytes (no newline translation)."""
    return subprocess.run(["ip", "netns", "exec", e2e.NETNS, "curl", "-sS", "--max-time", "30",
                           *args], capture_output=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def test_curl_imap_and_imaps(user):
    addr, pw = user
    cred = f"{addr}:{pw}"
    base = f"imap://{e2e.APPLIANCE_IP}"
    msg = MSG1
    src = e2e.RUNDIR / "e2e-imap-upload.eml"
    e2e.RUNDIR.mkdir(parents=True, exist_ok=True)
    src.write_bytes(MSG1)
    up = curl("-u", cred, "-T", str(src), f"{base}/INBOX")
    assert up.returncode == 0, up.stderr
    lst = curl("-u", cred, f"{base}/")
    assert lst.returncode == 0 and b'"INBOX"' in lst.stdout, (lst.stdout, lst.stderr)
    got = curl("-u", cred, f"{base}/INBOX;UID=1")
    assert got.returncode == 0, got.stderr
    assert got.stdout == msg
    # imaps:// on 993 and STARTTLS required on 143
    got = curl("-k", "-u", cred, f"imaps://{e2e.APPLIANCE_IP}/INBOX;UID=1")
    assert got.returncode == 0 and got.stdout == msg, got.stderr
    got = curl("-k", "--ssl-reqd", "-u", cred, f"{base}/INBOX;UID=1")
    assert got.returncode == 0 and got.stdout == msg, got.stderr


def test_imap_stats(user):
    """`sluicectl show stats` counts IMAP sessions and what they did."""
    addr, pw = user
    before = ie.imap_stats()

    def run():
        c = ie.connect(addr, pw)
        c.select("INBOX")
        c.append("INBOX", None, None, MSG2)
        c.logout()
    ie.netns(run)
    after = ie.imap_stats()
    assert after.get("imap.sessions", 0) >= before.get("imap.sessions", 0) + 1, (before, after)
    assert after.get("imap.selects", 0) >= before.get("imap.selects", 0) + 1
    assert after.get("imap.auth_success", 0) >= before.get("imap.auth_success", 0) + 1


MIME = (b"From: Bob <bob@example.org>\r\nTo: someone@sluice.test\r\nSubject: parts\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
        b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nfirst part\r\n"
        b"--b1\r\nContent-Type: application/octet-stream; name=\"a.bin\"\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nAAECAwQF\r\n--b1--\r\n")


def test_envelope_bodystructure_and_parts(user):
    """ENVELOPE/BODYSTRUCTURE come from the structure computed at APPEND (and,
    for an SMTP delivery, at the first FETCH); MIME part sections are served
    byte for byte."""
    addr, pw = user

    def run():
        c = ie.connect(addr, pw)
        ie.ok(c.append("INBOX", None, None, MIME))
        s = smtplib.SMTP(e2e.APPLIANCE_IP, se.MX, timeout=20)
        s.sendmail("bob@example.org", [addr], MIME)
        s.quit()
        c.select("INBOX")
        r = {}
        r["meta"] = ie.ok(c.fetch("1:2", "(ENVELOPE BODYSTRUCTURE)"))
        r["p1"] = ie.ok(c.fetch("1", "(BODY.PEEK[1])"))
        r["p2mime"] = ie.ok(c.fetch("2", "(BODY.PEEK[2.MIME])"))
        r["p2"] = ie.ok(c.uid("FETCH", "1", "(BODY.PEEK[2]<2.4>)"))
        r["p9"] = ie.ok(c.fetch("1", "(BODY.PEEK[9])"))
        c.logout()
        return r
    r = ie.netns(run)
    meta = [x[0] if isinstance(x, tuple) else x for x in r["meta"]]
    assert len(meta) == 2, r["meta"]
    for m in meta:
        assert b'ENVELOPE (NIL "parts" (("Bob" NIL "bob" "example.org"))' in m, m
        assert b'BODYSTRUCTURE (("TEXT" "PLAIN" ("CHARSET" "utf-8")' in m, m
        assert b'"APPLICATION" "OCTET-STREAM" ("NAME" "a.bin") NIL NIL "BASE64" 8' in m, m
        assert b'"MIXED" ("BOUNDARY" "b1")' in m, m
    assert r["p1"][0][1] == b"first part"
    assert r["p2mime"][0][1] == (b"Content-Type: application/octet-stream; name=\"a.bin\"\r\n"
                                 b"Content-Transfer-Encoding: base64\r\n\r\n")
    assert r["p2"][0][1] == b"ECAw"
    assert r["p9"][0][1] == b""
