"""Hostile TCP, crafted with scapy and sent raw on sluice0 next to live
kernel connections (RFC 5961 blind-attack defences, RFC 9293 window checks,
SYN cookies) and a fixed-seed fuzz of options and headers."""

import random
import socket
import struct
import threading
import time

import pytest

import sluice_e2e as e2e
from sluice_e2e import APPLIANCE_IP, KERNEL_IP, seq_add


@pytest.mark.parametrize("corrupt", ["ip", "l4"])
def test_bad_checksum_syn_dropped(appliance, corrupt):
    assert e2e.in_netns(e2e.checksum_probe, "tcp", None, timeout=30), "valid SYN not answered"
    before = e2e.stats()
    answered = e2e.in_netns(e2e.checksum_probe, "tcp", corrupt, 2, timeout=30)
    d = e2e.stats_delta(before, e2e.stats())
    assert not answered, f"appliance answered a SYN with a bad {corrupt} checksum"
    counter = "ip_rx_bad_csum" if corrupt == "ip" else "tcp_rx_bad_csum"
    assert d[counter] >= 1, f"{counter} +{d[counter]}"


def _replies(l2, flow, wait=1.0):
    """Segments of FLOW sent by the appliance within WAIT seconds."""
    return [t for t in (flow.from_appliance(f) for f in l2.frames(wait)) if t is not None]


def _bad_csum_in_stream():
    l2 = e2e.L2()
    s, flow = e2e.tracked_connection(l2)
    frame = bytes(flow.segment(l2, flags="PA", payload=b"EVIL"))
    l2.send(e2e.corrupt_csum(frame, e2e.CSUM_TCP))
    replies = _replies(l2, flow, 0.5)
    back = e2e.echo_roundtrip(s, b"good!")
    e2e.expect_silence(s)
    s.close()
    return [(int(t.flags), t.seq, t.ack) for t in replies], back


def test_bad_checksum_segment_in_stream_ignored(appliance):
    before = e2e.stats()
    replies, back = e2e.in_netns(_bad_csum_in_stream, timeout=30)
    d = e2e.stats_delta(before, e2e.stats())
    assert replies == [], f"appliance reacted to a segment with a bad checksum: {replies}"
    assert back == b"good!", f"stream corrupted by a bad-checksum segment: {back!r}"
    assert d["tcp_rx_bad_csum"] >= 1, d


