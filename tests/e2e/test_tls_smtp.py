"""TLS for SMTP end to end: openssl s_client, curl, swaks and Python's
ssl/smtplib against sluiced's STARTTLS (25, 587) and implicit TLS (465),
with messages checked in the store through sluicectl.

The demo config runs on the self-signed first-start certificate; the SNI
and 50 MB cases use tls_conf() (two certificates, 60 MB messages)."""

import hashlib
import re
import socket
import ssl
import subprocess
import time

import pytest

import sluice_e2e as e2e
import smtp_e2e as sm
import tls_e2e as te
from smtp_e2e import MX, SUBMISSION, ctl, netns
from tls_e2e import SUBMISSIONS


@pytest.fixture
def tls_appliance(sluice, request):
    conf, pairs = te.tls_conf()
    sluice.ensure(conf)
    yield pairs
    if not sluice.alive():
        pytest.fail(f"sluiced is gone after {request.node.name}:\n{e2e.log_tail(40)}")


def _received(user):
    uid, size, _ = sm.messages(user)[-1]
    stored = sm.message_full(user, uid, size)
    hdr, rest = sm.strip_received(stored)
    return hdr.decode(), rest, size


# ------------------------------------------------------------ handshakes

@pytest.mark.parametrize("port", [MX, SUBMISSION])
def test_starttls_openssl(appliance, port):
    rc, out = te.s_client("-starttls", "smtp", "-connect", f"{e2e.APPLIANCE_IP}:{port}")
    b = te.brief(out)
    assert b["protocol"] == "TLSv1.3", out
    assert te.AEAD.search(b["cipher"]), b


@pytest.mark.parametrize("version,flag", [("TLSv1.2", "-tls1_2"), ("TLSv1.3", "-tls1_3")])
@pytest.mark.parametrize("port", [MX, SUBMISSION, SUBMISSIONS])
def test_forced_versions(appliance, port, version, flag):
    args = ["-connect", f"{e2e.APPLIANCE_IP}:{port}", flag]
    if port != SUBMISSIONS:
        args = ["-starttls", "smtp"] + args
    rc, out = te.s_client(*args)
    b = te.brief(out)
    assert b["protocol"] == version, out
    assert te.AEAD.search(b["cipher"]), b
    if version == "TLSv1.2":
        assert b["cipher"].startswith("ECDHE-"), b  # forward secret


def test_implicit_tls_greets_inside_tls(appliance):
    rc, out = te.s_client("-connect", f"{e2e.APPLIANCE_IP}:{SUBMISSIONS}", "-ign_eof")
    assert "220 mx.sluice.test ESMTP Sluice" in out, out
    assert "221 " in out, out


def test_tls_show_matches_served_certificate(appliance):
    show = ctl("tls", "show").stdout
    fp = re.search(r"sha256:\s+(\S+)", show).group(1)
    rc, out = te.s_client("-connect", f"{e2e.APPLIANCE_IP}:{SUBMISSIONS}", "-showcerts")
    pem = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", out, re.S)
    served = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256"],
                            input=pem.group(0).encode(), capture_output=True).stdout.decode()
    assert served.strip().split("=", 1)[1] == fp, (show, served)
    assert "CN=mx.sluice.test" in show and "mx.sluice.test" in show


# --------------------------------------------------------------- clients

def _ehlo_features(port):
    import smtplib

    with smtplib.SMTP(e2e.APPLIANCE_IP, port, timeout=10) as c:
        c.ehlo("client.example.org")
        before = dict(c.esmtp_features)
        c.starttls(context=te.client_context())
        c.ehlo("client.example.org")
        return before, dict(c.esmtp_features), c.sock.version(), c.sock.cipher()[0]


def test_auth_offered_only_after_starttls_on_25(appliance):
    before, after, version, cipher = netns(_ehlo_features, MX)
    assert "starttls" in before and "auth" not in before
    assert "starttls" not in after and "auth" in after
    assert version in ("TLSv1.2", "TLSv1.3")


def _smtplib_starttls_send(user, password, msg):
    import smtplib

    with smtplib.SMTP(e2e.APPLIANCE_IP, SUBMISSION, timeout=30) as c:
        c.ehlo("client.example.org")
        c.starttls(context=te.client_context())
        c.ehlo("client.example.org")
        c.login(user, password)
        c.sendmail(user, [user], msg)
        return c.sock.version(), c.sock.cipher()[0]


def test_python_smtplib_starttls_auth_send(appliance):
    user, pw = sm.new_user("tls")
    msg, token = sm.unique_body("smtplib-starttls")
    version, cipher = netns(_smtplib_starttls_send, user, pw, msg)
    hdr, rest, _ = _received(user)
    assert rest == msg
    assert f"(using {version} with cipher " in hdr, hdr
    assert "with ESMTPSA id" in hdr, hdr


