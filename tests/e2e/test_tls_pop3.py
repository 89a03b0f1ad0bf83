"""TLS for POP3 end to end: STLS on 110 (RFC 2595) and implicit TLS on 995
(RFC 8314) with openssl s_client, Python's poplib (stls() and POP3_SSL) and
curl; the STLS plaintext-injection test; logins refused before STLS when
allow_plaintext_auth is off (overlay, pop3_e2e.pop3_conf); hostile
handshakes on 995.

The demo config serves the self-signed first-start certificate, so every
client here skips verification (tls_e2e.client_context, curl -k)."""

import hashlib
import socket
import ssl
import time

import pytest

import pop3_e2e as pe
import sluice_e2e as e2e
import smtp_e2e as sm
import tls_e2e as te
from pop3_e2e import POP3, POP3S, Pop3Raw
from smtp_e2e import netns


def _mailbox(n=2, tag="tlspop"):
    user, pw = sm.new_user(tag)
    pe.deliver(user, [pe.message(f"{tag}-{i}", pe.DOT_LINES)[0] for i in range(n)])
    return user, pw, pe.stored(user)


# ------------------------------------------------------------ handshakes

def test_stls_openssl(appliance):
    rc, out = te.s_client("-starttls", "pop3", "-connect", f"{e2e.APPLIANCE_IP}:{POP3}",
                          "-ign_eof")
    b = te.brief(out)
    assert b["protocol"] == "TLSv1.3", out
    assert te.AEAD.search(b["cipher"]), b
    assert "+OK " in out and "signing off" in out, out  # QUIT answered inside TLS


@pytest.mark.parametrize("version,flag", [("TLSv1.2", "-tls1_2"), ("TLSv1.3", "-tls1_3")])
@pytest.mark.parametrize("port", [POP3, POP3S])
def test_forced_versions(appliance, port, version, flag):
    args = ["-connect", f"{e2e.APPLIANCE_IP}:{port}", flag, "-ign_eof"]
    if port == POP3:
        args = ["-starttls", "pop3"] + args
    rc, out = te.s_client(*args)
    b = te.brief(out)
    assert b["protocol"] == version, out
    assert te.AEAD.search(b["cipher"]), b
    if version == "TLSv1.2":
        assert b["cipher"].startswith("ECDHE-"), b  # forward secret
    assert "signing off" in out, out


def test_implicit_tls_greets_inside_tls(appliance):
    rc, out = te.s_client("-connect", f"{e2e.APPLIANCE_IP}:{POP3S}", "-ign_eof",
                          input=b"CAPA\nQUIT\n")
    assert f"+OK {pe.HOSTNAME} Sluice POP3 ready" in out, out
    # On 995 TLS is already active: logins are offered, STLS is not.
    assert "\nUSER" in out and "SASL PLAIN" in out, out
    assert "\nSTLS" not in out, out


def test_non_aead_cipher_refused(appliance):
    rc, out = te.s_client("-connect", f"{e2e.APPLIANCE_IP}:{POP3S}", "-tls1_2", "-cipher",
                          "ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256:AES128-SHA")
    assert te.brief(out)["protocol"] is None, out


# --------------------------------------------------------------- clients

def _stls_capa(user, pw):
    c = Pop3Raw()
    _, before = c.multi("CAPA")
    assert c.cmd("STLS") == "+OK Begin TLS negotiation"
    t = te.client_context().wrap_socket(c.sock, server_hostname=pe.HOSTNAME)
    c.sock, c.f = t, t.makefile("rb")
    _, after = c.multi("CAPA")
    again = c.cmd("STLS")
    c.login(user, pw)
    quit_ = c.cmd("QUIT")
    version = t.version()
    c.close()
    return before.decode().split("\r\n"), after.decode().split("\r\n"), again, quit_, version


def test_stls_then_capa_and_login(appliance):
    user, pw = sm.new_user("stls")
    before, after, again, quit_, version = netns(_stls_capa, user, pw)
    assert "STLS" in before and "STLS" not in after, (before, after)
    assert "USER" in after and "SASL PLAIN" in after, after
    assert again == "-ERR TLS already active"
    assert quit_.startswith("+OK") and version in ("TLSv1.2", "TLSv1.3")


def test_poplib_stls_retr_byte_identical(appliance):
    user, pw, got = _mailbox()
    r = netns(pe.poplib_retr_all, user, pw, POP3, te.client_context(), True)
    assert r["tls"] == "TLSv1.3"
    assert r["msgs"] == [b for _, b in got]


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_poplib_pop3_ssl_995(appliance, version):
    user, pw, got = _mailbox()
    r = netns(pe.poplib_retr_all, user, pw, POP3S, te.client_context(version))
    assert r["tls"] == version.name.replace("v1_", "v1.")
    assert r["welcome"] == f"+OK {pe.HOSTNAME} Sluice POP3 ready"
    assert r["msgs"] == [b for _, b in got]


