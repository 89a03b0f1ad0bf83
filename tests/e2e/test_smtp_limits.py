"""SMTP limits that the demo config sets loosely, on conf/demo.conf with
tight values (smtp_e2e.limits_conf): AUTH lockout per address after 4
failures for 3 s,
3 connections per client address, a 500 ms greeting delay (and talking
before it), 2 s command and data timeouts, 5 errors, 1 MiB messages."""

import socket
import time

import pytest

import sluice_e2e as e2e
import smtp_e2e as sm
from smtp_e2e import MX


@pytest.fixture
def limits(sluice, request):
    sluice.ensure(sm.limits_conf())
    yield sluice
    if not sluice.alive():
        pytest.fail(f"sluiced died during {request.node.name}:\n{e2e.log_tail(40)}")


def _open(port=MX):
    s = socket.create_connection((e2e.APPLIANCE_IP, port), timeout=10)
    return s, s.makefile("rb")


def _greeting_delay_and_pregreet():
    s, f = _open()
    t0 = time.monotonic()
    code, _ = sm.read_reply(f)
    waited = time.monotonic() - t0
    s.close()
    # a client that talks first is refused and dropped
    s, f = _open()
    s.sendall(b"EHLO eager.example.org\r\n")
    code2, lines2 = sm.read_reply(f)
    eof = s.recv(100) == b""
    s.close()
    return code, waited, code2, lines2[0], eof


def test_greeting_delay_and_pregreet(limits):
    code, waited, code2, line2, eof = sm.netns(_greeting_delay_and_pregreet)
    assert code == 220 and waited >= 0.45, waited
    assert code2 == 554 and line2.startswith("554 5.5.1") and "before greeting" in line2
    assert eof


def _per_ip_limit():
    held = [_open() for _ in range(3)]
    for s, f in held:
        assert sm.read_reply(f)[0] == 220
    s, f = _open()
    code, lines = sm.read_reply(f)
    eof = s.recv(100) == b""
    s.close()
    held.pop()[0].close()
    time.sleep(0.3)
    s2, f2 = _open()
    code_after = sm.read_reply(f2)[0]
    s2.close()
    for s_, _ in held:
        s_.close()
    return code, lines[0], eof, code_after


def test_per_ip_connection_limit(limits):
    before = sm.smtp_stats()["smtp.rejected_ip_limit"]
    code, line, eof, code_after = sm.netns(_per_ip_limit)
    assert code == 421 and line.startswith("421 4.3.2") and "too many connections" in line, line
    assert eof
    assert code_after == 220, "a slot freed by a closed session was not given back"
    assert sm.smtp_stats()["smtp.rejected_ip_limit"] == before + 1


def _idle(send_before=b""):
    s, f = _open()
    sm.read_reply(f)
    replies = []
    if send_before:
        s.sendall(send_before)
        for _ in range(send_before.count(b"\r\n")):
            replies.append(sm.read_reply(f)[0])
    t0 = time.monotonic()
    code, lines = sm.read_reply(f)
    waited = time.monotonic() - t0
    eof = s.recv(100) == b""
    s.close()
    return replies, code, lines[0], waited, eof


def test_command_timeout(limits):
    _, code, line, waited, eof = sm.netns(_idle)
    assert code == 421 and line.startswith("421 4.4.2"), line
    assert 1.5 <= waited <= 6, waited
    assert eof


def test_data_timeout_stores_nothing(limits):
    user, _ = sm.new_user("dto")
    before = sm.smtp_stats()
    replies, code, line, waited, eof = sm.netns(
        _idle, b"EHLO t.example.org\r\nMAIL FROM:<t@example.org>\r\nRCPT TO:<%s>\r\nDATA\r\n"
        % user.encode())
    assert replies == [250, 250, 250, 354]
    assert code == 421 and line.startswith("421 4.4.2") and eof, line
    after = sm.smtp_stats()
    assert after["smtp.timeouts"] > before["smtp.timeouts"]
    assert sm.inbox_count(user) == 0


def test_too_many_errors(limits):
    steps = [("send", b"EHLO e.example.org\r\n"), ("expect", 1)]
    steps += [("send", b"BOGUS\r\n"), ("expect", 1)] * 4
    steps += [("send", b"BOGUS\r\n"), ("expect", 2), ("eof", 5)]
    replies = sm.netns(sm.smtp_chat, steps)
    assert [c for c, _ in replies] == [220, 250, 500, 500, 500, 500, 500, 421], replies
    assert replies[-1][1][0].startswith("421 4.7.0")


def test_small_message_limit(limits):
    user, _ = sm.new_user("small")
    ok, _ = sm.unique_body("fits", size=900 * 1024)
    assert sm.netns(sm.smtplib_send, "a@example.org", [user], ok)[0] == {}
    big = b"Subject: big\r\n\r\n" + (b"q" * 998 + b"\r\n") * 1100
    replies = sm.netns(sm.smtp_chat, [
        ("send", b"EHLO s.example.org\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<%s>\r\nDATA\r\n"
         % user.encode()), ("expect", 4), ("send", big + b".\r\nQUIT\r\n"), ("expect", 2)])
    assert replies[5][1][0].startswith("552 5.3.4"), replies
    assert sm.inbox_count(user) == 1


def _auth_session(user, passwords):
    """One session on 587 trying PASSWORDS in turn; the reply codes."""
    import base64

    steps = [("send", b"EHLO lockout.example.org\r\n"), ("expect", 1)]
    for pw in passwords:
        blob = base64.b64encode(f"\0{user}\0{pw}".encode())
        steps += [("send", b"AUTH PLAIN " + blob + b"\r\n"), ("expect", 1)]
    return [c for c, _ in sm.smtp_chat(steps, port=sm.SUBMISSION)[2:]]


def test_auth_lockout_per_address(limits):
    user, password = sm.new_user("iplock")
    before = sm.smtp_stats()["smtp.auth_ip_locked"]
    # 3 failures end the session (per-session limit), the 4th in a new one
    assert sm.netns(_auth_session, user, ["a", "b", "c"])[:3] == [535, 535, 535]
    assert sm.netns(_auth_session, user, ["d"]) == [535]
    # now even the right password is refused, without being checked
    assert sm.netns(_auth_session, user, [password]) == [454]
    assert sm.smtp_stats()["smtp.auth_ip_locked"] == before + 1
    time.sleep(3.2)
    assert sm.netns(_auth_session, user, [password]) == [235]
