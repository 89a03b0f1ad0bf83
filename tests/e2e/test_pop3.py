"""POP3 end to end on port 110 (plaintext logins allowed in the demo
config): Python's poplib and a raw-socket client for every command, curl
pop3:// and fetchmail as real clients, the maildrop lock, UPDATE against
the store, login lockout and idle timeouts (on conf/demo.conf with tight
pop3 limits, pop3_e2e.pop3_conf).

Mail arrives over SMTP port 25; what POP3 serves is compared with what the
store holds (`sluicectl message get`), byte for byte. Every test makes its
own user, so counts and unique-ids are its own."""

import base64
import hashlib
import os
import socket
import stat
import time

import pytest

import pop3_e2e as pe
import sluice_e2e as e2e
import smtp_e2e as sm
from pop3_e2e import POP3, Pop3Raw
from smtp_e2e import netns


def _mailbox(n=3, tag="pop", lines=pe.DOT_LINES):
    """A fresh user with N messages delivered over SMTP: (user, password,
    [sent bytes], [(uid, stored bytes)])."""
    user, pw = sm.new_user(tag)
    sent = [pe.message(f"{tag}-{i}", lines)[0] for i in range(n)]
    pe.deliver(user, sent)
    got = pe.stored(user)
    assert len(got) == n, got
    for (_, st), m in zip(got, sent):
        assert sm.strip_received(st)[1] == m
    return user, pw, sent, got


def _retry_login(user, pw, port=POP3, wait=5.0):
    """Log in, retrying while the maildrop is still [IN-USE] (a session
    that just went away releases its lock when the appliance sees the
    close). Returns the logged-in client."""
    deadline = time.monotonic() + wait
    while True:
        c = Pop3Raw(port)
        assert c.cmd(f"USER {user}").startswith("+OK")
        st = c.cmd(f"PASS {pw}")
        if st.startswith("+OK"):
            return c
        c.close()
        assert st.startswith("-ERR [IN-USE]") and time.monotonic() < deadline, st
        time.sleep(0.2)


# ------------------------------------------------------------ greeting, CAPA

def _capa_both_states(user, pw):
    c = Pop3Raw()
    before = c.multi("CAPA")
    c.login(user, pw)
    after = c.multi("CAPA")
    assert c.cmd("QUIT").startswith("+OK")
    c.close()
    return c.greeting, before, after


def test_greeting_and_capa(appliance):
    user, pw = sm.new_user("capa")
    greeting, (st1, capa1), (st2, capa2) = netns(_capa_both_states, user, pw)
    assert greeting == f"+OK {pe.HOSTNAME} Sluice POP3 ready", greeting
    assert "<" not in greeting, "APOP timestamp in the greeting, but APOP is not offered"
    assert st1.startswith("+OK") and st2.startswith("+OK")
    before = capa1.decode().split("\r\n")[:-1]
    after = capa2.decode().split("\r\n")[:-1]
    for cap in ("TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "USER",
                "SASL PLAIN", "STLS", "IMPLEMENTATION Sluice"):
        assert cap in before, f"{cap} missing from CAPA before login: {before}"
    # RFC 2449: USER, SASL and STLS are for the AUTHORIZATION state only.
    assert {"TOP", "UIDL", "RESP-CODES", "PIPELINING"} <= set(after), after
    assert not {"USER", "SASL PLAIN", "STLS"} & set(after), after


# ------------------------------------------------------------- transaction

def _poplib_session(user, pw, n_expected):
    import poplib

    c = poplib.POP3(e2e.APPLIANCE_IP, POP3, timeout=30)
    r = {"user": c.user(user), "pass": c.pass_(pw), "stat": c.stat()}
    resp, lines, _ = c.list()
    r["list_resp"], r["list"] = resp.decode(), [ln.decode() for ln in lines]
    r["list_one"] = c.list(2).decode()
    resp, lines, _ = c.uidl()
    r["uidl"] = [ln.decode() for ln in lines]
    r["uidl_one"] = c.uidl(n_expected).decode()
    r["retr"] = []
    for i in range(1, n_expected + 1):
        resp, lines, octets = c.retr(i)
        r["retr"].append((resp.decode(), b"".join(ln + b"\r\n" for ln in lines)))
    r["noop"] = c.noop().decode()
    r["quit"] = c.quit().decode()
    return r


def test_poplib_user_pass_stat_list_uidl_retr(appliance):
    user, pw, sent, got = _mailbox(3)
    sizes = [len(b) for _, b in got]
    r = netns(_poplib_session, user, pw, 3)
    assert r["user"] == b"+OK"
    assert r["pass"].decode() == (f"+OK Logged in, maildrop has 3 messages "
                                  f"({sum(sizes)} octets)"), r["pass"]
    assert r["stat"] == (3, sum(sizes))
    assert r["list_resp"].startswith("+OK 3 messages"), r["list_resp"]
    assert r["list"] == [f"{i + 1} {s}" for i, s in enumerate(sizes)]
    assert r["list_one"] == f"+OK 2 {sizes[1]}"
    assert [ln.split()[0] for ln in r["uidl"]] == ["1", "2", "3"]
    assert r["uidl_one"] == "+OK " + r["uidl"][2]
    for (resp, body), (_, st), m in zip(r["retr"], got, sent):
        assert resp == f"+OK {len(st)} octets", resp
        assert body == st, "poplib RETR differs from the stored message"
        assert sm.strip_received(body)[1] == m
    assert r["noop"] == "+OK"
    # nothing marked: no UPDATE, and a plain sign-off
    assert r["quit"] == f"+OK {pe.HOSTNAME} Sluice POP3 signing off"
    assert sm.inbox_count(user) == 3, "a QUIT without DELE removed messages"


