"""TCP with real kernel clients: refused connections, many short
connections one after another, and hundreds open at once."""

import os
import random
import selectors
import socket
import struct
import time

import sluice_e2e as e2e
from sluice_e2e import APPLIANCE_IP, KERNEL_IP


def _connect_closed(port):
    l2 = e2e.L2()
    l2.drain()
    s = socket.socket()
    s.settimeout(5)
    try:
        s.connect((APPLIANCE_IP, port))
        outcome = "connected"
    except ConnectionRefusedError:
        outcome = "refused"
    except socket.timeout:
        outcome = "timeout"
    sport = s.getsockname()[1]
    s.close()
    syn_seq, rst = None, None
    for f in l2.frames(0.2):
        if f[12:14] != b"\x08\x00" or f[23] != 6:
            continue
        ihl = (f[14] & 0x0F) * 4
        t = f[14 + ihl:]
        src = socket.inet_ntoa(f[26:30])
        ports = struct.unpack("!HH", t[:4])
        seq, ack = struct.unpack("!II", t[4:12])
        flags = t[13]
        if src == KERNEL_IP and ports == (sport, port) and flags & 0x02 and syn_seq is None:
            syn_seq = seq
        if src == APPLIANCE_IP and ports == (port, sport) and flags & 0x04:
            rst = (seq, ack, flags)
    return outcome, syn_seq, rst


def test_closed_port_gets_rst(appliance):
    before = e2e.stats()
    outcome, syn_seq, rst = e2e.in_netns(_connect_closed, e2e.CLOSED_TCP, timeout=30)
    assert outcome == "refused", f"connect to closed port {e2e.CLOSED_TCP}: {outcome}"
    assert rst is not None, "no RST seen on the wire"
    seq, ack, flags = rst
    # RFC 9293 3.10.7.1: the SYN had no ACK, so <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
    assert flags & 0x14 == 0x14, f"RST flags {flags:#x}, want RST|ACK"
    assert ack == (syn_seq + 1) & 0xFFFFFFFF, f"RST acks {ack}, SYN seq was {syn_seq}"
    assert seq == 0, f"RST seq {seq}, want 0"
    d = e2e.stats_delta(before, e2e.stats())
    assert d["tcp_rst_tx"] >= 1, d


def _sequential(n, seed):
    rnd = random.Random(seed)
    t0 = time.monotonic()
    for i in range(n):
        data = b"%04d " % i + rnd.randbytes(rnd.randrange(1, 200))
        try:
            with e2e.connect(timeout=5) as s:
                s.sendall(data)
                back = e2e.recv_exact(s, len(data))
                assert back == data, f"echo mismatch: {data[:20]!r} -> {back[:20]!r}"
                s.shutdown(socket.SHUT_WR)
                assert s.recv(1) == b"", "echo did not close after our FIN"
        except (OSError, AssertionError) as e:
            raise AssertionError(f"connection {i} of {n}: {e!r}") from e
    return time.monotonic() - t0


def test_1000_sequential_connections(appliance):
    before = e2e.stats()
    secs = e2e.in_netns(_sequential, 1000, 1000, timeout=180)
    d = e2e.stats_delta(before, e2e.stats())
    assert d["tcp_passive_opens"] >= 1000, d
    # Every connection is closed from both sides: the table empties again.
    left = e2e.wait_for(lambda: e2e.stats()["tcp_conns_current"] <= before["tcp_conns_current"],
                        10)
    assert left, (f"tcp_conns_current {e2e.stats()['tcp_conns_current']} "
                  f"(was {before['tcp_conns_current']}) 10 s after 1000 closed connections")
    print(f"1000 sequential connections in {secs:.1f} s")