def _challenge(kind):
    """Inject KIND into a live connection at an in-window but not exact
    sequence number; return the appliance's answers and whether the
    connection still echoes afterwards."""
    l2 = e2e.L2()
    s, flow = e2e.tracked_connection(l2)
    assert flow.a_window >= 2, f"window {flow.a_window} too small for an in-window probe"
    inside = seq_add(flow.k_nxt, min(1000, flow.a_window // 2))
    if kind == "rst":
        pkt = flow.segment(l2, flags="R", seq=inside, ack=0, options=[])
    elif kind == "syn":
        opts = [("MSS", 1460), ("SAckOK", b"")]
        if flow.k_ts is not None:
            opts.append(("Timestamp", (flow.k_ts, 0)))
        opts += [("NOP", None), ("WScale", 7)]
        pkt = flow.segment(l2, flags="S", seq=inside, ack=0, options=opts)
    elif kind == "rst-exact":
        pkt = flow.segment(l2, flags="R", seq=flow.k_nxt, ack=0, options=[])
    else:
        raise ValueError(kind)
    l2.send(bytes(pkt))
    replies = _replies(l2, flow, 1.0)
    info = {"k_nxt": flow.k_nxt, "a_nxt": flow.a_nxt,
            "replies": [(int(t.flags), t.seq, t.ack, len(bytes(t.payload))) for t in replies]}
    try:
        info["echo"] = e2e.echo_roundtrip(s, b"still connected?")
        e2e.expect_silence(s, 0.2)
    except ConnectionResetError:
        info["echo"] = "reset"
    except (socket.timeout, AssertionError) as e:
        info["echo"] = repr(e)
    s.close()
    return info


@pytest.mark.parametrize("kind", ["rst", "syn"])
def test_in_window_gets_challenge_ack(appliance, kind):
    # RFC 5961 3.2 (RST) and 4.2 (SYN): <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>,
    # and the connection survives.
    before = e2e.stats()
    info = e2e.in_netns(_challenge, kind, timeout=30)
    d = e2e.stats_delta(before, e2e.stats())
    want = (0x10, info["a_nxt"], info["k_nxt"], 0)
    assert info["replies"], f"no challenge ACK for an in-window {kind.upper()}"
    assert want in info["replies"], \
        f"answers (flags, seq, ack, len) {info['replies']}, want challenge ACK {want}"
    assert not [r for r in info["replies"] if r[0] & 0x04], f"appliance sent a RST: {info}"
    assert d["tcp_challenge_acks"] >= 1, f"tcp_challenge_acks +{d['tcp_challenge_acks']}"
    assert info["echo"] == b"still connected?", \
        f"connection did not survive the in-window {kind.upper()}: {info['echo']}"


def test_exact_rst_resets_connection(appliance):
    # The control case: a RST at exactly RCV.NXT is accepted (RFC 5961 3.2).
    before = e2e.stats()
    info = e2e.in_netns(_challenge, "rst-exact", timeout=30)
    d = e2e.stats_delta(before, e2e.stats())
    assert not [r for r in info["replies"] if r[0] == 0x10], \
        f"challenge ACK for an exact RST: {info['replies']}"
    assert info["echo"] == "reset", f"connection still usable after exact RST: {info['echo']}"
    assert d["tcp_rst_rx"] >= 1, d


def _out_of_window(where):
    l2 = e2e.L2()
    s, flow = e2e.tracked_connection(l2)
    payload = b"EVIL"
    if where == "future":
        # Far beyond anything the appliance advertised.
        gap = min(flow.a_window * 2 + 65536, 1 << 29)
        seq = seq_add(flow.k_nxt, gap)
    else:  # old data: entirely before RCV.NXT
        gap = None
        seq = seq_add(flow.k_nxt, -3000)
    l2.send(bytes(flow.segment(l2, flags="PA", seq=seq, payload=payload)))
    replies = _replies(l2, flow, 1.0)
    info = {"k_nxt": flow.k_nxt, "a_nxt": flow.a_nxt, "window": flow.a_window,
            "replies": [(int(t.flags), t.seq, t.ack, len(bytes(t.payload))) for t in replies]}
    l2.close()
    # Not accepted: the echoed stream is exactly what the kernel sends, even
    # across the sequence range the injected bytes claimed.
    data = random.Random(11).randbytes((gap or 0) + 4096)
    back = e2e.echo_roundtrip(s, data)
    info["stream_ok"] = back == data
    if not info["stream_ok"]:
        bad = next(i for i in range(len(data)) if back[i] != data[i])
        info["first_diff"] = (bad, back[bad:bad + 8])
    e2e.expect_silence(s)
    s.close()
    return info


@pytest.mark.parametrize("where", ["future", "past"])
def test_out_of_window_segment_acked_not_accepted(appliance, where):
    # RFC 9293 3.10.7.4: an unacceptable segment gets <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>
    # and is dropped.
    before = e2e.stats()
    info = e2e.in_netns(_out_of_window, where, timeout=60)
    d = e2e.stats_delta(before, e2e.stats())
    want = (0x10, info["a_nxt"], info["k_nxt"], 0)
    assert info["replies"], f"no ACK for an out-of-window ({where}) segment"
    assert want in info["replies"], f"answers (flags, seq, ack, len) {info['replies']}, want {want}"
    assert info["stream_ok"], f"injected bytes reached the stream: {info.get('first_diff')}"
    if where == "future":
        assert d["tcp_out_of_window"] >= 1, f"tcp_out_of_window +{d['tcp_out_of_window']}"


# ------------------------------------------------------------- SYN flood

def _syn_flood(n, seed, rate_batch=200, pause=0.03):
    """N spoofed SYNs to echo from random 198.18.0.3-254 while a kernel
    client keeps connecting and echoing. Returns (frames sent, legit ok
    during the flood, legit failures, flood seconds)."""
    rnd = random.Random(seed)
    l2 = e2e.L2(capture=False)
    mss = struct.pack("!BBH", 2, 4, 1460)
    frames = [e2e.tcp_frame(l2, f"198.18.0.{rnd.randrange(3, 255)}", APPLIANCE_IP,
                            rnd.randrange(1024, 65536), e2e.TCP_ECHO, rnd.randrange(1 << 32),
                            options=mss, ident=rnd.randrange(1 << 16))
              for _ in range(n)]
    done = threading.Event()
    ok, failures = [], []

    def legit():
        i = 0
        while not done.is_set():
            t0 = time.monotonic()
            try:
                e2e.echo_check(data=b"legit %d\n" % i, timeout=10)
                ok.append(time.monotonic() - t0)
            except Exception as e:  # noqa: BLE001 - reported below
                failures.append(f"legit {i}: {e!r}")
            i += 1
            time.sleep(0.05)

    t = threading.Thread(target=legit, daemon=True)
    t.start()
    time.sleep(0.1)
    t0 = time.monotonic()
    for i in range(0, n, rate_batch):
        for f in frames[i:i + rate_batch]:
            l2.send(f)
        time.sleep(pause)
    secs = time.monotonic() - t0
    done.set()
    t.join(30)
    ok_during = len(ok)
    # and after the flood
    e2e.echo_check(data=b"after the flood\n", timeout=10)
    return n, ok_during, failures, secs, max(ok) if ok else None


def test_syn_flood_legit_client_still_served(appliance):
    before = e2e.stats()
    n, ok, failures, secs, worst = e2e.in_netns(_syn_flood, 20000, 20000, timeout=180)
    d = e2e.stats_delta(before, e2e.stats())
    assert not failures, f"legitimate connections failed during the flood: {failures[:5]}"
    assert ok >= 3, f"only {ok} legitimate connections completed during a {secs:.1f} s flood"
    assert d["tcp_syncookies_sent"] > 0, \
        f"no SYN cookies after {n} spoofed SYNs (tcp_rx_segs +{d['tcp_rx_segs']})"
    assert appliance.alive()
    print(f"{n} SYNs in {secs:.1f} s: {ok} legit echoes (slowest {worst:.2f} s), "
          f"cookies sent {d['tcp_syncookies_sent']}, cookies ok {d['tcp_syncookies_ok']}, "
          f"tcp_rx_segs +{d['tcp_rx_segs']}")


# --------------------------------------------------------------- fuzzing

def _tcp_segment(sport, dport, seq, ack, flags, opts=b"", payload=b"", dataofs=None,
                 window=8192, urg=0, truncate=None):
    off = dataofs if dataofs is not None else (20 + len(opts) + 3) // 4
    opts = opts + b"\0" * ((-len(opts)) % 4) if dataofs is None else opts
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, (off & 0x0F) << 4, flags,
                      window, 0, urg)
    seg = (hdr + opts + payload)
    if truncate is not None:
        seg = seg[:truncate]
    pseudo = socket.inet_aton(KERNEL_IP) + socket.inet_aton(APPLIANCE_IP) + \
        struct.pack("!BBH", 0, 6, len(seg))
    if len(seg) >= 18:
        c = e2e.inet_csum(pseudo + seg[:16] + b"\0\0" + seg[18:])
        seg = seg[:16] + struct.pack("!H", c) + seg[18:]
    return seg


def _random_options(rnd):
    """A TCP option area, usually malformed somewhere."""
    pieces = []
    for _ in range(rnd.randrange(1, 8)):
        c = rnd.randrange(16)
        if c == 0:
            pieces.append(struct.pack("!BBH", 2, 4, rnd.choice([0, 1, 536, 1460, 65535])))
        elif c == 1:
            pieces.append(bytes([2, rnd.choice([0, 1, 2, 3, 5, 40, 255])]) + b"\x05\xb4")
        elif c == 2:
            pieces.append(bytes([3, 3, rnd.choice([0, 7, 14, 15, 255])]))
        elif c == 3:
            pieces.append(bytes([3, rnd.choice([0, 1, 2, 4])]) + b"\x07")
        elif c == 4:
            pieces.append(bytes([4, rnd.choice([2, 2, 0, 1, 3])]))
        elif c == 5:
            pieces.append(bytes([8, 10]) + struct.pack("!II", rnd.randrange(1 << 32),
                                                       rnd.randrange(1 << 32)))
        elif c == 6:
            pieces.append(bytes([8, rnd.choice([0, 1, 2, 9, 11, 255])]) + bytes(8))
        elif c == 7:  # SACK blocks: wrong counts, wild edges
            nblk = rnd.randrange(0, 5)
            ln = rnd.choice([2 + 8 * nblk, 2 + 8 * nblk, 3, 9, 17, 0, 1, 255])
            pieces.append(bytes([5, ln]) + b"".join(
                struct.pack("!II", rnd.randrange(1 << 32), rnd.randrange(1 << 32))
                for _ in range(nblk)))
        elif c == 8:
            pieces.append(b"\x01" * rnd.randrange(1, 4))
        elif c == 9:
            pieces.append(b"\x00")
        elif c == 10:  # unknown kinds with any length
            k = rnd.randrange(6, 256)
            pieces.append(bytes([k, rnd.randrange(256)]) + bytes(rnd.randrange(6)))
        elif c == 11:
            pieces.append(bytes([rnd.randrange(256)]))
        elif c == 12:  # TCP Fast Open cookie, MD5 (19), AO (29)
            k = rnd.choice([34, 19, 29])
            pieces.append(bytes([k, rnd.choice([2, 6, 10, 18, 40])]) + bytes(16))
        else:
            pieces.append(bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 10))))
    opts = b"".join(pieces)
    return opts[:rnd.choice([40, 40, 40, rnd.randrange(41)])]