def _raw_retr(user, pw, n):
    c = Pop3Raw()
    c.login(user, pw)
    out = []
    for i in range(1, n + 1):
        st = c.cmd(f"RETR {i}")
        out.append((st, c.multi_raw()))
    assert c.cmd("QUIT").startswith("+OK")
    c.close()
    return out


def test_retr_byte_identical_and_dot_stuffed(appliance):
    # Dot lines everywhere: first body line, last line, alone, doubled.
    lines = [".first", *pe.DOT_LINES, "..", "."]
    user, pw, sent, got = _mailbox(1, "dots", lines)
    [(st, raw)] = netns(_raw_retr, user, pw, 1)
    stored_msg = got[0][1]
    assert st == f"+OK {len(stored_msg)} octets", st
    assert pe.unstuff(raw) == stored_msg
    # On the wire every line that starts with '.' carries one more.
    assert b"\r\n..first\r\n" in raw and b"\r\n...\r\n" in raw and b"\r\n....\r\n" in raw
    assert b"\r\n..leading dot\r\n" in raw and b"\r\nmid.dle.\r\n" in raw
    assert raw.endswith(b"\r\n..\r\n.\r\n"), raw[-20:]


def test_retr_5mb_byte_identical(appliance):
    user, pw = sm.new_user("big")
    msg, _ = pe.message("big", pe.DOT_LINES, size=5 * 1024 * 1024)
    msg += b".after the padding\r\n"
    pe.deliver(user, [msg])
    [(uid, st)] = pe.stored(user)
    assert sm.strip_received(st)[1] == msg
    t0 = time.monotonic()
    [(status, raw)] = netns(_raw_retr, user, pw, 1, timeout=180)
    dt = time.monotonic() - t0
    assert status == f"+OK {len(st)} octets"
    got = pe.unstuff(raw)
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(st).hexdigest()
    print(f"\n5 MB RETR over 110, Python client: {dt:.2f} s incl. login and unstuffing")


def _top(user, pw, cmds):
    c = Pop3Raw()
    c.login(user, pw)
    out = [c.multi(cmd) for cmd in cmds]
    c.cmd("QUIT")
    c.close()
    return out


def test_top(appliance):
    body = ["line one", ".line two", "line three", "line four", "line five"]
    user, pw, sent, got = _mailbox(1, "top", body)
    st = got[0][1]
    head, rest = st.split(b"\r\n\r\n", 1)
    head += b"\r\n\r\n"
    res = netns(_top, user, pw, ["TOP 1 0", "TOP 1 3", "TOP 1 1000", "TOP 1 x", "TOP 2 0",
                                  "TOP 1"])
    (s0, t0), (s3, t3), (sall, tall), (sx, _), (s2, _), (sn, _) = res
    assert s0 == "+OK Top of message follows" and t0 == head
    body_lines = rest.split(b"\r\n")
    assert t3 == head + b"".join(ln + b"\r\n" for ln in body_lines[:3])
    assert tall == st, "TOP with more lines than the body is the whole message"
    assert sx == "-ERR Invalid line count"
    assert s2 == "-ERR No such message, only 1 messages in maildrop"
    assert sn == "-ERR Syntax: TOP msg n"


def _pipelined(user, pw):
    c = Pop3Raw()
    # The whole session in one write (RFC 2449 PIPELINING).
    c.send(f"USER {user}\r\nPASS {pw}\r\nSTAT\r\nLIST\r\nUIDL 1\r\nRETR 2\r\nTOP 1 0\r\n"
           "NOOP\r\nQUIT\r\n")
    r = [c.line(), c.line(), c.line()]
    r.append((c.line(), c.multi_raw()))
    r.append(c.line())
    r.append((c.line(), pe.unstuff(c.multi_raw())))
    r.append((c.line(), pe.unstuff(c.multi_raw())))
    r += [c.line(), c.line()]
    c.eof()
    c.close()
    return r


def test_pipelined_session_in_one_write(appliance):
    user, pw, sent, got = _mailbox(2, "pipe")
    r = netns(_pipelined, user, pw)
    sizes = [len(b) for _, b in got]
    assert r[0] == "+OK" and r[1].startswith("+OK Logged in")
    assert r[2] == f"+OK 2 {sum(sizes)}"
    assert r[3][1] == "".join(f"{i + 1} {s}\r\n" for i, s in enumerate(sizes)).encode() + b".\r\n"
    assert r[4].startswith("+OK 1 ")
    assert r[5] == (f"+OK {sizes[1]} octets", got[1][1])
    assert r[6][1] == got[0][1].split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
    assert r[7] == "+OK" and r[8].startswith("+OK ")


# ------------------------------------------------------------------- UIDL

def _uidl(user, pw):
    c = _retry_login(user, pw)
    st, lines = c.multi("UIDL")
    one = [c.cmd(f"UIDL {i + 1}") for i in range(len(lines.splitlines()))]
    c.cmd("QUIT")
    c.close()
    return [ln.split(" ", 1)[1] for ln in lines.decode().splitlines()], one


