"""SMTP end to end: real clients (smtplib, raw sockets, swaks, Postfix's
smtp-source) against sluiced over the TAP, with every accepted message
checked in the store through sluicectl, byte for byte where it matters.

Each test makes its own users (the demo store persists across runs)."""

import re
import socket
import threading

import pytest

import sluice_e2e as e2e
import smtp_e2e as sm
from smtp_e2e import MX, SUBMISSION, ctl, netns


def _ehlo(port):
    import smtplib

    with smtplib.SMTP(e2e.APPLIANCE_IP, port, timeout=10) as c:
        code, _ = c.ehlo("client.example.org")
        return code, c.ehlo_resp.decode(), {k: v for k, v in c.esmtp_features.items()}


def test_ehlo_extensions(appliance):
    code, text, feats = netns(_ehlo, MX)
    assert code == 250
    for ext in ("pipelining", "size", "8bitmime", "enhancedstatuscodes", "smtputf8", "chunking",
                "dsn"):
        assert ext in feats, f"{ext} not advertised on 25: {text}"
    assert feats["size"] == str(sm.MAX_MESSAGE)
    assert "auth" not in feats, "AUTH offered on port 25 without TLS"
    code, text, feats = netns(_ehlo, SUBMISSION)
    assert code == 250 and feats.get("auth", "").split() == ["PLAIN", "LOGIN"], text


def test_plain_delivery_byte_identical(appliance):
    user, _ = sm.new_user("plain")
    msg, token = sm.unique_body("plain")
    # dot-stuffing on the wire must come back unstuffed
    msg += b".leading dot line\r\n..two dots\r\n.\r\n"
    refused, _ = netns(sm.smtplib_send, "alice@example.org", [user], msg)
    assert refused == {}
    [(uid, size, sha)] = sm.messages(user)
    stored = sm.message_get(user, uid)
    assert len(stored) == size and sm.sha256(stored) == sha
    received, content = sm.strip_received(stored)
    assert content == msg
    assert b"by mx.sluice.test (Sluice) with ESMTP id " in received
    assert f"for <{user}>".encode() in received
    assert sm.mailboxes(user)["INBOX"] == (1, 1, size)


def _pipelined(rcpts, msg):
    steps = [("send", b"EHLO pipe.example.org\r\n"), ("expect", 1)]
    batch = b"MAIL FROM:<p@example.org>\r\n" + b"".join(
        b"RCPT TO:<%s>\r\n" % r.encode() for r in rcpts) + b"DATA\r\n"
    steps += [("send", batch), ("expect", 2 + len(rcpts))]
    steps += [("send", msg + b".\r\nQUIT\r\n"), ("expect", 2)]
    return sm.smtp_chat(steps)


def test_pipelining_one_blob_for_many_recipients(appliance):
    users = [sm.new_user("pipe")[0] for _ in range(3)]
    msg, _ = sm.unique_body("pipelined")
    replies = netns(_pipelined, users + ["nobody-" + users[0]], msg)
    codes = [c for c, _ in replies]
    # greeting, EHLO, MAIL, 3x RCPT, the unknown one, DATA, end of data, QUIT
    assert codes == [220, 250, 250, 250, 250, 250, 550, 354, 250, 221], replies
    shas = set()
    for u in users:
        [(uid, size, sha)] = sm.messages(u)
        shas.add(sha)
        _, content = sm.strip_received(sm.message_get(u, uid))
        assert content == msg
    # one Received: header for all three (no "for <>"), so one stored body
    assert len(shas) == 1


def test_8bitmime_and_smtputf8(appliance):
    user, _ = sm.new_user("utf8")
    msg = ("From: =?utf-8?q?J=C3=BCrgen?= <juergen@example.org>\r\nSubject: Grüße\r\n"
           "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
           "Grüße aus München — ✓\r\n").encode("utf-8")
    refused, _ = netns(sm.smtplib_send, "jürgen@exämple.org", [user], msg,
                       mail_options=("BODY=8BITMIME", "SMTPUTF8"))
    assert refused == {}
    [(uid, _, _)] = sm.messages(user)
    received, content = sm.strip_received(sm.message_get(user, uid))
    assert content == msg
    assert b"with UTF8SMTP id" in received


def _bdat(user, chunks):
    steps = [("send", b"EHLO bdat.example.org\r\n"), ("expect", 1),
             ("send", b"MAIL FROM:<b@example.org>\r\nRCPT TO:<%s>\r\n" % user.encode()),
             ("expect", 2)]
    for i, c in enumerate(chunks):
        last = b" LAST" if i == len(chunks) - 1 else b""
        steps += [("send", b"BDAT %d%s\r\n" % (len(c), last) + c), ("expect", 1)]
    steps += [("send", b"QUIT\r\n"), ("expect", 1)]
    return sm.smtp_chat(steps)