def tcp_variants(seed, l2):
    rnd = random.Random(seed)
    eth = l2.eth(0x0800)
    out = []
    port = lambda: rnd.choice([e2e.TCP_ECHO, e2e.TCP_ECHO, e2e.TCP_DISCARD, e2e.CLOSED_TCP])
    sport = lambda: rnd.randrange(1024, 10000)
    # SYNs with malformed options (most are answered with a SYN-ACK, which
    # the kernel resets: every option parser path runs on the SYN path).
    for _ in range(250):
        out.append(eth + e2e.ip_packet(6, _tcp_segment(sport(), port(), rnd.randrange(1 << 32), 0, 0x02,
                                             _random_options(rnd))))
    # Data offsets that lie: below 5, beyond the segment.
    for off in range(16):
        for length in (20, 24, 40, 60):
            seg = _tcp_segment(sport(), port(), rnd.randrange(1 << 32), 0, 0x02,
                               bytes(length - 20), dataofs=off)
            out.append(eth + e2e.ip_packet(6, seg))
    # Truncated TCP headers (IP total length matches the short segment).
    for n in range(0, 20):
        out.append(eth + e2e.ip_packet(6, _tcp_segment(sport(), port(), 1, 0, 0x02, truncate=n)))
    # Every flag combination we can think of, with and without payload,
    # urgent pointers, zero windows.
    for _ in range(120):
        out.append(eth + e2e.ip_packet(6, _tcp_segment(
            sport(), port(), rnd.randrange(1 << 32), rnd.randrange(1 << 32), rnd.randrange(256),
            _random_options(rnd) if rnd.random() < 0.3 else b"",
            bytes(rnd.randrange(0, 100)), window=rnd.choice([0, 1, 65535]),
            urg=rnd.choice([0, 1, 65535]))))
    # Broadcast and other-host destinations must be ignored, not answered.
    for dst_ip in ("198.18.0.255", "255.255.255.255", "198.18.0.9"):
        seg = _tcp_segment(sport(), e2e.TCP_ECHO, 5, 0, 0x02)
        ip = bytearray(e2e.ip_packet(6, seg))
        ip[16:20] = socket.inet_aton(dst_ip)
        out.append(eth + e2e.fix_ip_csum(bytes(ip)))
    return out