def _curl(url, user, pw, out, *extra):
    return e2e.nsexec("curl", "-sS", "-k", "--max-time", "60", url, "--user", f"{user}:{pw}",
                      "-o", str(out), *extra, timeout=90, check=False)


@pytest.mark.parametrize("url,extra", [
    (f"pop3s://{e2e.APPLIANCE_IP}/", ()),
    (f"pop3://{e2e.APPLIANCE_IP}/", ("--ssl-reqd",)),
])
def test_curl_tls_list_and_retr(appliance, tmp_path, url, extra):
    user, pw, got = _mailbox()
    before = pe.pop3_stats()
    p = _curl(url, user, pw, tmp_path / "list", *extra)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "list").read_text().splitlines() == [
        f"{i + 1} {len(b)}" for i, (_, b) in enumerate(got)]
    p = _curl(f"{url}2", user, pw, tmp_path / "m2", *extra)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "m2").read_bytes() == got[1][1]
    d = e2e.stats_delta(before, pe.pop3_stats())
    if "--ssl-reqd" in extra:
        assert d["pop3.stls"] == 2, d
    else:
        assert d["pop3.stls"] == 0, d


# ------------------------------------------------------------- attacks

def _injection(injected):
    c = Pop3Raw()
    # One segment: STLS and a command behind it, in plaintext.
    c.send(b"STLS\r\n" + injected)
    assert c.line() == "+OK Begin TLS negotiation"
    t = te.client_context().wrap_socket(c.sock, server_hostname=pe.HOSTNAME)
    t.settimeout(1.5)
    try:
        early = t.recv(4096)
    except (socket.timeout, TimeoutError):
        early = b""
    t.settimeout(10)
    c.sock, c.f = t, t.makefile("rb")
    after = c.cmd("NOOP")          # AUTHORIZATION: NOOP is not valid yet
    pass_ = c.cmd("PASS secret")   # an injected USER must have been forgotten
    c.cmd("QUIT")
    c.close()
    return early, after, pass_


@pytest.mark.parametrize("injected", [b"NOOP\r\n", b"USER x@sluice.test\r\n",
                                      b"CAPA\r\nUSER x\r\nPASS y\r\n"])
def test_stls_injection_not_answered(appliance, injected):
    before = pe.pop3_stats()
    early, after, pass_ = netns(_injection, injected)
    assert early == b"", f"the injected command was answered: {early!r}"
    assert after == "-ERR Command not valid in this state", after
    assert pass_ == "-ERR No user name given, send USER first", pass_
    d = e2e.stats_delta(before, pe.pop3_stats())
    assert d["pop3.plaintext_discarded"] == len(injected), d
    assert d["pop3.stls"] == 1, d


def _stls_in_transaction(user, pw):
    c = Pop3Raw()
    c.login(user, pw)
    r = c.cmd("STLS")
    c.cmd("QUIT")
    c.close()
    return r


def test_stls_not_valid_after_login(appliance):
    user, pw = sm.new_user("stls")
    assert netns(_stls_in_transaction, user, pw) == "-ERR Command not valid in this state"


def _garbage_hello():
    s = socket.create_connection((e2e.APPLIANCE_IP, POP3S), timeout=10)
    s.sendall(b"USER x\r\nPASS y\r\n" + bytes(range(256)))
    got = b""
    try:
        while True:
            b = s.recv(4096)
            if not b:
                break
            got += b
    except ConnectionResetError:
        pass
    s.close()
    return got


def test_garbage_instead_of_clienthello_on_995(appliance):
    got = netns(_garbage_hello)
    # A plaintext alert record (content type 21) or a bare close, never POP3.
    assert got == b"" or got[0] == 0x15, got[:32]
    assert b"+OK" not in got and b"-ERR" not in got
    rc, out = te.s_client("-connect", f"{e2e.APPLIANCE_IP}:{POP3S}")
    assert te.brief(out)["protocol"] == "TLSv1.3", out