def _smtps_send(user, password, msg, version=None):
    import smtplib

    with smtplib.SMTP_SSL(e2e.APPLIANCE_IP, SUBMISSIONS, timeout=120,
                          context=te.client_context(version)) as c:
        c.login(user, password)
        c.sendmail(user, [user], msg)
        return c.sock.version()


def test_python_smtps_465(appliance):
    user, pw = sm.new_user("tls")
    msg, token = sm.unique_body("smtps")
    assert netns(_smtps_send, user, pw, msg, ssl.TLSVersion.TLSv1_2) == "TLSv1.2"
    hdr, rest, _ = _received(user)
    assert rest == msg
    assert "(using TLSv1.2 with cipher ECDHE-" in hdr, hdr


def _curl(url, user, pw, path, *extra):
    return e2e.nsexec("curl", "-sS", "-k", url, "--user", f"{user}:{pw}", "--mail-from", user,
                      "--mail-rcpt", user, "--upload-file", path, *extra, timeout=60,
                      check=False)


@pytest.mark.parametrize("url,extra", [
    (f"smtps://{e2e.APPLIANCE_IP}:{SUBMISSIONS}", ()),
    (f"smtp://{e2e.APPLIANCE_IP}:{SUBMISSION}", ("--ssl-reqd",)),
])
def test_curl_send(appliance, tmp_path, url, extra):
    user, pw = sm.new_user("curl")
    msg, token = sm.unique_body("curl")
    path = tmp_path / "msg.eml"
    path.write_bytes(msg)
    p = _curl(url, user, pw, str(path), *extra)
    assert p.returncode == 0, (p.stdout, p.stderr)
    hdr, rest, _ = _received(user)
    assert token.encode() in rest
    assert "(using TLSv1.3 with cipher " in hdr, hdr


def test_swaks_tls_auth_587(appliance):
    user, pw = sm.new_user("swaks")
    p = sm.swaks("--port", str(SUBMISSION), "-tls", "--auth", "PLAIN", "--auth-user", user,
                 "--auth-password", pw, "--from", user, "--to", user, "--header",
                 "Subject: swaks-tls")
    assert sm.last_reply_code(p.stdout) == 221, p.stdout
    assert "STARTTLS" in p.stdout and "235 " in p.stdout, p.stdout
    hdr, rest, _ = _received(user)
    assert b"Subject: swaks-tls" in rest
    assert "ESMTPSA" in hdr, hdr


def test_require_tls_refuses_mail_before_starttls(sluice, request):
    text = e2e.DEMO_CONF.read_text()
    text, n = re.subn(r"(mx \{\n\s+port = 25;)", r"\1\n        require_tls = true;", text)
    assert n == 1
    conf = e2e.RUNDIR / "e2e-tls-require.conf"
    conf.write_text(text)
    sluice.ensure(conf)
    replies = netns(sm.smtp_chat, [("send", b"EHLO r.example.org\r\n"), ("expect", 1),
                                   ("send", b"MAIL FROM:<a@example.org>\r\n"), ("expect", 1)])
    assert replies[2][1][0] == "530 5.7.0 Must issue a STARTTLS command first", replies


# ------------------------------------------------------------- attacks

def _injection(port):
    s, f = te.starttls_socket(port)
    # One segment: STARTTLS and an injected command behind it.
    s.sendall(b"STARTTLS\r\nNOOP\r\n")
    line = f.readline()
    assert line.startswith(b"220 "), line
    t = te.client_context().wrap_socket(s, server_hostname="mx.sluice.test")
    t.settimeout(1.5)
    try:
        early = t.recv(4096)
    except (socket.timeout, TimeoutError):
        early = b""
    t.settimeout(10)
    t.sendall(b"EHLO after.example.org\r\n")
    tf = t.makefile("rb")
    code, lines = sm.read_reply(tf)
    t.sendall(b"QUIT\r\n")
    return early, code, lines


@pytest.mark.parametrize("port", [MX, SUBMISSION])
def test_starttls_injection_not_answered(appliance, port):
    early, code, lines = netns(_injection, port)
    assert early == b"", f"the injected NOOP was answered: {early!r}"
    assert code == 250 and lines[0].startswith("250-mx.sluice.test"), lines


def _garbage_hello():
    s = socket.create_connection((e2e.APPLIANCE_IP, SUBMISSIONS), timeout=10)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + bytes(range(256)))
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


def test_garbage_clienthello_gets_alert_and_close(appliance):
    got = netns(_garbage_hello)
    # Either a plaintext alert record (content type 21) or a bare close,
    # never an SMTP greeting.
    assert got == b"" or got[0] == 0x15, got[:32]
    assert b"220" not in got
    rc, out = te.s_client("-connect", f"{e2e.APPLIANCE_IP}:{SUBMISSIONS}")
    assert te.brief(out)["protocol"] == "TLSv1.3", out


