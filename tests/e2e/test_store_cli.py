"""sluicectl store commands (issue 3) against the running appliance: every
command, and the errors an operator gets for bad input."""

import os
import secrets
import subprocess

import pytest

import sluice_e2e as e2e
import smtp_e2e as sm
from smtp_e2e import ctl, ctl_fails


def _domain():
    return f"d{secrets.token_hex(4)}.test"


def test_help_lists_store_commands(appliance):
    out = ctl("help").stdout
    for usage in ("domain add DOMAIN", "domain del DOMAIN", "domain list",
                  "user add USER@DOMAIN --password-stdin", "user del USER@DOMAIN",
                  "user passwd USER@DOMAIN --password-stdin", "user list [DOMAIN]",
                  "alias add ALIAS@DOMAIN TARGET", "alias del ALIAS@DOMAIN [TARGET]", "alias list",
                  "mailbox list USER@DOMAIN", "message list", "message get", "queue list",
                  "backup PATH", "store status", "store check"):
        assert usage in out, f"{usage!r} missing from help"


def test_domain_add_list_del(appliance):
    d = _domain()
    assert ctl("domain", "add", d).stdout == f"domain {d} added\n"
    assert d in ctl("domain", "list").stdout.split()
    ctl_fails("domain", "add", d, expect="domain exists")
    ctl_fails("domain", "add", d.upper(), expect="domain exists")  # names are case-insensitive
    ctl("domain", "del", d)
    assert d not in ctl("domain", "list").stdout.split()
    ctl_fails("domain", "del", d, expect="unknown domain")


@pytest.mark.parametrize("bad", ["-bad.test", "bad..test", "bad_domain.test", "a" * 64 + ".test",
                                 "x" * 254])
def test_domain_bad_syntax(appliance, bad):
    ctl_fails("domain", "add", bad)


def test_domain_with_users_cannot_be_deleted(appliance):
    d = _domain()
    ctl("domain", "add", d)
    u, _ = sm.new_user("keep", domain=d)
    ctl_fails("domain", "del", d, expect="domain has users or aliases")
    ctl("user", "del", u)
    ctl("domain", "del", d)


def test_domain_usage_errors(appliance):
    err = ctl_fails("domain", "add")
    assert "usage: domain add DOMAIN" in err
    ctl_fails("domain", "add", "a.test", "b.test", expect="too many arguments")
    ctl_fails("domain", "list", "x", expect="too many arguments")


def test_user_add_list_del(appliance):
    d = _domain()
    ctl("domain", "add", d)
    u = f"alice@{d}"
    out = ctl("user", "add", u, "--password-stdin", input="s3cret\n").stdout
    assert out == f"user {u} added\n"
    rows = ctl("user", "list", d).stdout.splitlines()
    assert rows[0].split() == ["user", "id", "created"]
    assert [r.split()[0] for r in rows[1:]] == [u]
    assert u in ctl("user", "list").stdout
    # a new user has an INBOX and the special-use mailboxes, all empty
    boxes = sm.mailboxes(u)
    assert boxes["INBOX"] == (0, 0, 0)
    assert {"Sent", "Drafts", "Junk", "Trash", "Archive"} <= set(boxes)
    ctl_fails("user", "add", u, "--password-stdin", input="x\n", expect="user exists")
    ctl_fails("user", "add", u.upper(), "--password-stdin", input="x\n", expect="user exists")
    ctl("user", "del", u)
    assert ctl("user", "list", d).stdout.splitlines()[1:] == []
    ctl_fails("user", "del", u, expect="unknown user")
    ctl("domain", "del", d)


def test_user_add_errors(appliance):
    ctl_fails("user", "add", f"bob@{_domain()}", "--password-stdin", input="pw\n",
              expect="unknown domain")
    ctl_fails("user", "add", "no-at-sign", "--password-stdin", input="pw\n",
              expect="bad address syntax")
    ctl_fails("user", "add", "@sluice.test", "--password-stdin", input="pw\n",
              expect="bad address syntax")
    ctl_fails("user", "add", "a b@sluice.test", "--password-stdin", input="pw\n",
              expect="bad address syntax")
    ctl_fails("user", "add", "x" * 65 + "@sluice.test", "--password-stdin", input="pw\n",
              expect="local part too long")
    ctl_fails("user", "add", "nopw@sluice.test", expect="missing --password-stdin")
    ctl_fails("user", "add", "nopw@sluice.test", "--password-stdin", input="\n",
              expect="empty password")
    ctl_fails("user", "list", _domain(), expect="unknown domain")