def _stall(halfway):
    s = socket.create_connection((e2e.APPLIANCE_IP, POP3S), timeout=30)
    if halfway:
        # A real ClientHello cut short: the record header promises more.
        ctx = te.client_context()
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = ctx.wrap_bio(inc, out, server_hostname=pe.HOSTNAME)
        try:
            obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        hello = out.read()
        s.sendall(hello[:len(hello) // 2])
    else:
        s.sendall(b"\x16\x03\x01")
    t0 = time.monotonic()
    try:
        while s.recv(4096):
            pass
    except (ConnectionResetError, OSError):
        pass
    s.close()
    return time.monotonic() - t0


def _log_count(text):
    try:
        return e2e.LOG.read_text(errors="replace").count(text)
    except OSError:
        return 0


@pytest.mark.parametrize("halfway", [False, True], ids=["record-header", "half-hello"])
def test_stalled_handshake_times_out(appliance, halfway):
    before = _log_count("handshake timed out")
    dt = netns(_stall, halfway, timeout=60)
    assert 5 <= dt <= 20, f"stalled handshake closed after {dt:.1f} s (handshake_timeout 10s)"
    # The TLS counters are not in `sluicectl show stats`; the failure log
    # line says why the handshake ended.
    assert _log_count("handshake timed out") > before, e2e.log_tail(10)
    user, pw, got = _mailbox(1, "afterstall")
    r = netns(pe.poplib_retr_all, user, pw, POP3S, te.client_context())
    assert r["msgs"] == [b for _, b in got]


def _stall_while_serving(user, pw):
    # A handshake stalls on 995 while another client fetches over 110.
    s = socket.create_connection((e2e.APPLIANCE_IP, POP3S), timeout=30)
    s.sendall(b"\x16\x03\x01\x02\x00")
    t0 = time.monotonic()
    r = pe.poplib_retr_all(user, pw, POP3, te.client_context(), True)
    served = time.monotonic() - t0
    s.close()
    return r, served


def test_appliance_serves_during_stalled_handshake(appliance):
    user, pw, got = _mailbox(1, "stall")
    r, served = netns(_stall_while_serving, user, pw)
    assert r["msgs"] == [b for _, b in got]
    assert served < 5, f"a fetch took {served:.1f} s while a handshake stalled"


# ------------------------------------------ allow_plaintext_auth off (overlay)

@pytest.fixture
def tls_only(sluice, request):
    sluice.ensure(pe.pop3_conf("tlsonly", plain_auth=False))
    yield sluice
    if not sluice.alive():
        pytest.fail(f"sluiced died during {request.node.name}:\n{e2e.log_tail(40)}")


def _plaintext_refused(user, pw):
    c = Pop3Raw()
    _, capa = c.multi("CAPA")
    r = {"capa": capa.decode().split("\r\n")}
    r["user"] = c.cmd(f"USER {user}")
    r["pass"] = c.cmd(f"PASS {pw}")
    r["auth"] = c.cmd("AUTH PLAIN")
    r["stls"] = c.cmd("STLS")
    t = te.client_context().wrap_socket(c.sock, server_hostname=pe.HOSTNAME)
    c.sock, c.f = t, t.makefile("rb")
    _, capa = c.multi("CAPA")
    r["capa_tls"] = capa.decode().split("\r\n")
    r["login"] = c.login(user, pw)
    r["stat"] = c.cmd("STAT")
    c.cmd("QUIT")
    c.close()
    return r


def test_plaintext_login_refused_before_stls(tls_only):
    user, pw, got = _mailbox(1, "tlsonly")
    r = netns(_plaintext_refused, user, pw)
    assert "STLS" in r["capa"], r["capa"]
    assert "USER" not in r["capa"] and not any(c.startswith("SASL") for c in r["capa"]), r["capa"]
    refused = "-ERR [AUTH] Plaintext authentication disallowed on non-secure connections"
    assert r["user"] == refused and r["pass"] == refused and r["auth"] == refused, r
    assert r["stls"] == "+OK Begin TLS negotiation"
    assert "USER" in r["capa_tls"] and "SASL PLAIN" in r["capa_tls"], r["capa_tls"]
    assert "STLS" not in r["capa_tls"]
    assert r["login"].startswith("+OK Logged in") and r["stat"] == f"+OK 1 {len(got[0][1])}"


def test_plaintext_off_still_logs_in_on_995(tls_only):
    user, pw, got = _mailbox(1, "tlsonly")
    r = netns(pe.poplib_retr_all, user, pw, POP3S, te.client_context())
    assert r["msgs"] == [b for _, b in got]


def _poplib_plain_login(user, pw):
    import poplib

    c = poplib.POP3(e2e.APPLIANCE_IP, POP3, timeout=30)
    try:
        c.user(user)
    except poplib.error_proto as e:
        c.close()
        return str(e)
    return "accepted"


def test_poplib_plain_user_refused(tls_only):
    user, pw = sm.new_user("tlsonly")
    assert "-ERR [AUTH] Plaintext" in netns(_poplib_plain_login, user, pw)


def test_big_message_over_995(appliance):
    user, pw = sm.new_user("bigtls")
    msg, _ = pe.message("bigtls", pe.DOT_LINES, size=5 * 1024 * 1024)
    pe.deliver(user, [msg])
    [(uid, st)] = pe.stored(user)
    t0 = time.monotonic()
    r = netns(pe.poplib_retr_all, user, pw, POP3S, te.client_context(), timeout=180)
    dt = time.monotonic() - t0
    assert hashlib.sha256(r["msgs"][0]).hexdigest() == hashlib.sha256(st).hexdigest()
    print(f"\n5 MB RETR over 995, poplib: {dt:.2f} s incl. handshake and login")