def _concurrent(n, seed):
    rnd = random.Random(seed)
    socks = []
    # All n SYNs go out at once: non-blocking connects.
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        err = s.connect_ex((APPLIANCE_IP, e2e.TCP_ECHO))
        assert err in (0, 115), f"connect_ex: {os.strerror(err)}"  # EINPROGRESS
        socks.append(s)
    sel = selectors.DefaultSelector()
    for i, s in enumerate(socks):
        sel.register(s, selectors.EVENT_WRITE, i)
    pending = set(range(n))
    deadline = time.monotonic() + 30
    while pending:
        left = deadline - time.monotonic()
        assert left > 0, f"{len(pending)} of {n} connections not established after 30 s"
        for key, _ in sel.select(left):
            i = key.data
            err = socks[i].getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            assert err == 0, f"connection {i}: {os.strerror(err)}"
            pending.discard(i)
            sel.unregister(socks[i])
    # All open at once, and the appliance knows every one of them.
    ports = {s.getsockname()[1] for s in socks}
    rows = e2e.appliance_connections()
    established = {int(r["remote"].rsplit(":", 1)[1]) for r in rows
                   if r["remote"].startswith(KERNEL_IP + ":") and r["state"].startswith("ESTAB")}
    seen = len(ports & established)
    # Each connection carries its own payload; everything is sent before
    # anything is read back.
    payloads = [b"conn %03d " % i + rnd.randbytes(rnd.randrange(100, 3000)) for i in range(n)]
    for s, data in zip(socks, payloads):
        s.setblocking(True)
        s.settimeout(10)
        s.sendall(data)
        s.setblocking(False)
    bufs = [bytearray() for _ in range(n)]
    for i, s in enumerate(socks):
        sel.register(s, selectors.EVENT_READ, i)
    todo = set(range(n))
    deadline = time.monotonic() + 30
    while todo:
        left = deadline - time.monotonic()
        assert left > 0, f"{len(todo)} of {n} echoes incomplete after 30 s, e.g. {sorted(todo)[:5]}"
        for key, _ in sel.select(left):
            i = key.data
            chunk = socks[i].recv(65536)
            assert chunk, f"connection {i}: EOF after {len(bufs[i])} of {len(payloads[i])} bytes"
            bufs[i] += chunk
            assert len(bufs[i]) <= len(payloads[i]), f"connection {i}: more data than sent"
            if len(bufs[i]) == len(payloads[i]):
                todo.discard(i)
                sel.unregister(socks[i])
    bad = [i for i in range(n) if bytes(bufs[i]) != payloads[i]]
    assert not bad, f"echo content differs on connections {bad[:10]}"
    for s in socks:
        s.setblocking(True)
        s.settimeout(10)
        s.shutdown(socket.SHUT_WR)
    for i, s in enumerate(socks):
        assert s.recv(1) == b"", f"connection {i}: no clean close"
        s.close()
    return seen


def test_300_concurrent_connections(appliance):
    before = e2e.stats()
    seen = e2e.in_netns(_concurrent, 300, 300, timeout=120)
    assert seen == 300, f"sluicectl show connections listed {seen} of 300 open connections"
    d = e2e.stats_delta(before, e2e.stats())
    assert d["tcp_passive_opens"] >= 300, d


def _connections_listed():
    with e2e.connect() as s:
        assert e2e.echo_roundtrip(s, b"x") == b"x"
        port = s.getsockname()[1]
        rows = e2e.appliance_connections()
        return [r for r in rows if r["remote"] == f"{KERNEL_IP}:{port}"]


def test_show_connections_lists_live_connection(appliance):
    rows = e2e.in_netns(_connections_listed, timeout=30)
    assert len(rows) == 1, rows
    assert rows[0]["local"] == f"{APPLIANCE_IP}:{e2e.TCP_ECHO}", rows
    assert rows[0]["state"].startswith("ESTAB"), rows


def _abort_mid_transfer():
    s = e2e.connect()
    s.sendall(random.Random(3).randbytes(256 * 1024))  # echo queues it towards us
    time.sleep(0.2)
    port = s.getsockname()[1]
    # close with unread data and SO_LINGER 0: the kernel sends a RST
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    return port


def test_client_reset_frees_connection(appliance):
    before = e2e.stats()
    port = e2e.in_netns(_abort_mid_transfer, timeout=30)
    gone = e2e.wait_for(lambda: not [r for r in e2e.appliance_connections()
                                     if r["remote"] == f"{KERNEL_IP}:{port}"], 5)
    assert gone, f"connection from port {port} still listed 5 s after the client's RST"
    d = e2e.stats_delta(before, e2e.stats())
    assert d["tcp_rst_rx"] >= 1, d
    assert e2e.in_netns(e2e.echo_check, timeout=30)


def _slow_reader(total, pause):
    """Echo with a reader that stops for PAUSE seconds: our 32 KB receive
    window closes, the appliance must hold its data, probe the zero window
    and resume when we read again."""
    data = random.Random(7).randbytes(total)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
    s.settimeout(30)
    s.connect((APPLIANCE_IP, e2e.TCP_ECHO))
    err = []

    def sender():
        try:
            s.sendall(data)
        except BaseException as e:  # noqa: B902
            err.append(e)

    import threading

    t = threading.Thread(target=sender, daemon=True)
    t.start()
    time.sleep(pause)
    back = e2e.recv_exact(s, total)
    t.join(30)
    s.close()
    if err:
        raise err[0]
    return back == data