def test_bdat_chunks(appliance):
    user, _ = sm.new_user("bdat")
    msg, _ = sm.unique_body("bdat", size=200000)
    # CRLF.CRLF inside a chunk is just text with BDAT
    msg += b"\r\n.\r\nMAIL FROM:<x@example.org>\r\n"
    chunks = [msg[:1000], msg[1000:150001], msg[150001:]]
    replies = netns(_bdat, user, chunks)
    assert [c for c, _ in replies] == [220, 250, 250, 250, 250, 250, 250, 221], replies
    assert "queued as" in replies[-2][1][0]
    [(uid, size, _)] = sm.messages(user)
    _, content = sm.strip_received(sm.message_full(user, uid, size))
    assert content == msg


def _rcpt_probe(rcpts, port=MX):
    steps = [("send", b"EHLO probe.example.org\r\n"), ("expect", 1),
             ("send", b"MAIL FROM:<probe@example.org>\r\n"), ("expect", 1)]
    for r in rcpts:
        steps += [("send", b"RCPT TO:<%s>\r\n" % r.encode()), ("expect", 1)]
    steps += [("send", b"QUIT\r\n"), ("expect", 1)]
    return [(c, lines[0]) for c, lines in sm.smtp_chat(steps, port=port)[3:-1]]


def test_unknown_user_and_relay_denied_on_mx(appliance):
    user, _ = sm.new_user("rcpt")
    local, dom = user.split("@")
    probes = {
        user.upper(): 250,                              # case-insensitive
        f"nobody-{local}@{dom}": 550,                   # unknown local user
        "bob@example.net": 554,                         # relay
        f"{local}%example.net@{dom}": 550,              # percent hack: unknown local
        f"example.net!{local}@{dom}": 550,              # bang path: unknown local
        f'"{local}@example.net"@{dom}': 550,            # quoted local part
        "bob@[198.18.0.9]": 554,                        # address literal
        f"@relay.example.net:bob@example.net": 554,     # source route: bob@example.net
    }
    got = netns(_rcpt_probe, list(probes))
    for (addr, want), (code, line) in zip(probes.items(), got):
        assert code == want, f"RCPT <{addr}>: {line}"
        if want == 550:
            assert line.startswith("550 5.1.1"), line
        if want == 554:
            assert line.startswith("554 5.7.1") and "Relay access denied" in line, line


def test_postmaster_is_accepted(appliance):
    # RFC 5321 §4.5.1: <postmaster> without a domain, and postmaster@ our domain
    assert "postmaster@sluice.test -> demo@sluice.test" in ctl("alias", "list").stdout
    got = netns(_rcpt_probe, ["postmaster", "postmaster@sluice.test", "PostMaster@Sluice.Test"])
    assert [c for c, _ in got] == [250, 250, 250], got


def test_submission_requires_auth(appliance):
    replies = netns(sm.smtp_chat, [("send", b"EHLO sub.example.org\r\n"), ("expect", 1),
                                   ("send", b"MAIL FROM:<x@example.org>\r\n"), ("expect", 1),
                                   ("send", b"QUIT\r\n"), ("expect", 1)], SUBMISSION)
    assert replies[2][0] == 530 and replies[2][1][0].startswith("530 5.7.0"), replies


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_swaks_auth_on_submission(appliance, mech):
    user, password = sm.new_user("auth" + mech.lower())
    p = sm.swaks("--port", SUBMISSION, "--auth", mech, "--auth-user", user, "--auth-password",
                 password, "--from", user, "--to", user, "--header", f"Subject: swaks {mech}")
    assert "235 2.7.0" in p.stdout and sm.last_reply_code(p.stdout) == 221, p.stdout
    assert sm.inbox_count(user) == 1
    # an authenticated sender may relay: the remote recipient is queued
    far = f"far-{mech.lower()}-{user.split('@')[0]}@example.net"
    p = sm.swaks("--port", SUBMISSION, "--auth", mech, "--auth-user", user, "--auth-password",
                 password, "--from", user, "--to", far)
    assert re.search(r"^<- +250 2\.0\.0 Ok: queued as", p.stdout, re.M), p.stdout
    assert f"to=<{far}> pending" in sm.queue_list()