def _stall():
    s = socket.create_connection((e2e.APPLIANCE_IP, SUBMISSIONS), timeout=30)
    # Half a TLS record header, then silence.
    s.sendall(b"\x16\x03\x01")
    t0 = time.monotonic()
    try:
        while s.recv(4096):
            pass
    except (ConnectionResetError, OSError):
        pass
    return time.monotonic() - t0


def test_stalled_handshake_times_out(appliance):
    dt = netns(_stall, timeout=60)
    assert 5 <= dt <= 20, f"stalled handshake closed after {dt:.1f} s (handshake_timeout 10s)"
    rc, out = te.s_client("-starttls", "smtp", "-connect", f"{e2e.APPLIANCE_IP}:{MX}")
    assert te.brief(out)["protocol"] == "TLSv1.3", out


@pytest.mark.parametrize("flag", ["-tls1_2", "-tls1_3"])
def test_resumption(appliance, tmp_path, flag):
    sess = str(tmp_path / "sess.pem")
    target = f"{e2e.APPLIANCE_IP}:{SUBMISSIONS}"
    rc, out = te.s_client("-connect", target, flag, "-sess_out", sess, "-ign_eof")
    assert te.brief(out)["reused"] is False, out
    rc, out = te.s_client("-connect", target, flag, "-sess_in", sess, "-ign_eof")
    b = te.brief(out)
    assert b["reused"] is True, out
    assert "221 " in out, out


def _tls_stats():
    return {k: v for k, v in e2e.stats().items() if k.startswith("tls.")}


def test_tls_counters_in_show_stats(appliance, tmp_path):
    """`sluicectl show stats` carries the lanes' TLS counters: a full
    handshake, a resumed one and a garbage ClientHello each count."""
    before = _tls_stats()
    assert "tls.handshakes_ok" in before, sorted(before)
    sess = str(tmp_path / "sess.pem")
    target = f"{e2e.APPLIANCE_IP}:{SUBMISSIONS}"
    te.s_client("-connect", target, "-tls1_3", "-sess_out", sess, "-ign_eof")
    rc, out = te.s_client("-connect", target, "-tls1_3", "-sess_in", sess, "-ign_eof")
    assert te.brief(out)["reused"] is True, out
    netns(_garbage_hello)
    after = _tls_stats()
    assert after["tls.handshakes_ok"] == before["tls.handshakes_ok"] + 2
    assert after["tls.handshakes_resumed"] == before["tls.handshakes_resumed"] + 1
    assert after["tls.tls13"] == before["tls.tls13"] + 2
    assert after["tls.handshakes_failed"] >= before["tls.handshakes_failed"] + 1
    assert after["tls.handshakes_current"] == 0


# ----------------------------------------------------- SNI and bulk (tls_conf)

def test_sni_picks_certificate(tls_appliance):
    for (cert, _), name in zip(tls_appliance, te.SNI_NAMES):
        rc, out = te.s_client("-connect", f"{e2e.APPLIANCE_IP}:{SUBMISSIONS}", "-servername",
                              name)
        assert te.brief(out)["subject"] == f"CN = {name}", out
    rc, out = te.s_client("-connect", f"{e2e.APPLIANCE_IP}:{SUBMISSIONS}", "-servername",
                          "unknown.example")
    assert te.brief(out)["subject"] == f"CN = {te.SNI_NAMES[0]}", out
    show = ctl("tls", "show").stdout
    for cert, _ in tls_appliance:
        assert te.fingerprint(cert) in show, show


def test_50mb_over_tls_byte_identical(tls_appliance):
    user, pw = sm.new_user("big")
    msg, token = sm.unique_body("big-tls", te.BIG_MESSAGE)
    assert len(msg) >= te.BIG_MESSAGE - 100
    netns(_smtps_send, user, pw, msg, timeout=300)
    uid, size, sha = sm.messages(user)[-1]
    stored = sm.message_full(user, uid, size)
    hdr, rest = sm.strip_received(stored)
    assert hashlib.sha256(rest).hexdigest() == hashlib.sha256(msg).hexdigest()
    assert "(using TLSv1.3 with cipher " in hdr.decode()


def test_tls_install_without_restart(tls_appliance, tmp_path):
    pid = e2e.sluiced_pid()
    cert, key = te.gen_cert("new.sluice.test", str(tmp_path / "new"))
    sm.ctl_fails("tls", "install", cert, str(e2e.DEMO_CONF), expect="private key")
    out = ctl("tls", "install", cert, key).stdout
    assert te.fingerprint(cert) in out
    rc, out = te.s_client("-connect", f"{e2e.APPLIANCE_IP}:{SUBMISSIONS}")
    assert te.brief(out)["subject"] == "CN = new.sluice.test", out
    assert e2e.sluiced_pid() == pid
    assert te.fingerprint(cert) in ctl("tls", "show").stdout