def test_echo_slow_reader_zero_window(appliance):
    before = e2e.stats()
    assert e2e.in_netns(_slow_reader, 8 << 20, 4, timeout=120), "echoed data differs"
    d = e2e.stats_delta(before, e2e.stats())
    assert d["tcp_zero_window_probes"] > 0, \
        f"no zero-window probes while our window was closed for 4 s: {d['tcp_zero_window_probes']}"


def _handshake_and_segments(mss_clamp, size):
    """Connect (announcing MSS_CLAMP if set), echo SIZE bytes; return the
    SYN-ACK's options, the largest payload the appliance sent, the MSS we
    announced, and whether the echo was exact."""
    sc = e2e.scapy()
    l2 = e2e.L2()
    l2.drain()
    s = socket.socket()
    if mss_clamp:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, mss_clamp)
    s.settimeout(10)
    s.connect((APPLIANCE_IP, e2e.TCP_ECHO))
    port = s.getsockname()[1]
    data = random.Random(size).randbytes(size)
    ok = e2e.echo_roundtrip(s, data) == data
    s.close()
    synack, syn_mss, biggest = None, None, 0
    for f in l2.frames(0.3):
        p = sc.Ether(f)
        if sc.TCP not in p:
            continue
        t = p[sc.TCP]
        opts = {k: v for k, v in t.options if isinstance(k, str)}
        if p[sc.IP].src == KERNEL_IP and t.sport == port and t.flags.S:
            syn_mss = opts.get("MSS")
        elif p[sc.IP].src == APPLIANCE_IP and t.dport == port:
            if t.flags.S:
                synack = opts
            biggest = max(biggest, len(bytes(t.payload)))
    return synack, biggest, syn_mss, ok


def test_synack_announces_options(appliance):
    synack, biggest, _, ok = e2e.in_netns(_handshake_and_segments, None, 100000, timeout=30)
    assert ok, "echo differs"
    assert synack is not None, "no SYN-ACK captured"
    # MTU 1500 - 20 (IP) - 20 (TCP); RFC 7323 window scale and timestamps,
    # RFC 2018 SACK-permitted (the kernel offered all of them).
    assert synack.get("MSS") == 1460, synack
    for opt in ("WScale", "SAckOK", "Timestamp"):
        assert opt in synack, f"SYN-ACK without {opt}: {synack}"
    assert 0 < biggest <= 1460, f"largest segment {biggest} bytes"


def test_respects_peer_mss(appliance):
    synack, biggest, syn_mss, ok = e2e.in_netns(_handshake_and_segments, 536, 300000,
                                                timeout=30)
    assert syn_mss == 536, f"kernel announced MSS {syn_mss}"
    assert ok, "echo differs"
    assert 0 < biggest <= 536, f"appliance sent {biggest}-byte segments to a 536-byte MSS peer"


def _ooo_burst(n):
    """N segments, each beyond a hole, sent back to back into a live
    connection to discard; the appliance's answers within 0.5 s."""
    l2 = e2e.L2()
    s, flow = e2e.tracked_connection(l2, port=e2e.TCP_DISCARD)
    frames = [bytes(flow.segment(l2, flags="PA", seq=e2e.seq_add(flow.k_nxt, 1000 * (2 * i + 1)),
                                 payload=b"x" * 1000)) for i in range(n)]
    l2.drain()
    for f in frames:
        l2.send(f)
    answers = [t for t in (flow.from_appliance(f) for f in l2.frames(0.5)) if t is not None]
    s.close()
    return [(int(t.flags), t.ack == flow.k_nxt, any(k == "SAck" for k, _ in t.options))
            for t in answers]


def test_out_of_order_segments_get_immediate_dup_acks(appliance):
    # RFC 5681 4.2 / RFC 1122 4.2.2.21: an out-of-order segment SHOULD get an
    # immediate (duplicate) ACK, even when ACKs are otherwise coalesced. A
    # sender without SACK needs 3 of them to fast-retransmit; with fewer it
    # waits for its retransmission timer.
    answers = e2e.in_netns(_ooo_burst, 8, timeout=30)
    dupacks = [a for a in answers if a[0] == 0x10 and a[1]]
    assert len(dupacks) >= 3, (f"{len(dupacks)} duplicate ACKs for 8 out-of-order segments "
                               f"sent back to back (want one each, at least 3): {answers}")
    assert all(a[2] for a in dupacks), f"duplicate ACKs without SACK blocks: {answers}"