def test_uidl_stable_across_sessions(appliance):
    user, pw, sent, got = _mailbox(3, "uidl")
    ids1, one = netns(_uidl, user, pw)
    assert len(set(ids1)) == 3
    for u in ids1:
        assert 1 <= len(u) <= 70 and all(0x21 <= ord(ch) <= 0x7E for ch in u), u
    assert one == [f"+OK {i + 1} {u}" for i, u in enumerate(ids1)]
    ids2, _ = netns(_uidl, user, pw)
    assert ids2 == ids1, "unique-ids changed between sessions"
    pe.deliver(user, [pe.message("uidl-new")[0]])
    ids3, _ = netns(_uidl, user, pw)
    assert ids3[:3] == ids1 and ids3[3] not in ids1, (ids1, ids3)
    # After deleting the first message, the others keep their ids.
    netns(_dele_quit, user, pw, [1])
    ids4, _ = netns(_uidl, user, pw)
    assert ids4 == ids3[1:], (ids3, ids4)


# ---------------------------------------------------------- DELE, RSET, QUIT

def _dele_quit(user, pw, numbers):
    c = _retry_login(user, pw)
    replies = [c.cmd(f"DELE {n}") for n in numbers]
    replies.append(c.cmd("QUIT"))
    c.eof()
    c.close()
    return replies


def _dele_rset(user, pw):
    c = Pop3Raw()
    c.login(user, pw)
    r = [c.cmd("DELE 2"), c.cmd("STAT"), c.cmd("DELE 2"), c.cmd("RETR 2"), c.cmd("LIST 2"),
         c.cmd("TOP 2 0"), c.cmd("UIDL 2")]
    st, listing = c.multi("LIST")
    r.append(listing)
    r += [c.cmd("RSET"), c.cmd("STAT"), c.cmd("QUIT")]
    c.close()
    return r


def test_dele_rset_keeps_everything(appliance):
    user, pw, sent, got = _mailbox(3, "rset")
    sizes = [len(b) for _, b in got]
    before = sm.messages(user)
    r = netns(_dele_rset, user, pw)
    assert r[0] == "+OK Message 2 deleted"
    assert r[1] == f"+OK 2 {sizes[0] + sizes[2]}", "STAT counts a deleted message"
    for reply in r[2:7]:
        assert reply == "-ERR Message 2 already deleted", r
    assert r[7] == f"1 {sizes[0]}\r\n3 {sizes[2]}\r\n".encode(), "LIST shows a deleted message"
    assert r[8] == f"+OK Maildrop has 3 messages ({sum(sizes)} octets)"
    assert r[9] == f"+OK 3 {sum(sizes)}"
    assert r[10] == f"+OK {pe.HOSTNAME} Sluice POP3 signing off", r[10]
    assert sm.messages(user) == before


def test_dele_quit_is_durable(appliance):
    user, pw, sent, got = _mailbox(4, "dele")
    before = pe.pop3_stats()
    ids, _ = netns(_uidl, user, pw)
    r = netns(_dele_quit, user, pw, [1, 3, 4])
    assert r[:3] == ["+OK Message 1 deleted", "+OK Message 3 deleted", "+OK Message 4 deleted"]
    assert r[3] == f"+OK {pe.HOSTNAME} Sluice POP3 signing off (3 messages deleted)", r[3]
    # The +OK comes only after the commit: the store already agrees.
    left = sm.messages(user)
    assert [uid for uid, _, _ in left] == [got[1][0]], left
    assert sm.message_full(user, left[0][0], left[0][1]) == got[1][1]
    after_ids, _ = netns(_uidl, user, pw)
    assert after_ids == [ids[1]]
    d = e2e.stats_delta(before, pe.pop3_stats())
    assert d["pop3.dele"] == 3 and d["pop3.updates"] == 1 and d["pop3.msgs_expunged"] == 3, d


def _dele_then_drop(user, pw, reset):
    c = Pop3Raw()
    c.login(user, pw)
    assert c.cmd("DELE 1") == "+OK Message 1 deleted"
    assert c.cmd("DELE 2") == "+OK Message 2 deleted"
    if reset:
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    c.close()
    # The lock is released once the appliance sees the close; then the
    # maildrop is whole again (RFC 1939 section 6: no UPDATE without QUIT).
    c2 = _retry_login(user, pw)
    st = c2.cmd("STAT")
    c2.cmd("QUIT")
    c2.close()
    return st


@pytest.mark.parametrize("how", ["fin", "rst"])
def test_dele_then_dropped_connection_deletes_nothing(appliance, how):
    user, pw, sent, got = _mailbox(2, "drop")
    before = sm.messages(user)
    st = netns(_dele_then_drop, user, pw, how == "rst")
    assert st == f"+OK 2 {sum(len(b) for _, b in got)}", st
    assert sm.messages(user) == before


# ------------------------------------------------------------------ errors

