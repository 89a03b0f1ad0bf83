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
