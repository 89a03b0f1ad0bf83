"""IMAP BINARY (RFC 3516), sections of embedded messages and QRESYNC
(RFC 7162 §3.2) over the TAP (issue 6).

* BINARY of a base64 attachment (4 MB of bytes with NUL) comes back
  byte-identical to the decoded original, as a literal8; BINARY.SIZE
  agrees; a quoted-printable text part decodes; an unknown encoding is
  NO [UNKNOWN-CTE]; a literal8 APPEND with NUL bytes is stored as it is.
* BODY[2.HEADER.FIELDS (...)], BODY[2.TEXT] and a part of a message inside
  a message.
* QRESYNC: session A expunges and changes flags while B is away; B
  re-SELECTs with QRESYNC and gets exactly the VANISHED (EARLIER) and FETCH
  lines for what happened; UID FETCH (CHANGEDSINCE n VANISHED) agrees; with
  QRESYNC on, B hears of expunges as VANISHED."""

import base64
import os
import re
import time

import pytest

import imap_e2e as ie
import sluice_e2e as e2e
import smtp_e2e as se

pytestmark = pytest.mark.skipif(
    not re.search(r"^imap \{", e2e.DEMO_CONF.read_text(), re.M),
    reason="conf/demo.conf has no imap section yet")

ATTACH = os.urandom(4 * 1024 * 1024) + b"\x00\x00tail"
TEXT_QP = "Caf=C3=A9 cr=C3=A8me =3D soft=\r\nbreak"
TEXT = "Café crème = softbreak".encode()


def b64_lines(data):
    enc = base64.b64encode(data)
    return b"\r\n".join(enc[i:i + 76] for i in range(0, len(enc), 76))


MIXED = (b"From: a@example.com\r\nSubject: attachment\r\nMIME-Version: 1.0\r\n"
         b"Content-Type: multipart/mixed; boundary=\"zz\"\r\n\r\n"
         b"--zz\r\nContent-Type: text/plain; charset=utf-8\r\n"
         b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + TEXT_QP.encode() + b"\r\n"
         b"--zz\r\nContent-Type: application/octet-stream; name=blob.bin\r\n"
         b"Content-Transfer-Encoding: base64\r\n\r\n" + b64_lines(ATTACH) + b"\r\n"
         b"--zz\r\nContent-Type: application/x-odd\r\nContent-Transfer-Encoding: x-rot13\r\n\r\n"
         b"nopqrs\r\n--zz--\r\n")

NESTED = (b"From: outer@example.com\r\nSubject: Fwd: report\r\nMIME-Version: 1.0\r\n"
          b"Content-Type: multipart/mixed; boundary=\"o\"\r\n\r\n"
          b"--o\r\nContent-Type: text/plain\r\n\r\nsee the forwarded message\r\n"
          b"--o\r\nContent-Type: message/rfc822\r\n\r\n"
          b"From: Inner Person <inner@example.com>\r\nTo: team@example.org\r\n"
          b"Subject: Quarterly report\r\nX-Trace: abc\r\n"
          b"Content-Type: multipart/mixed; boundary=\"m\"\r\n\r\n"
          b"--m\r\nContent-Type: text/plain\r\n\r\nthe numbers\r\n"
          b"--m\r\nContent-Type: message/rfc822\r\n\r\n"
          b"Subject: deepest\r\nX-Deep: yes\r\n\r\ndeep body\r\n--m--\r\n--o--\r\n")


@pytest.fixture
def user(appliance):
    return se.new_user("iext")


def _item(data, name):
    """The literal after NAME in an imaplib FETCH answer."""
    for part in data:
        if isinstance(part, tuple) and name.encode() in part[0]:
            return part[0], part[1]
    raise AssertionError(f"{name} not in {data!r:.300}")