def _errors(user, pw):
    # errors_max is 10 a session: the two states get a session each.
    c = Pop3Raw()
    pre = [c.cmd(x) for x in ("STAT", "LIST", "RETR 1", "DELE 1", "NOOP", "RSET", "UIDL",
                              "TOP 1 0", "PASS nouser")]
    c.cmd("QUIT")
    c.close()
    c = Pop3Raw()
    c.login(user, pw)
    post = [c.cmd(x) for x in ("RETR 0", "DELE 99", "RETR x", "LIST 4294967296",
                               "USER again", "PASS again", "AUTH PLAIN", "RETR",
                               "RETR 1 2")]
    post.append(c.cmd("NOOP"))
    post.append(c.cmd("QUIT"))
    c.close()
    c = Pop3Raw()
    unknown = [c.cmd("BOGUS"), c.cmd("RETRX 1"), c.cmd("\x01")]
    c.close()
    return pre, post, unknown


def test_errors_and_wrong_state(appliance):
    user, pw, _, _ = _mailbox(1, "err", ())
    pre, post, unknown = netns(_errors, user, pw)
    wrong_state = "-ERR Command not valid in this state"
    assert pre[:8] == [wrong_state] * 8, pre
    assert pre[8] == "-ERR No user name given, send USER first"
    assert post[0] == post[1] == "-ERR No such message, only 1 messages in maildrop", post
    assert post[2] == "-ERR Invalid message number"
    assert post[3].startswith("-ERR "), post[3]  # 2^32 does not wrap to 0
    assert post[4:7] == [wrong_state] * 3, post
    assert post[7] == "-ERR Syntax: RETR msg" and post[8] == "-ERR Syntax: RETR msg", post
    assert post[9] == "+OK", "the session did not survive its errors"
    assert post[10].startswith("+OK")
    assert unknown[:2] == ["-ERR Unknown command"] * 2, unknown
    assert unknown[2] == "-ERR Invalid character in command", unknown


def _too_many_errors():
    c = Pop3Raw()
    replies = [c.cmd("BOGUS") for _ in range(10)]
    rest = c.eof()
    c.close()
    return replies, rest


def test_too_many_errors_closes(appliance):
    replies, rest = netns(_too_many_errors)
    # errors_max is 10: the tenth error is answered, then the session ends.
    assert replies == ["-ERR Unknown command"] * 10, replies
    assert rest == b"-ERR Too many errors, closing connection\r\n", rest


def _long_line():
    c = Pop3Raw()
    r = [c.cmd("NOOP " + "x" * 5000), c.cmd("CAPA")]
    c.multi_raw()
    c.cmd("QUIT")
    c.close()
    return r


def test_overlong_line_refused_session_survives(appliance):
    r = netns(_long_line)
    assert r == ["-ERR Line too long", "+OK Capability list follows"], r


# -------------------------------------------------------------------- AUTH

def _auth_plain(user, pw, form):
    c = Pop3Raw()
    blob = base64.b64encode(f"\0{user}\0{pw}".encode()).decode()
    if form == "ir":
        st = c.cmd(f"AUTH PLAIN {blob}")
    elif form == "authzid":
        st = c.cmd("AUTH PLAIN " + base64.b64encode(f"{user}\0{user}\0{pw}".encode()).decode())
    else:
        cont = c.cmd("AUTH PLAIN")
        assert cont == "+ ", cont
        st = c.cmd(blob)
    stat = c.cmd("STAT")
    c.cmd("QUIT")
    c.close()
    return st, stat


@pytest.mark.parametrize("form", ["continuation", "ir", "authzid"])
def test_auth_plain(appliance, form):
    user, pw, _, got = _mailbox(1, "sasl", ())
    st, stat = netns(_auth_plain, user, pw, form)
    assert st == f"+OK Logged in, maildrop has 1 messages ({len(got[0][1])} octets)", st
    assert stat == f"+OK 1 {len(got[0][1])}"


def _auth_oddities(user, pw):
    c = Pop3Raw()
    st, mechs = c.multi("AUTH")
    r = [st, mechs]
    r.append(c.cmd("AUTH CRAM-MD5"))
    r.append(c.cmd("AUTH PLAIN"))
    r.append(c.cmd("*"))                                       # cancelled
    r.append(c.cmd("AUTH PLAIN !!notbase64!!"))
    r.append(c.cmd("AUTH PLAIN " + base64.b64encode(b"no-nuls-here").decode()))
    r.append(c.cmd("AUTH PLAIN " + base64.b64encode(f"other@x\0{user}\0{pw}".encode()).decode()))
    # still in AUTHORIZATION, and a good login still works
    r.append(c.login(user, pw))
    c.cmd("QUIT")
    c.close()
    return r


def test_auth_mechanisms_and_malformed_responses(appliance):
    user, pw = sm.new_user("sasl")
    r = netns(_auth_oddities, user, pw, timeout=60)
    assert r[0] == "+OK" and r[1] == b"PLAIN\r\n", r
    assert r[2] == "-ERR Unsupported authentication mechanism"
    assert r[3] == "+ " and r[4] == "-ERR Authentication cancelled"
    assert r[5] == "-ERR Invalid base64 in SASL response"
    assert r[6] == "-ERR [AUTH] Malformed PLAIN response"
    assert r[7] == "-ERR [AUTH] Authentication failed", "proxy authorization was accepted"
    assert r[8].startswith("+OK Logged in")


def _wrong_password(user, pw):
    c = Pop3Raw()
    assert c.cmd(f"USER {user}") == "+OK"
    t0 = time.monotonic()
    bad = c.cmd("PASS not-the-password")
    waited = time.monotonic() - t0
    unknown = [c.cmd("USER nobody-here@sluice.test"), c.cmd("PASS whatever")]
    ok = c.login(user, pw)
    c.cmd("QUIT")
    c.close()
    return bad, waited, unknown, ok