def _fuzz_established(seed):
    """Malformed options, SACK blocks and flags on a live connection with the
    right sequence numbers, while the appliance has data in flight."""
    rnd = random.Random(seed)
    l2 = e2e.L2()
    s, flow = e2e.tracked_connection(l2)
    l2.close()
    l2 = e2e.L2(capture=False)
    # Data in flight towards us: the appliance has a retransmission queue and
    # a SACK scoreboard for the fake SACK blocks to poke at.
    s.sendall(random.Random(1).randbytes(200000))
    n = 0
    for _ in range(150):
        flags = rnd.choice([0x10, 0x10, 0x18, 0x11, 0x12, 0x30, 0x14, 0xFF, 0x00])
        seq = seq_add(flow.k_nxt, rnd.choice([0, 0, 0, 1, -1, 70000, -70000]))
        ack = seq_add(flow.a_nxt, rnd.choice([0, 0, 1, 1448, 100000, -1, 1 << 31]))
        opts = _random_options(rnd)
        if flow.k_ts is not None and rnd.random() < 0.5:
            opts = (b"\x01\x01\x08\x0a" + struct.pack("!II", flow.k_ts, flow.a_ts or 0) + opts)[:40]
        seg = _tcp_segment(flow.lport, flow.rport, seq, ack, flags, opts,
                           b"" if rnd.random() < 0.8 else b"junk")
        l2.send(l2.eth(0x0800) + e2e.ip_packet(6, seg))
        n += 1
    s.close()
    return n