def test_binary_attachment(user):
    addr, pw = user

    def run():
        c = ie.connect(addr, pw, timeout=120)
        typ, data = c.append("INBOX", None, None, MIXED)
        assert typ == "OK", data
        uid = int(re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1))
        ie.ok(c.select("INBOX"))
        t0 = time.monotonic()
        raw = ie.ok(c.uid("FETCH", str(uid), "(BODY.PEEK[2])"))
        t1 = time.monotonic()
        att = ie.ok(c.uid("FETCH", str(uid), "(BINARY.SIZE[2] BINARY.PEEK[2])"))
        t2 = time.monotonic()
        print(f"\nBODY.PEEK[2] ({len(_item(raw, 'BODY[2]')[1])} bytes base64): {t1 - t0:.3f} s; "
              f"BINARY.SIZE[2] + BINARY.PEEK[2] ({len(ATTACH)} bytes): {t2 - t1:.3f} s")
        part = ie.ok(c.uid("FETCH", str(uid), "(BINARY.PEEK[2]<1000.5000>)"))
        text = ie.ok(c.uid("FETCH", str(uid), "(BINARY.SIZE[1] BINARY.PEEK[1])"))
        odd = c.uid("FETCH", str(uid), "(BINARY.PEEK[3])")
        flags = ie.ok(c.uid("FETCH", str(uid), "(FLAGS)"))
        c.logout()
        return att, part, text, odd, flags

    att, part, text, odd, flags = ie.netns(run, timeout=300)
    head, body = _item(att, "BINARY[2]")
    assert body == ATTACH
    assert re.search(rb"BINARY\.SIZE\[2\] %d " % len(ATTACH), head), head
    assert head.endswith(b"~{%d}" % len(ATTACH)), head  # NUL inside: literal8
    head, body = _item(part, "BINARY[2]<1000>")
    assert body == ATTACH[1000:6000]
    head, body = _item(text, "BINARY[1]")
    assert body == TEXT
    assert b"BINARY.SIZE[1] %d " % len(TEXT) in head
    assert head.endswith(b" {%d}" % len(TEXT)), head  # no NUL: a plain literal
    assert odd[0] == "NO" and b"UNKNOWN-CTE" in odd[1][0], odd
    assert b"\\Seen" not in flags[0]  # BINARY.PEEK and BINARY.SIZE leave \Seen


def test_binary_append_literal8(user):
    addr, pw = user
    msg = b"Subject: raw\r\nContent-Transfer-Encoding: binary\r\n\r\nzero\x00byte\x00s\r\n"

    def run():
        r = ie.Raw()
        r.cmd("a", f'LOGIN "{addr}" "{pw}"')
        r.send(b"b APPEND INBOX ~{%d+}\r\n" % len(msg) + msg + b"\r\n")
        appended = r.until_tagged("b")
        plain = r.cmd("c", "APPEND INBOX {3+}\r\nx\x00y")
        r.cmd("z", "LOGOUT")
        r.close()
        c = ie.connect(addr, pw)
        ie.ok(c.select("INBOX"))
        bodies = ie.fetch_bodies(c)
        binary = ie.ok(c.fetch("1", "(BINARY.PEEK[1])"))
        c.logout()
        return appended, plain, bodies, binary

    appended, plain, bodies, binary = ie.netns(run)
    assert appended[-1].startswith("b OK [APPENDUID"), appended
    assert plain[-1].startswith("c BAD"), plain  # NUL only in literal8
    assert list(bodies.values()) == [msg]
    head, body = _item(binary, "BINARY[1]")
    assert body == b"zero\x00byte\x00s\r\n"  # part 1 of a single-part message: its body
    assert head.endswith(b"~{13}"), head


def test_part_header_fields(user):
    addr, pw = user

    def run():
        c = ie.connect(addr, pw)
        typ, data = c.append("INBOX", None, None, NESTED)
        assert typ == "OK", data
        ie.ok(c.select("INBOX"))
        got = ie.ok(c.fetch("1", "(BODY.PEEK[2.HEADER.FIELDS (SUBJECT FROM)] "
                                 "BODY.PEEK[2.HEADER.FIELDS.NOT (Content-Type X-Trace)] "
                                 "BODY.PEEK[2.2.HEADER.FIELDS (X-DEEP)] BODY.PEEK[2.2.TEXT] "
                                 "BODY.PEEK[2.1])"))
        c.logout()
        return got

    got = ie.netns(run)
    _, v = _item(got, "BODY[2.HEADER.FIELDS (SUBJECT FROM)]")
    assert v == b"From: Inner Person <inner@example.com>\r\nSubject: Quarterly report\r\n\r\n"
    _, v = _item(got, "BODY[2.HEADER.FIELDS.NOT (Content-Type X-Trace)]")
    assert v == (b"From: Inner Person <inner@example.com>\r\nTo: team@example.org\r\n"
                 b"Subject: Quarterly report\r\n\r\n")
    _, v = _item(got, "BODY[2.2.HEADER.FIELDS (X-DEEP)]")
    assert v == b"X-Deep: yes\r\n\r\n"
    _, v = _item(got, "BODY[2.2.TEXT]")
    assert v == b"deep body"
    _, v = _item(got, "BODY[2.1]")
    assert v == b"the numbers"


def _login(r, addr, pw):
    assert r.cmd("a", f'LOGIN "{addr}" "{pw}"')[-1].startswith("a OK")
    en = r.cmd("e", "ENABLE QRESYNC")
    assert en[-1].startswith("e OK") and any("QRESYNC" in x for x in en), en