def test_wrong_password(appliance):
    user, pw = sm.new_user("wrong")
    before = pe.pop3_stats()
    bad, waited, unknown, ok = netns(_wrong_password, user, pw)
    assert bad == "-ERR [AUTH] Authentication failed"
    assert waited >= 0.9, f"a failed login was answered after {waited:.2f} s (delay 1 s)"
    # an unknown user looks exactly like a wrong password (RFC 1939 section 7)
    assert unknown == ["+OK", "-ERR [AUTH] Authentication failed"]
    assert ok.startswith("+OK Logged in")
    d = e2e.stats_delta(before, pe.pop3_stats())
    assert d["pop3.auth_failure"] >= 2 and d["pop3.logins"] >= 1, d


def _poplib_wrong_password(user):
    import poplib

    c = poplib.POP3(e2e.APPLIANCE_IP, POP3, timeout=30)
    c.user(user)
    try:
        c.pass_("wrong")
    except poplib.error_proto as e:
        c.close()
        return str(e)
    return "accepted"


def test_poplib_wrong_password_error(appliance):
    user, _ = sm.new_user("wrong")
    assert "-ERR [AUTH]" in netns(_poplib_wrong_password, user)


# ------------------------------------------------------------- the lock

def _in_use(user, pw):
    a = Pop3Raw()
    a.login(user, pw)
    b = Pop3Raw()
    assert b.cmd(f"USER {user}") == "+OK"
    refused = b.cmd(f"PASS {pw}")
    # b is back in AUTHORIZATION; a's session is untouched
    a_stat = a.cmd("STAT")
    a_quit = a.cmd("QUIT")
    a.eof()
    a.close()
    assert b.cmd(f"USER {user}") == "+OK"
    again = b.cmd(f"PASS {pw}")
    b.cmd("QUIT")
    b.close()
    return refused, a_stat, a_quit, again


def test_second_login_gets_in_use_until_first_quits(appliance):
    user, pw, _, _ = _mailbox(1, "lock", ())
    before = pe.pop3_stats()
    refused, a_stat, a_quit, again = netns(_in_use, user, pw)
    assert refused == "-ERR [IN-USE] Mailbox is locked by another POP3 session", refused
    assert a_stat.startswith("+OK 1 ") and a_quit.startswith("+OK")
    assert again.startswith("+OK Logged in"), again
    d = e2e.stats_delta(before, pe.pop3_stats())
    assert d["pop3.in_use"] == 1, d


# ---------------------------------------------------------------- curl

def _curl(url, user, pw, *extra):
    return e2e.nsexec("curl", "-sS", "--max-time", "60", url, "--user", f"{user}:{pw}",
                      *extra, timeout=90, check=False)


def _curl_bytes(url, user, pw, path, *extra):
    p = e2e.nsexec("curl", "-sS", "--max-time", "60", "-o", str(path), url, "--user",
                   f"{user}:{pw}", *extra, timeout=90, check=False)
    assert p.returncode == 0, (p.stdout, p.stderr)
    return path.read_bytes()


def test_curl_pop3_list_and_retr(appliance, tmp_path):
    user, pw, sent, got = _mailbox(2, "curl")
    url = f"pop3://{e2e.APPLIANCE_IP}/"
    p = _curl(url, user, pw)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == [f"{i + 1} {len(b)}" for i, (_, b) in enumerate(got)]
    for i, (_, st) in enumerate(got, 1):
        body = _curl_bytes(f"{url}{i}", user, pw, tmp_path / f"m{i}")
        assert body == st, f"curl RETR {i} differs from the stored message"
    p = _curl(f"{url}3", user, pw)
    assert p.returncode == 8, (p.returncode, p.stderr)  # the -ERR of RETR 3
    p = _curl(url, user, "wrong-password")
    assert p.returncode == 67, (p.returncode, p.stderr)  # CURLE_LOGIN_DENIED
    assert sm.inbox_count(user) == 2


# ----------------------------------------------------------------- fetchmail

FETCHMAIL_MSGS = 50