def test_password_never_on_the_command_line(appliance):
    # sluicectl refuses to run without the password line on stdin (exit 2)
    p = subprocess.run([str(e2e.SLUICECTL), "user", "add", "x@sluice.test", "--password-stdin"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10)
    assert p.returncode == 2 and "no password on stdin" in p.stderr


def test_user_passwd_changes_what_auth_accepts(appliance):
    u, old = sm.new_user("pw")
    assert ctl("user", "passwd", u, "--password-stdin", input="n3w-pass\n").stdout == \
        f"password of {u} changed\n"
    p = sm.swaks("--port", sm.SUBMISSION, "--auth", "PLAIN", "--auth-user", u,
                 "--auth-password", old, "--quit-after", "AUTH", check=False)
    assert "535 5.7.8" in p.stdout, p.stdout
    p = sm.swaks("--port", sm.SUBMISSION, "--auth", "PLAIN", "--auth-user", u,
                 "--auth-password", "n3w-pass", "--quit-after", "AUTH")
    assert "235 2.7.0" in p.stdout, p.stdout
    ctl_fails("user", "passwd", "ghost-" + u, "--password-stdin", input="x\n",
              expect="unknown user")
    ctl_fails("user", "passwd", u, expect="missing --password-stdin")


def test_alias_add_list_del(appliance):
    u, _ = sm.new_user("aliased")
    a = "a-" + u
    assert ctl("alias", "add", a, u).stdout == f"alias {a} -> {u} added\n"
    ctl("alias", "add", a, "outside@example.net")
    lines = ctl("alias", "list").stdout.splitlines()
    assert f"{a} -> {u}" in lines and f"{a} -> outside@example.net" in lines
    ctl_fails("alias", "add", a, u, expect="alias exists")
    ctl_fails("alias", "add", u, "x@example.net", expect="address is a user")
    ctl_fails("alias", "add", f"z@{_domain()}", u, expect="unknown domain")
    ctl_fails("alias", "add", a, a, expect="alias points to itself")
    ctl_fails("alias", "add", "noat", u, expect="bad address syntax")
    ctl_fails("user", "add", a, "--password-stdin", input="pw\n", expect="address is an alias")
    ctl("alias", "del", a, "outside@example.net")
    assert f"{a} -> outside@example.net" not in ctl("alias", "list").stdout
    ctl("alias", "del", a)
    assert a not in ctl("alias", "list").stdout
    ctl_fails("alias", "del", a, expect="no such alias")


def test_mailbox_list_counts(appliance):
    u, _ = sm.new_user("mbx")
    msgs = [sm.unique_body("mbx", size=s)[0] for s in (100, 5000, 70000)]
    for m in msgs:
        sm.netns(sm.smtplib_send, "m@example.org", [u], m)
    count, unseen, size = sm.mailboxes(u)["INBOX"]
    listed = sm.messages(u)
    assert (count, unseen) == (3, 3)
    assert size == sum(s for _, s, _ in listed)
    assert [uid for uid, _, _ in listed] == [1, 2, 3]
    for (uid, s, sha), m in zip(listed, msgs):
        stored = sm.message_get(u, uid)
        assert sm.strip_received(stored)[1] == m and sm.sha256(stored) == sha
    ctl_fails("mailbox", "list", "ghost@sluice.test", expect="unknown user")
    ctl_fails("mailbox", "list", "ghost", expect="bad address syntax")


def test_message_get_errors(appliance):
    u, _ = sm.new_user("get")
    ctl_fails("message", "get", u, "INBOX", "1", expect="no such message")
    ctl_fails("message", "get", u, "Nope", "1", expect="no such mailbox")
    ctl_fails("message", "get", u, "INBOX", "x", expect="decimal")
    ctl_fails("message", "list", "ghost@sluice.test", expect="unknown user")


def test_backup(appliance, tmp_path):
    u, _ = sm.new_user("bk")
    sm.netns(sm.smtplib_send, "b@example.org", [u], sm.unique_body("backup")[0])
    dest = tmp_path / "backup"
    out = ctl("backup", str(dest), timeout=120).stdout
    assert out.startswith(f"backup written to {dest}/data.mdb")
    assert os.path.getsize(dest / "data.mdb") > 0
    # a second backup replaces the first atomically
    ctl("backup", str(dest), timeout=120)
    ctl_fails("backup", "relative/path", expect="must be absolute")
    ctl_fails("backup", "/proc/no/such/dir", expect="backup to /proc/no/such/dir")


def test_store_status_and_check(appliance):
    out = ctl("store", "status").stdout
    assert "path:           /var/lib/sluice/" in out and "schema:         1" in out
    out = ctl("store", "check", timeout=120).stdout
    assert out.strip().endswith("consistent"), out


def test_queue_list_shows_relayed_mail(appliance):
    u, pw = sm.new_user("q")
    far = f"q-{secrets.token_hex(3)}@example.net"
    sm.netns(sm.smtplib_send, u, [far], sm.unique_body("queue")[0], port=sm.SUBMISSION,
             user=u, password=pw)
    out = sm.queue_list()
    assert f"from=<{u}>" in out and f"to=<{far}> pending" in out


@pytest.mark.parametrize("path,reason", [("/proc/sluice-no/store", "No such file or directory"),
                                         ("NOTADIR", "Not a directory")])
def test_unusable_store_path_stops_boot(tmp_path, path, reason):
    # The store opens before DPDK: sluiced exits at once, touching no network.
    if path == "NOTADIR":
        path = str(tmp_path / "file")
        (tmp_path / "file").write_text("x")
    conf = e2e.DEMO_CONF.read_text().replace('path = "/var/lib/sluice/demo";', f'path = "{path}";')
    conf = conf.replace("/run/sluice/sluiced.sock", str(tmp_path / "ctl.sock"))
    assert path in conf
    cf = tmp_path / "bad.conf"
    cf.write_text(conf)
    p = e2e.run([str(e2e.ROOT / "build" / "sluiced"), "--config", str(cf)], check=False, timeout=30)
    assert p.returncode == 1
    assert f"sluiced: store {path}: " in p.stderr and reason in p.stderr, p.stderr
