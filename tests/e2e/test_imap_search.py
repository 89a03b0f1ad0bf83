"""IMAP SEARCH on message text and header fields over the TAP (issue 6).

A fresh user APPENDs a handful of crafted messages (encoded words, QP and
base64 bodies, latin-1 and KOI8-R, multipart with HTML and an attachment,
a forwarded message/rfc822, messages without a usable Date:), then imaplib
runs UID SEARCH with each content key, alone and combined, and the UID
sets are compared with what RFC 9051 §6.4.4 says they must be."""

import base64
import re

import pytest

import imap_e2e as ie
import sluice_e2e as e2e
import smtp_e2e as se

pytestmark = pytest.mark.skipif(
    not re.search(r"^imap \{", e2e.DEMO_CONF.read_text(), re.M),
    reason="conf/demo.conf has no imap section yet")

B64 = base64.b64encode(b"Secret launch code: PINEAPPLE\r\n").decode()
ATT = base64.b64encode(b"hiddenword in an attachment\r\n").decode()

# (message, internal date)
MSGS = [
    ("From: \"Alice Example\" <alice@example.com>\r\nTo: bob@example.org\r\n"
     "Cc: carol@example.net\r\nSubject: Quarterly report\r\n"
     "Date: Mon, 5 Jan 2026 10:00:00 +0000\r\n\r\n"
     "The numbers look GOOD this quarter.\r\n", "05-Jan-2026 10:00:00 +0000"),
    ("From: =?ISO-8859-1?Q?J=F6rg_M=FCller?= <jorg@example.de>\r\nTo: team@example.org\r\n"
     "Subject: =?UTF-8?B?w4RyZ2VyIMO8YmVyIGRpZSBHcsO8w59l?=\r\n"
     "Date: Tue, 6 Jan 2026 23:30:00 -0800 (PST)\r\nMIME-Version: 1.0\r\n"
     "Content-Type: text/plain; charset=utf-8\r\n"
     "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
     "Caf=C3=A9 cr=C3=A8me br=C3=BBl=C3=A9e, to=\r\ngether.\r\n", "07-Jan-2026 07:30:00 +0000"),
    ("From: ops@example.com\r\nBcc: dave@example.com\r\nSubject: codes\r\n"
     "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
     + B64 + "\r\n", "01-Feb-2026 00:00:00 +0000"),
    ("From: news@example.com\r\nTo: all@example.org\r\nSubject: Greetings\r\n"
     "X-Custom: Foo-Bar\r\nDate: 31 Dec 25 08:00 +0100\r\nMIME-Version: 1.0\r\n"
     "Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\npreamble kangaroo\r\n"
     "--outer\r\nContent-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n"
     "--alt\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
     "Content-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe aus M=DCnchen\r\n"
     "--alt\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n"
     "<p>Hello <b>World</b> &amp; friends</p>\r\n--alt--\r\n"
     "--outer\r\nContent-Type: application/octet-stream\r\n"
     "Content-Transfer-Encoding: base64\r\n\r\n" + ATT + "\r\n--outer--\r\n",
     "31-Dec-2025 07:00:00 +0000"),
    ("From: fwd@example.com\r\nSubject: Fwd\r\nDate: yesterday afternoon\r\n"
     "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
     "--b\r\nContent-Type: text/plain\r\n\r\nsee below\r\n"
     "--b\r\nContent-Type: message/rfc822\r\n\r\n"
     "From: inner@example.com\r\nSubject: Inner subject zebra\r\n\r\n"
     "a giraffe inside\r\n--b--\r\n", "01-Mar-2026 00:00:00 +0000"),
    ("From: ivan@example.ru\r\nSubject: =?KOI8-R?B?8NLJ18XU?=\r\n"
     "Date: Sat, 10 Jan 2026 12:00:00 +0300\r\n"
     "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
     "Привет МИР, ΣΟΦΙΑ and Äpfel\r\n", "10-Jan-2026 12:00:00 +0300"),
]