def test_fetchmail_downloads_byte_identical(appliance, tmp_path):
    """fetchmail polls 110 (--keep, then a second run without it) and hands
    each message to an MDA that writes it to its own file.

    What is compared: fetchmail adds its own Received: header unless told
    --invisible, turns CRLF into LF for an MDA unless told `no stripcr`
    (then it keeps the CRLF of the wire), and rewrites addresses in
    headers unless told `no rewrite`; all three are set. So each file must equal one stored message byte for byte:
    the set of SHA-256 sums of the files is the set of the store's."""
    user, pw = sm.new_user("fetch")
    sent = [pe.message(f"fetch-{i}", pe.DOT_LINES if i % 3 == 0 else (), size=(i * 997) % 20000)[0]
            for i in range(FETCHMAIL_MSGS)]
    pe.deliver(user, sent)
    want = {hashlib.sha256(b).hexdigest() for _, b in pe.stored(user)}
    assert len(want) == FETCHMAIL_MSGS
    outdir = tmp_path / "out"
    outdir.mkdir()
    mda = tmp_path / "mda.sh"
    mda.write_text(f'#!/bin/sh\nexec cat > "$(mktemp {outdir}/msg.XXXXXXXX)"\n')
    mda.chmod(0o755)
    rc = tmp_path / "fetchmailrc"
    rc.write_text(f'poll {e2e.APPLIANCE_IP} protocol pop3 port {POP3} timeout 60\n'
                  f'  user "{user}" password "{pw}" is root here\n'
                  f'  sslproto "" no sslcertck\n'
                  f'  mda "{mda}" no stripcr no rewrite\n')
    rc.chmod(stat.S_IRUSR | stat.S_IWUSR)

    def fetch(*extra):
        env = ["env", f"HOME={tmp_path}"]
        p = e2e.run(["ip", "netns", "exec", e2e.NETNS, *env, "fetchmail", "-f", str(rc),
                     "--idfile", str(tmp_path / "fetchids"), "--nosyslog", "--invisible", "-v",
                     *extra],
                    timeout=180, check=False)
        # 0: mail fetched; 1: no mail
        return p

    p = fetch("--keep")
    assert p.returncode == 0, p.stdout + p.stderr
    files = sorted(outdir.iterdir())
    got = {hashlib.sha256(f.read_bytes()).hexdigest() for f in files}
    assert len(files) == FETCHMAIL_MSGS, (len(files), p.stdout[-2000:])
    assert got == want, "fetchmail's download differs from the store"
    assert sm.inbox_count(user) == FETCHMAIL_MSGS, "--keep deleted messages"
    # Again without --keep: the messages are fetched and deleted.
    for f in files:
        f.unlink()
    p = fetch("--all")
    assert p.returncode == 0, p.stdout + p.stderr
    got = {hashlib.sha256(f.read_bytes()).hexdigest() for f in outdir.iterdir()}
    assert got == want
    assert sm.inbox_count(user) == 0, "fetchmail's DELE/QUIT left messages behind"
    p = fetch()
    assert p.returncode == 1, p.stdout + p.stderr  # no mail


# ------------------------------------------------- sessions and the store

def _arrival_during_session(user, pw, msg):
    c = Pop3Raw()
    c.login(user, pw)
    stat_before = c.cmd("STAT")
    pe._smtp_many(user, [msg])           # delivered while the maildrop is open
    stat_during = c.cmd("STAT")
    last = c.cmd("LIST 2")
    c.cmd("QUIT")
    c.close()
    c = _retry_login(user, pw)
    stat_after = c.cmd("STAT")
    st, body = c.multi("RETR 2")
    c.cmd("QUIT")
    c.close()
    return stat_before, stat_during, last, stat_after, body


def test_mail_arriving_during_a_session_is_seen_by_the_next(appliance):
    user, pw, _, got = _mailbox(1, "arrive", ())
    msg, _ = pe.message("arrive-late", pe.DOT_LINES)
    before, during, last, after, body = netns(_arrival_during_session, user, pw, msg)
    # RFC 1939: the maildrop is a snapshot taken at login
    assert before == during == f"+OK 1 {len(got[0][1])}", (before, during)
    assert last == "-ERR No such message, only 1 messages in maildrop"
    assert after.startswith("+OK 2 "), after
    assert sm.strip_received(body)[1] == msg


def _login_both_ways(user, pw):
    c = Pop3Raw()
    a = c.login(user, pw)
    c.cmd("QUIT")
    c.close()
    c = _retry_login(user, pw)  # the previous lock may still be on its way out
    c.cmd("QUIT")
    c.close()
    c = Pop3Raw()
    b = c.cmd("AUTH PLAIN " + base64.b64encode(f"\0{user}\0{pw}".encode()).decode())
    c.cmd("QUIT")
    c.close()
    return a, b


def test_password_with_spaces(appliance):
    # PASS takes the rest of the line, spaces included (RFC 1939 section 7).
    user, pw = sm.new_user("spaces", password="pass word  with spaces " + os.urandom(4).hex())
    a, b = netns(_login_both_ways, user, pw)
    assert a.startswith("+OK Logged in") and b.startswith("+OK Logged in"), (a, b)


def _quit_before_login():
    c = Pop3Raw()
    r = c.cmd("QUIT")
    rest = c.eof()
    c.close()
    return r, rest


def test_quit_in_authorization(appliance):
    r, rest = netns(_quit_before_login)
    assert r == f"+OK {pe.HOSTNAME} Sluice POP3 signing off" and rest == b"", (r, rest)


def _drop_mid_retr(user, pw):
    c = Pop3Raw()
    c.login(user, pw)
    assert c.cmd("DELE 1").startswith("+OK")
    st = c.cmd("RETR 2")
    got = c.f.read(200000)                # a part of the 5 MB, then a reset
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    c.close()
    c = _retry_login(user, pw)
    stat = c.cmd("STAT")
    st2, body = c.multi("RETR 2")
    c.cmd("QUIT")
    c.close()
    return st, len(got), stat, body


def test_reset_in_the_middle_of_a_big_retr(appliance):
    user, pw = sm.new_user("midretr")
    small, _ = pe.message("midretr-small")
    big, _ = pe.message("midretr-big", pe.DOT_LINES, size=5 * 1024 * 1024)
    pe.deliver(user, [small, big])
    got = pe.stored(user)
    st, n, stat, body = netns(_drop_mid_retr, user, pw, timeout=180)
    assert st == f"+OK {len(got[1][1])} octets" and n == 200000
    # the lock was released, the DELE forgotten, and the message is whole
    assert stat == f"+OK 2 {len(got[0][1]) + len(got[1][1])}", stat
    assert hashlib.sha256(body).hexdigest() == hashlib.sha256(got[1][1]).hexdigest()
    assert len(sm.messages(user)) == 2