def _append_some(a, n, tag):
    """APPEND N small messages to INBOX with imaplib client A: their UIDs."""
    uids = []
    for i in range(n):
        typ, data = a.append("INBOX", None, None, f"Subject: {tag}{i}\r\n\r\nbody {i}\r\n".encode())
        assert typ == "OK", data
        uids.append(int(re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1)))
    return uids


def _select_state(r):
    """SELECT INBOX on raw session R: (UIDVALIDITY, HIGHESTMODSEQ)."""
    sel = "".join(r.cmd("s", "SELECT INBOX"))
    return (int(re.search(r"UIDVALIDITY (\d+)", sel).group(1)),
            int(re.search(r"HIGHESTMODSEQ (\d+)", sel).group(1)))


def test_qresync_resync(user):
    addr, pw = user

    def run():
        a = ie.connect(addr, pw)
        uids = _append_some(a, 8, "m")
        # B syncs once and goes away
        b = ie.Raw()
        _login(b, addr, pw)
        uidvalidity, modseq = _select_state(b)
        b.cmd("z", "LOGOUT")
        b.close()
        # A: flags on two, expunges three (two adjacent), one new message
        ie.ok(a.select("INBOX"))
        ie.ok(a.uid("STORE", f"{uids[1]},{uids[6]}", "+FLAGS", r"(\Flagged)"))
        ie.ok(a.uid("STORE", f"{uids[2]}:{uids[3]},{uids[5]}", "+FLAGS", r"(\Deleted)"))
        ie.ok(a.expunge())
        typ, data = a.append("INBOX", None, None, b"Subject: new\r\n\r\nnew\r\n")
        new_uid = int(re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1))
        # B comes back with what it knew
        b = ie.Raw()
        _login(b, addr, pw)
        known = f"{uids[0]}:{uids[7]}"
        resel = b.cmd("s", f"SELECT INBOX (QRESYNC ({uidvalidity} {modseq} {known}))")
        van = b.cmd("f", f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {modseq} VANISHED)")
        # with QRESYNC on, an expunge B sees is VANISHED, not EXPUNGE
        ie.ok(a.uid("STORE", str(uids[0]), "+FLAGS", r"(\Deleted)"))
        ie.ok(a.expunge())
        noop = b.cmd("n", "NOOP")
        again = b.cmd("t", f"SELECT INBOX (QRESYNC ({uidvalidity + 1} {modseq}))")
        b.cmd("z", "LOGOUT")
        b.close()
        a.logout()
        return uids, new_uid, resel, van, noop, again

    uids, new_uid, resel, van, noop, again = ie.netns(run)
    gone = f"{uids[2]}:{uids[3]},{uids[5]}"
    assert resel[-1].startswith("s OK [READ-WRITE]"), resel
    vanished = [x.strip() for x in resel if x.startswith("* VANISHED")]
    assert vanished == [f"* VANISHED (EARLIER) {gone}"], resel
    # VANISHED (EARLIER) comes before the FETCHes (RFC 7162 §3.2.5.1)
    first_fetch = next(i for i, x in enumerate(resel) if x.startswith("* ") and " FETCH " in x)
    assert resel.index(vanished[0] + "\r\n") < first_fetch
    fetched = {int(re.search(r"UID (\d+)", x).group(1)): x for x in resel
               if x.startswith("* ") and " FETCH " in x}
    assert set(fetched) == {uids[1], uids[6], new_uid}, resel
    assert "\\Flagged" in fetched[uids[1]] and "MODSEQ (" in fetched[uids[1]]
    assert "\\Flagged" not in fetched[new_uid]
    # sequence numbers are those of B's new view: 5 left of 8, plus the new one
    assert re.match(r"\* 2 FETCH ", fetched[uids[1]]) and re.match(r"\* 6 FETCH ", fetched[new_uid])
    assert any(re.match(r"\* 6 EXISTS", x) for x in resel), resel
    assert [x.strip() for x in van if x.startswith("* VANISHED")] == [f"* VANISHED (EARLIER) {gone}"]
    van_uids = {int(re.search(r"UID (\d+)", x).group(1))
                for x in van if x.startswith("* ") and " FETCH " in x}
    assert van_uids == {uids[1], uids[6], new_uid}, van
    assert van[-1].startswith("f OK"), van
    assert f"* VANISHED {uids[0]}\r\n" in noop and not any("EXPUNGE" in x for x in noop), noop
    # another UIDVALIDITY: a plain SELECT, nothing about changes
    assert again[-1].startswith("t OK") and not any("VANISHED" in x for x in again), again
    assert "* OK [CLOSED] Previous mailbox closed\r\n" in again