# (search arguments, expected UIDs); a bytes argument goes as a literal
CASES = [
    (["FROM", "alice"], {1}),
    (["TO", "EXAMPLE.ORG"], {1, 2, 4}),
    (["CC", "carol"], {1}),
    (["BCC", "dave"], {3}),
    (["SUBJECT", '"quarterly REP"'], {1}),
    (["HEADER", "X-Custom", "foo-bar"], {4}),
    (["HEADER", "Content-Type", '""'], {2, 3, 4, 5, 6}),
    (["HEADER", "X-Missing", '""'], set()),
    (["FROM", "jörg m".encode()], {2}),
    (["SUBJECT", "äRGER Über".encode()], {2}),
    (["SUBJECT", "привет".encode()], {6}),
    (["BODY", '"numbers look good"'], {1}),
    (["BODY", "CRÈME BRÛLÉE".encode()], {2}),
    (["BODY", "together"], {2}),
    (["BODY", "pineapple"], {3}),
    (["BODY", "münchen".encode()], {4}),
    (["BODY", '"world & friends"'], {4}),
    (["BODY", "hiddenword"], set()),
    (["BODY", "kangaroo"], set()),
    (["BODY", "giraffe"], {5}),
    (["BODY", "zebra"], {5}),
    (["BODY", "мир".encode()], {6}),
    (["BODY", "σοφια".encode()], {6}),
    (["BODY", "quarterly"], set()),
    (["TEXT", "quarterly"], {1}),
    (["TEXT", '"subject: codes"'], {3}),
    (["SENTON", "6-Jan-2026"], {2}),
    (["SENTBEFORE", "1-Jan-2026"], {4}),
    (["SENTSINCE", "1-Feb-2026"], {3, 5}),
    (["SENTSINCE", "5-Jan-2026", "SENTBEFORE", "7-Jan-2026"], {1, 2}),
    (["NOT", "BODY", "o"], {6}),
    (["OR", "FROM", "alice", "SUBJECT", "codes"], {1, 3}),
    (["UNSEEN", "NOT", "FROM", "news"], {1, 2, 3, 5, 6}),
    (["UID", "2:5", "TEXT", "example.com"], {3, 4, 5}),
]


@pytest.fixture
def user(appliance):
    return se.new_user("isearch")


def test_search_content_keys(user):
    addr, pw = user

    def run():
        c = ie.connect(addr, pw)
        uids = []
        for body, date in MSGS:
            typ, data = c.append("INBOX", None, f'"{date}"', body.encode())
            assert typ == "OK", data
            uids.append(int(re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1)))
        ie.ok(c.select("INBOX"))
        got = []
        for args, _ in CASES:
            lit = [a for a in args if isinstance(a, bytes)]
            if lit:
                # a UTF-8 string as a literal, CHARSET UTF-8 (RFC 9051 §6.4.4)
                c.literal = lit[0]
                words = ["CHARSET", "UTF-8"] + [a for a in args if not isinstance(a, bytes)]
                typ, data = c.uid("SEARCH", *words)
            else:
                typ, data = c.uid("SEARCH", *args)
            got.append((typ, data[0].decode() if data and data[0] else ""))
        bad = c.uid("SEARCH", "CHARSET", "KOI8-R", "BODY", "x")
        esearch = c.uid("SEARCH", "RETURN", "(MIN MAX COUNT)", "BODY", "o")
        c.logout()
        return uids, got, bad, esearch

    uids, got, bad, esearch = ie.netns(run)
    first = uids[0]
    assert uids == list(range(1, 1 + len(MSGS)))  # a fresh mailbox: "UID 2:5" above
    for (args, want), (typ, line) in zip(CASES, got):
        assert typ == "OK", (args, typ, line)
        have = {int(x) - first + 1 for x in line.split()}
        assert have == want, (args, line)
    assert bad[0] == "NO" and b"BADCHARSET" in bad[1][0], bad
    assert esearch[0] == "OK", esearch
    # imaplib files the untagged ESEARCH elsewhere; the tagged OK is enough
    # here, the unit tests check the response itself


def test_search_body_many_messages(user):
    """UID SEARCH BODY over 600 x 4 KB messages (more than one slice of the
    glue's budget): one hit every 100, the session stays usable after."""
    addr, pw = user

    def run():
        c = ie.connect(addr, pw)
        filler = "".join(f"line {i} of filler text, nothing to see\r\n" for i in range(95))
        for i in range(1, 601):
            term = "needle%04d " % i if i % 100 == 0 else ""
            msg = (f"From: load@example.com\r\nSubject: load {i}\r\n\r\n{term}{filler}")
            typ, data = c.append("INBOX", None, None, msg.encode())
            assert typ == "OK", data
        ie.ok(c.select("INBOX"))
        hits = ie.ok(c.uid("SEARCH", "BODY", "NEEDLE0"))[0].split()
        none = ie.ok(c.uid("SEARCH", "BODY", "needle9999"))[0].split()
        count = ie.ok(c.search(None, "SUBJECT", '"load 6"'))[0].split()
        noop = c.noop()
        c.logout()
        return hits, none, count, noop

    hits, none, count, noop = ie.netns(run, timeout=300)
    assert len(hits) == 6
    assert none == []
    # "load 6", "load 60".."load 69" and "load 600"
    assert len(count) == 12
    assert noop[0] == "OK"