def test_auth_failures_and_lockout(appliance):
    user, password = sm.new_user("lock")
    p = sm.swaks("--port", SUBMISSION, "--auth", "PLAIN", "--auth-user", user,
                 "--auth-password", password + "x", "--to", user, check=False)
    assert "535 5.7.8" in p.stdout, p.stdout

    import base64

    def blob(pw):
        return base64.b64encode(f"\0{user}\0{pw}".encode())

    steps = [("send", b"EHLO lock.example.org\r\n"), ("expect", 1)]
    for i in range(3):
        steps += [("send", b"AUTH PLAIN " + blob(f"bad{i}") + b"\r\n"), ("expect", 1)]
    steps += [("expect", 1), ("eof", 5)]
    replies = netns(sm.smtp_chat, steps, SUBMISSION)
    assert [c for c, _ in replies] == [220, 250, 535, 535, 535, 421], replies
    # the right password still works in a new session
    p = sm.swaks("--port", SUBMISSION, "--auth", "LOGIN", "--auth-user", user,
                 "--auth-password", password, "--from", user, "--to", user)
    assert "235 2.7.0" in p.stdout


def test_message_size_limits(appliance):
    user, _ = sm.new_user("size")
    over = sm.MAX_MESSAGE + 1
    replies = netns(sm.smtp_chat, [("send", b"EHLO size.example.org\r\n"), ("expect", 1),
                                   ("send", b"MAIL FROM:<s@example.org> SIZE=%d\r\n" % over),
                                   ("expect", 1), ("send", b"QUIT\r\n"), ("expect", 1)])
    assert replies[2][1][0].startswith("552 5.3.4"), replies
    # streamed past the limit without a SIZE: refused at the end of data
    big = b"Subject: too big\r\n\r\n" + (b"y" * 998 + b"\r\n") * (over // 1000 + 10)
    replies = netns(sm.smtp_chat, [("send", b"EHLO size.example.org\r\n"), ("expect", 1),
                                   ("send", b"MAIL FROM:<s@example.org>\r\nRCPT TO:<%s>\r\nDATA\r\n"
                                    % user.encode()), ("expect", 3),
                                   ("send", big + b".\r\n"), ("expect", 1),
                                   ("send", b"QUIT\r\n"), ("expect", 1)], timeout=120)
    assert replies[5][1][0].startswith("552 5.3.4"), replies[5]
    assert sm.inbox_count(user) == 0


@pytest.mark.slow
def test_swaks_20mb_message(appliance, tmp_path):
    user, password = sm.new_user("big")
    line = b"0123456789abcdefghijklmnopqrstuvwxyz" * 2 + b"\r\n"
    body = line * (20 * 1024 * 1024 // len(line))
    msg = b"Subject: 20 MB\r\nFrom: big@example.org\r\n\r\n" + body
    path = tmp_path / "big.eml"
    path.write_bytes(msg)
    p = sm.swaks("--port", SUBMISSION, "--auth", "PLAIN", "--auth-user", user,
                 "--auth-password", password, "--from", user, "--to", user,
                 "--data", f"@{path}", "--silent", "2", timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    [(uid, size, sha)] = sm.messages(user)
    head = sm.message_get(user, uid, "INBOX", 0, 4096)
    received, _ = sm.strip_received(head)
    # The store's blob is content-addressed: its SHA-256 proves the bytes.
    # swaks ends the DATA with CRLF "." CRLF after the file's own last CRLF,
    # so the message as sent has one more empty line.
    sent = msg + b"\r\n"
    assert sm.sha256(received + sent) == sha and size == len(received) + len(sent)


SMUGGLE = [b"\n.\n", b"\r.\r", b"\n.\r\n", b"\r\n.\n", b"\r\n.\r", b"\r.\r\n"]


def _smuggle(user, variant):
    payload = (b"Subject: smuggling\r\n\r\nfirst part" + variant +
               b"MAIL FROM:<evil@example.org>\r\nRCPT TO:<%s>\r\nDATA\r\n"
               b"Subject: smuggled\r\n\r\nsecond message\r\n" % user.encode())
    return sm.smtp_chat([("send", b"EHLO smuggle.example.org\r\n"), ("expect", 1),
                         ("send", b"MAIL FROM:<s@example.org>\r\nRCPT TO:<%s>\r\nDATA\r\n"
                          % user.encode()), ("expect", 3),
                         ("send", payload + b".\r\nQUIT\r\n"), ("expect", 2)])


@pytest.mark.parametrize("variant", SMUGGLE, ids=lambda v: v.hex())
def test_bare_eol_smuggling_rejected(appliance, variant):
    user, _ = sm.new_user("smuggle")
    replies = netns(_smuggle, user, variant)
    codes = [c for c, _ in replies]
    assert codes == [220, 250, 250, 250, 354, 554, 221], replies
    assert replies[5][1][0].startswith("554 5.6.0"), replies[5]
    assert sm.inbox_count(user) == 0, "a smuggled message was stored"


def test_smtp_source_parallel_sessions(appliance):
    user, _ = sm.new_user("load")
    before = sm.smtp_stats()
    n, sessions = 10000, 20
    e2e.nsexec("smtp-source", "-s", sessions, "-m", n, "-l", 4096, "-f", "load@example.org",
               "-t", user, f"{e2e.APPLIANCE_IP}:{MX}", timeout=600)
    msgs = sm.messages(user)
    assert len(msgs) == n
    assert sorted(u for u, _, _ in msgs) == list(range(1, n + 1))
    after = sm.smtp_stats()
    assert after["smtp.msg_accepted"] - before["smtp.msg_accepted"] >= n
    assert after["smtp.deliveries_committed"] - before["smtp.deliveries_committed"] >= n
    assert ctl("store", "check").stdout.strip().endswith("consistent")


def test_alias_delivers_to_target(appliance):
    user, _ = sm.new_user("target")
    alias = "alias-" + user
    ctl("alias", "add", alias, user)
    msg, _ = sm.unique_body("alias")
    refused, _ = netns(sm.smtplib_send, "a@example.org", [alias], msg)
    assert refused == {}
    [(uid, _, _)] = sm.messages(user)
    assert sm.strip_received(sm.message_get(user, uid))[1] == msg


def test_show_stats_has_smtp_counters(appliance):
    before = sm.smtp_stats()
    user, _ = sm.new_user("stats")
    netns(sm.smtplib_send, "a@example.org", [user], sm.unique_body("stats")[0])
    after = sm.smtp_stats()
    d = e2e.stats_delta(before, after)
    assert d["smtp.sessions"] >= 1 and d["smtp.msg_accepted"] >= 1 and d["smtp.mail"] >= 1
    assert d["smtp.bytes_received"] > 0
    assert "smtp.deliveries_inflight" in after


def test_txlog_line(appliance):
    user, _ = sm.new_user("txlog")
    msg, token = sm.unique_body("txlog")
    netns(sm.smtplib_send, "logger@example.org", [user], msg)
    line = next(ln for ln in reversed(e2e.log_tail(200).splitlines()) if f"to=<{user}>" in ln)
    for field in ("client=[198.18.0.1]", "helo=<client.example.org>",
                  "from=<logger@example.org>", "nrcpt=1", "verdict=accept", "status=250",
                  "size=", "data_ms=", "total_ms="):
        assert field in line, f"{field} missing in {line}"
    assert re.match(r".*\[smtp\] [0-9A-F]{15}: ", line), line


def _many_sessions_while_one_delivers(user):
    """A large DATA commit must not stall the others: 30 short sessions run
    while a 10 MB message is in flight."""
    import smtplib

    big = b"Subject: big\r\n\r\n" + (b"z" * 998 + b"\r\n") * 10000
    errors = []

    def bigsend():
        try:
            with smtplib.SMTP(e2e.APPLIANCE_IP, MX, timeout=120) as c:
                c.sendmail("big@example.org", [user], big)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    t = threading.Thread(target=bigsend)
    t.start()
    for _ in range(30):
        with smtplib.SMTP(e2e.APPLIANCE_IP, MX, timeout=10) as c:
            c.sendmail("small@example.org", [user], b"Subject: small\r\n\r\nhi\r\n")
    t.join(120)
    if errors:
        raise errors[0]
    return True


def test_concurrent_sessions_with_large_message(appliance):
    user, _ = sm.new_user("conc")
    assert netns(_many_sessions_while_one_delivers, user, timeout=180)
    assert sm.inbox_count(user) == 31


def test_client_disconnect_mid_data_stores_nothing(appliance):
    user, _ = sm.new_user("cut")

    def cut():
        s = socket.create_connection((e2e.APPLIANCE_IP, MX), timeout=10)
        f = s.makefile("rb")
        sm.read_reply(f)
        s.sendall(b"EHLO cut.example.org\r\nMAIL FROM:<c@example.org>\r\nRCPT TO:<%s>\r\nDATA\r\n"
                  % user.encode())
        for _ in range(4):
            sm.read_reply(f)
        s.sendall(b"Subject: cut\r\n\r\n" + b"partial\r\n" * 1000)
        s.close()
        return True

    before = sm.smtp_stats()["smtp.msg_aborted"]
    netns(cut)
    assert e2e.wait_for(lambda: sm.smtp_stats()["smtp.msg_aborted"] > before, 10)
    assert sm.inbox_count(user) == 0