@pytest.mark.slow
def test_binary_20mb_attachment(user):
    """A 20 MB base64 attachment (15 MiB decoded; the demo's APPENDLIMIT is
    25 MiB): BINARY.SIZE and BINARY stream it through the session's output
    buffer; byte-identical, with timings."""
    addr, pw = user
    blob = os.urandom(15 * 1024 * 1024)
    msg = (b"Subject: big\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n"
           b"--q\r\nContent-Type: text/plain\r\n\r\nbig one\r\n"
           b"--q\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           + b64_lines(blob) + b"\r\n--q--\r\n")

    def run():
        c = ie.connect(addr, pw, timeout=300)
        typ, data = c.append("INBOX", None, None, msg)
        assert typ == "OK", data
        ie.ok(c.select("INBOX"))
        t0 = time.monotonic()
        size = ie.ok(c.fetch("1", "(BINARY.SIZE[2])"))
        t1 = time.monotonic()
        got = ie.ok(c.fetch("1", "(BINARY.PEEK[2])"))
        t2 = time.monotonic()
        raw = ie.ok(c.fetch("1", "(BODY.PEEK[2])"))
        t3 = time.monotonic()
        c.logout()
        return size, got, len(_item(raw, "BODY[2]")[1]), (t1 - t0, t2 - t1, t3 - t2)

    size, got, raw_len, (t_size, t_bin, t_raw) = ie.netns(run, timeout=600)
    assert b"BINARY.SIZE[2] %d" % len(blob) in size[0], size
    head, body = _item(got, "BINARY[2]")
    assert body == blob
    print(f"\n{len(blob)} byte attachment: BINARY.SIZE[2] {t_size:.2f} s, BINARY.PEEK[2] {t_bin:.2f} s "
          f"(measure + decode + send), BODY.PEEK[2] ({raw_len} bytes) {t_raw:.2f} s")


# ---- a bounded expunge history (store.vanished_max) ----

HISTORY = 4


@pytest.fixture
def short_history(sluice, request):
    """conf/demo.conf with the store keeping only HISTORY expunges per mailbox."""
    text, n = re.subn(r"^store \{\n", f"store {{\n    vanished_max = {HISTORY};\n",
                      e2e.DEMO_CONF.read_text(), flags=re.M)
    assert n == 1, "conf/demo.conf has no store section"
    e2e.RUNDIR.mkdir(parents=True, exist_ok=True)
    conf = e2e.RUNDIR / "e2e-imap-short-history.conf"
    conf.write_text("# generated by tests/e2e/test_imap_ext.py from conf/demo.conf\n" + text)
    sluice.ensure(conf)
    yield se.new_user("ihist")
    if not sluice.alive():
        pytest.fail(f"sluiced died during {request.node.name}:\n{e2e.log_tail(40)}")


def test_qresync_below_the_pruned_history(short_history):
    # More expunges than the store keeps happen while B sleeps: B's NOOP
    # and a later QRESYNC SELECT from before them still name every one.
    addr, pw = short_history

    def run():
        a = ie.connect(addr, pw)
        uids = _append_some(a, 10, "h")
        b = ie.Raw()
        _login(b, addr, pw)
        uidvalidity, modseq = _select_state(b)
        ie.ok(a.select("INBOX"))
        for k in range(1, 9):  # eight expunges, one at a time: twice the history
            ie.ok(a.uid("STORE", str(uids[k]), "+FLAGS", r"(\Deleted)"))
            ie.ok(a.expunge())
        noop = b.cmd("n", "NOOP")
        b.cmd("z", "LOGOUT")
        b.close()
        c = ie.Raw()
        _login(c, addr, pw)
        resel = c.cmd("s", f"SELECT INBOX (QRESYNC ({uidvalidity} {modseq} {uids[0]}:{uids[9]}))")
        c.cmd("z", "LOGOUT")
        c.close()
        a.logout()
        return uids, noop, resel

    uids, noop, resel = ie.netns(run)
    gone = f"{uids[1]}:{uids[8]}"
    assert noop[-1].startswith("n OK"), noop
    assert [x.strip() for x in noop if x.startswith("* VANISHED")] == [f"* VANISHED {gone}"], noop
    assert resel[-1].startswith("s OK"), resel
    assert [x.strip() for x in resel if x.startswith("* VANISHED")] == \
        [f"* VANISHED (EARLIER) {gone}"], resel
    assert any(re.match(r"\* 2 EXISTS", x) for x in resel), resel