def _imap_expunge(user, pw, uid):
    import imaplib

    m = imaplib.IMAP4(e2e.APPLIANCE_IP, 143, timeout=30)
    m.login(user, pw)
    m.select("INBOX")
    m.uid("STORE", str(uid), "+FLAGS", "(\\Deleted)")
    typ, _ = m.expunge()
    m.logout()
    return typ


def _pop3_under_imap_expunge(user, pw, uid):
    c = Pop3Raw()
    c.login(user, pw)
    r = {"expunge": _imap_expunge(user, pw, uid)}
    st, body = c.multi("RETR 1")             # expunged under our feet
    r["retr1"] = (st, body)
    r["retr2"] = c.multi("RETR 2")
    r["dele"] = [c.cmd("DELE 1"), c.cmd("DELE 2")]
    r["quit"] = c.cmd("QUIT")
    c.close()
    return r


def test_message_expunged_over_imap_during_a_pop3_session(appliance):
    """POP3 lists a snapshot; IMAP expunges message 1 behind it. RETR of
    the vanished message must fail cleanly or still serve the exact bytes,
    never anything else; the session and the appliance carry on, and the
    UPDATE of both messages leaves the mailbox empty."""
    user, pw, sent, got = _mailbox(2, "imapx")
    r = netns(_pop3_under_imap_expunge, user, pw, got[0][0])
    assert r["expunge"] == "OK"
    st, body = r["retr1"]
    assert (st == "-ERR [SYS/TEMP] Unable to read message 1" and body is None) or \
        (st == f"+OK {len(got[0][1])} octets" and body == got[0][1]), (st, body and body[:80])
    assert r["retr2"] == (f"+OK {len(got[1][1])} octets", got[1][1])
    assert r["dele"] == ["+OK Message 1 deleted", "+OK Message 2 deleted"]
    assert r["quit"].startswith(f"+OK {pe.HOSTNAME} Sluice POP3 signing off"), r["quit"]
    assert sm.messages(user) == []


# ----------------------------------------------------------------- counters

def test_stats_have_pop3_counters(appliance):
    before = pe.pop3_stats()
    if not before:
        pytest.skip("sluicectl show stats has no pop3.* counters")
    user, pw, _, got = _mailbox(2, "stats", ())
    netns(_raw_retr, user, pw, 2)
    d = e2e.stats_delta(before, pe.pop3_stats())
    assert d["pop3.sessions"] >= 1 and d["pop3.logins"] >= 1 and d["pop3.retr"] >= 2, d
    assert d["pop3.bytes_sent"] >= sum(len(b) for _, b in got), d
    assert d["pop3.auth_success"] >= 1, d


# ------------------------------------------------- tight limits (overlay)

LOCKOUT_FAILURES = 3
PER_IP = 3
LOCKOUT_TIME = 8  # counted from the first failure (each failure takes >= 1 s)


@pytest.fixture
def pop3_limits(sluice, request):
    conf = pe.pop3_conf("limits", [f"auth_lockout_failures = {LOCKOUT_FAILURES};",
                                   f"auth_lockout_time = {LOCKOUT_TIME}s;",
                                   "timeout_auth = 2s;", "timeout = 10s;",
                                   f"max_connections_per_ip = {PER_IP};"])
    sluice.ensure(conf)
    yield sluice
    if not sluice.alive():
        pytest.fail(f"sluiced died during {request.node.name}:\n{e2e.log_tail(40)}")


def _one_login(user, pw):
    c = Pop3Raw()
    c.cmd(f"USER {user}")
    st = c.cmd(f"PASS {pw}")
    c.cmd("QUIT")
    c.close()
    return st


def _lockout(user, pw):
    t_first = time.monotonic()
    fails = [_one_login(user, "wrong") for _ in range(LOCKOUT_FAILURES)]
    locked = _one_login(user, pw)  # the right password, refused
    # the lockout is per address, not per user
    other = _one_login(user.replace("@", "-nobody@"), "x")
    t_refused = time.monotonic() - t_first
    assert t_refused < LOCKOUT_TIME - 1, "too slow to test the lockout"
    # Refused logins do not extend the lockout: poll until it lifts.
    while True:
        after = _one_login(user, pw)
        t_after = time.monotonic() - t_first
        if after.startswith("+OK") or t_after > LOCKOUT_TIME + 10:
            break
        time.sleep(0.5)
    return fails, locked, other, after, t_refused, t_after


def test_login_lockout_per_address(pop3_limits):
    user, pw = sm.new_user("lockout")
    before = pe.pop3_stats()
    fails, locked, other, after, t_refused, t_after = netns(_lockout, user, pw, timeout=90)
    assert fails == ["-ERR [AUTH] Authentication failed"] * LOCKOUT_FAILURES, fails
    assert locked == "-ERR [AUTH] Authentication failed", "the right password got in while locked"
    assert other == "-ERR [AUTH] Authentication failed"
    assert after.startswith("+OK Logged in"), f"still locked after {t_after:.1f} s: {after}"
    # auth_lockout_time counts from the first failure of the window
    assert LOCKOUT_TIME - 1 <= t_after <= LOCKOUT_TIME + 4, (t_refused, t_after)
    d = e2e.stats_delta(before, pe.pop3_stats())
    assert d.get("pop3.auth_ip_locked", 0) >= 2, d