def _served_fingerprint(servername=None):
    """SHA-256 fingerprint of the leaf certificate served on 465 (SNI
    SERVERNAME, or none)."""
    args = ["-connect", f"{e2e.APPLIANCE_IP}:{SUBMISSIONS}"]
    if servername:
        args += ["-servername", servername]
    rc, out = te.s_client(*args)
    m = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", out, re.S)
    assert m, out
    p = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256"],
                       input=m.group(0), capture_output=True, text=True, check=True)
    return p.stdout.strip().split("=", 1)[1]


def test_tls_install_renewal_keeps_other_certificates(tls_appliance, tmp_path):
    """Installing a certificate for a name already served replaces just that
    one, in place: the default and the other SNI certificates stay."""
    mx, alt = te.SNI_NAMES
    target = f"{e2e.APPLIANCE_IP}:{SUBMISSIONS}"
    default_before = te.brief(te.s_client("-connect", target)[1])["subject"]
    n_before = ctl("tls", "show").stdout.count("sha256:")
    cert, key = te.gen_cert(alt, str(tmp_path / "renewed-alt"))
    out = ctl("tls", "install", cert, key).stdout
    assert "replacing" in out, out
    assert _served_fingerprint(alt) == te.fingerprint(cert)
    # the mx certificate is served from its file, as the install read it
    # (the fixture rewrites the files for each test)
    assert _served_fingerprint(mx) == te.fingerprint(tls_appliance[0][0])
    assert te.brief(te.s_client("-connect", target)[1])["subject"] == default_before
    show = ctl("tls", "show").stdout
    assert show.count("sha256:") == n_before, show
    assert te.fingerprint(cert) in show


def test_tls_install_refuses_mismatched_rsa_key(tls_appliance, tmp_path):
    cert = str(tmp_path / "r1.pem")
    e2e.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
             str(tmp_path / "r1.key"), "-out", cert, "-days", "3", "-subj", "/CN=r1"])
    e2e.run(["openssl", "genrsa", "-out", str(tmp_path / "r2.key"), "2048"])
    sm.ctl_fails("tls", "install", cert, str(tmp_path / "r2.key"), expect="does not match")


def _cpu_has_ifma():
    with open("/proc/cpuinfo") as f:
        flags = next((ln for ln in f if ln.startswith("flags")), "").split()
    return all(x in flags for x in ("avx512f", "avx512ifma", "avx512vl"))


def test_rsa_handshakes_sign_with_ifma_engine(tls_appliance, tmp_path):
    """An installed RSA-2048 certificate (a renewal of the default one) is
    signed for by Sluice's IFMA signer in TLS 1.3 (PSS) and 1.2 where the
    CPU has IFMA (docs/tls.md, "Sluice's RSA-2048 signer"): each handshake
    counts one tls.rsa_ifma_signs and no fallback; openssl verified the
    signatures. Without IFMA wolfSSL signs and the counter stays put."""
    name = te.SNI_NAMES[0]
    cert, key = str(tmp_path / "rsa-cert.pem"), str(tmp_path / "rsa-key.pem")
    e2e.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
             "-out", cert, "-days", "3", "-subj", f"/CN={name}", "-addext",
             f"subjectAltName=DNS:{name}"])
    try:
        ctl("tls", "install", cert, key)
        before = _tls_stats()
        target = f"{e2e.APPLIANCE_IP}:{SUBMISSIONS}"
        for flag, proto in (("-tls1_3", "TLSv1.3"), ("-tls1_2", "TLSv1.2")):
            rc, out = te.s_client("-connect", target, "-servername", name, flag)
            b = te.brief(out)
            assert b["protocol"] == proto and b["subject"] == f"CN = {name}", out
            assert "Server public key is 2048 bit" in out, out
        after = _tls_stats()
        assert after["tls.rsa_ifma_signs"] - before["tls.rsa_ifma_signs"] == \
            (2 if _cpu_has_ifma() else 0), (before, after)
        assert after["tls.rsa_ifma_fallbacks"] == before["tls.rsa_ifma_fallbacks"]
    finally:
        ctl("tls", "install", *te.gen_cert(name, str(tmp_path / "back")))


def test_tls_install_refuses_mismatched_ecdsa_key(tls_appliance, tmp_path):
    cert, _ = te.gen_cert("a.sluice.test", str(tmp_path / "a"))
    _, other = te.gen_cert("b.sluice.test", str(tmp_path / "b"))
    try:
        sm.ctl_fails("tls", "install", cert, other, expect="does not match")
    finally:
        # If it was (wrongly) installed, put a working pair back.
        ctl("tls", "install", *te.gen_cert("c.sluice.test", str(tmp_path / "c")))