def test_tcp_garbage_does_not_crash(appliance):
    before = e2e.stats()
    n, sent, refused = e2e.in_netns(e2e.blast, tcp_variants, 0x7C9, timeout=120)
    assert n >= 400, n
    n2 = e2e.in_netns(_fuzz_established, 0x7CA, timeout=60)
    assert appliance.alive(), "sluiced died under malformed TCP"
    e2e.sluicectl("status")
    assert e2e.in_netns(e2e.alive_checks, True, timeout=60)
    d = e2e.stats_delta(before, e2e.stats())
    print(f"{sent + n2} malformed TCP frames; tcp_rx_bad_header +{d['tcp_rx_bad_header']}, "
          f"tcp_rx_bad_options +{d['tcp_rx_bad_options']}")
    assert d["tcp_rx_bad_header"] + d["tcp_rx_bad_options"] > 0, \
        "no malformed TCP header or option was counted"


def _challenge_flood(count):
    """COUNT in-window RSTs as fast as we can send them; count the challenge
    ACKs that come back."""
    l2 = e2e.L2()
    s, flow = e2e.tracked_connection(l2)
    frames = [bytes(flow.segment(l2, flags="R", seq=seq_add(flow.k_nxt, 1 + i % 500), ack=0,
                                 options=[])) for i in range(count)]
    l2.drain()
    t0 = time.monotonic()
    for f in frames:
        l2.send(f)
    secs = time.monotonic() - t0
    want = (0x10, flow.a_nxt, flow.k_nxt)
    acks = sum(1 for t in _replies(l2, flow, 1.0) if (int(t.flags), t.seq, t.ack) == want)
    echo = e2e.echo_roundtrip(s, b"survived")
    s.close()
    return acks, secs, echo


def test_challenge_acks_rate_limited(appliance):
    # RFC 5961 7: challenge ACKs are rate-limited (tcp.challenge_ack_limit,
    # default 1000/s) so that they cannot be used as an amplifier.
    before = e2e.stats()
    acks, secs, echo = e2e.in_netns(_challenge_flood, 5000, timeout=90)
    d = e2e.stats_delta(before, e2e.stats())
    assert echo == b"survived", "connection died under in-window RSTs"
    assert acks >= 1, "no challenge ACK at all"
    # 5000 RSTs within about a second: at most two one-second budgets.
    assert secs < 1.5 and acks <= 2000, f"{acks} challenge ACKs for 5000 RSTs in {secs:.2f} s"
    assert d["tcp_challenge_acks_suppressed"] > 0, d["tcp_challenge_acks_suppressed"]


def _cookie_bulk(nsyn, total):
    """Fill the SYN backlog with spoofed half-open connections, then open a
    real one: it is built from a SYN cookie, and must carry bulk data as
    well as any other (window scale and MSS recovered from the cookie)."""
    from test_tcp_bulk import _bulk_echo

    rnd = random.Random(nsyn)
    l2 = e2e.L2(capture=False)
    mss = struct.pack("!BBH", 2, 4, 1460)
    for _ in range(nsyn):
        l2.send(e2e.tcp_frame(l2, f"198.18.0.{rnd.randrange(3, 255)}", APPLIANCE_IP,
                              rnd.randrange(1024, 65536), e2e.TCP_ECHO, rnd.randrange(1 << 32),
                              options=mss))
    time.sleep(0.05)
    before = e2e.stats()
    r = _bulk_echo(total, 12, 20)
    after = e2e.stats()
    return r, after["tcp_syncookies_ok"] - before["tcp_syncookies_ok"]


def test_syncookie_connection_carries_bulk(appliance):
    r, cookies_ok = e2e.in_netns(_cookie_bulk, 400, 16 << 20, timeout=120)
    assert cookies_ok >= 1, "the connection was not made from a SYN cookie (backlog not full?)"
    assert r["bytes"] == 16 << 20 and r["back"] == r["sent"] and r["eof"], \
        f"16 MB over a SYN-cookie connection: {r['bytes']} bytes back, eof {r['eof']}"