def _idle(user, pw, login):
    c = Pop3Raw()
    if login:
        c.login(user, pw)
    t0 = time.monotonic()
    line = c.line()
    waited = time.monotonic() - t0
    rest = c.eof()
    c.close()
    return line, waited, rest


def test_idle_timeout_before_login(pop3_limits):
    line, waited, rest = netns(_idle, None, None, False)
    assert line == "-ERR Disconnected for inactivity" and rest == b""
    assert 1.5 <= waited <= 5, waited


def test_idle_timeout_after_login_deletes_nothing(pop3_limits):
    user, pw, _, got = _mailbox(1, "idle", ())
    before = pe.pop3_stats()

    def go():
        c = Pop3Raw()
        c.login(user, pw)
        assert c.cmd("DELE 1").startswith("+OK")
        t0 = time.monotonic()
        line = c.line()
        waited = time.monotonic() - t0
        rest = c.eof()
        c.close()
        return line, waited, rest

    line, waited, rest = netns(go, timeout=60)
    assert line == "-ERR Disconnected for inactivity" and rest == b"", line
    assert 9 <= waited <= 14, waited
    assert sm.inbox_count(user) == 1, "a timed-out session deleted its DELE'd message"
    d = e2e.stats_delta(before, pe.pop3_stats())
    assert d["pop3.timeouts"] >= 1, d


def _slow_reader(user, pw):
    c = Pop3Raw()
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
    c.login(user, pw)
    assert c.cmd("DELE 1").startswith("+OK")
    c.send("RETR 2\r\n")
    t0 = time.monotonic()
    time.sleep(16)                        # timeout 10s: we never read
    got = c.eof(30)
    c.close()
    return len(got), time.monotonic() - t0


def test_stalled_reader_of_a_big_retr_is_timed_out(pop3_limits):
    # The idle timer counts output progress too: a client that stops
    # reading in the middle of a RETR is disconnected, without UPDATE.
    user, pw = sm.new_user("stalled")
    pe.deliver(user, [pe.message("stalled-small")[0],
                      pe.message("stalled-big", size=5 * 1024 * 1024)[0]])
    before = pe.pop3_stats()
    n, dt = netns(_slow_reader, user, pw, timeout=90)
    assert n < 5 * 1024 * 1024, f"the whole message arrived ({n} bytes) although we never read"
    d = e2e.stats_delta(before, pe.pop3_stats())
    assert d["pop3.timeouts"] >= 1, d
    assert len(sm.messages(user)) == 2, "a timed-out session ran UPDATE"
    assert netns(_one_login, user, pw).startswith("+OK Logged in"), "the lock was not released"


def _over_a_cap(cap, extras):
    """Open CAP sessions, then EXTRAS more (each one's greeting and what
    follows it up to EOF); close one of the CAP and open one more: its
    greeting says whether the slot was given back."""
    held = [Pop3Raw() for _ in range(cap)]
    greetings = [c.greeting for c in held]
    refused = []
    for _ in range(extras):
        extra = Pop3Raw()
        refused.append((extra.greeting, extra.eof()))
        extra.close()
    held.pop().close()
    time.sleep(0.5)
    again = Pop3Raw()
    ok = again.greeting
    again.close()
    for c in held:
        c.close()
    return greetings, refused, ok


def _per_ip_cap():
    greetings, refused, ok = _over_a_cap(PER_IP, 1)
    return greetings, refused[0][0], refused[0][1], ok


def test_per_ip_connection_cap(pop3_limits):
    before = pe.pop3_stats()
    greetings, refused, rest, ok = netns(_per_ip_cap)
    assert all(g.startswith("+OK ") for g in greetings), greetings
    assert refused == "-ERR [SYS/TEMP] Too many connections from your address", refused
    assert rest == b""
    assert ok.startswith("+OK "), "a slot freed by a closed session was not given back"
    d = e2e.stats_delta(before, pe.pop3_stats())
    assert d["pop3.rejected_ip_limit"] == 1, d


MAX_SESSIONS = 3


@pytest.fixture
def pop3_max_sessions(sluice, request):
    conf = pe.pop3_conf("max-sessions", [f"max_connections = {MAX_SESSIONS};",
                                         "max_connections_per_ip = 50;"])
    sluice.ensure(conf)
    yield sluice
    if not sluice.alive():
        pytest.fail(f"sluiced died during {request.node.name}:\n{e2e.log_tail(40)}")


def _session_cap():
    return _over_a_cap(MAX_SESSIONS, 2)


def test_session_cap_is_told_not_reset(pop3_max_sessions):
    # Past max_connections a client reads why (RFC 2449 [SYS/TEMP]) instead
    # of a reset, as SMTP answers 421.
    before = pe.pop3_stats()
    greetings, refused, ok = netns(_session_cap)
    assert all(g.startswith("+OK ") for g in greetings), greetings
    assert refused == [("-ERR [SYS/TEMP] Too many sessions, try again later", b"")] * 2, refused
    assert ok.startswith("+OK "), "a slot freed by a closed session was not given back"
    d = e2e.stats_delta(before, pe.pop3_stats())
    assert d["pop3.rejected_session_limit"] == 2, d
