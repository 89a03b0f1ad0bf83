"""64 MB both ways with SHA-256 checks: on a clean TAP, with 3 % random loss
from nftables, with the stack's own reorder/duplicate hook, and with the hook
dropping 3 % of what the appliance receives.

About nftables loss: a drop in the OUTPUT hook happens before the kernel's
TCP considers the segment sent, so Linux sends it again as if nothing was
lost (TcpRetransSegs stays ~0). Towards the appliance, nft "loss" is therefore
only delay; the loss is real in the other direction (INPUT), where the
appliance's retransmission and SACK recovery do the work. Real loss towards
the appliance comes from fault-drop.conf."""

import hashlib
import random
import socket
import threading
import time

import pytest

import sluice_e2e as e2e

MB = 1 << 20
TOTAL = 64 * MB
CHUNK = 256 * 1024


def _data(seed, total):
    return random.Random(seed).randbytes(total)


def _bulk_echo(total, seed, stall):
    """Send TOTAL bytes to echo while reading them back concurrently;
    SHA-256 of what was sent and of what came back."""
    data = _data(seed, total)
    sent_hash = hashlib.sha256(data).hexdigest()
    s = e2e.connect(e2e.TCP_ECHO, timeout=10)
    s.settimeout(stall)  # no progress for this long fails the test
    err = []

    def sender():
        try:
            view = memoryview(data)
            for off in range(0, total, CHUNK):
                s.sendall(view[off:off + CHUNK])
            s.shutdown(socket.SHUT_WR)
        except BaseException as e:  # noqa: B902
            err.append(e)

    t0 = time.monotonic()
    t = threading.Thread(target=sender, daemon=True)
    t.start()
    h = hashlib.sha256()
    got = 0
    buf = bytearray(MB)
    try:
        while got < total:
            n = s.recv_into(buf)
            if n == 0:
                break
            h.update(memoryview(buf)[:n])
            got += n
        eof = s.recv(1) == b"" if got == total else False
    except socket.timeout:
        raise AssertionError(f"echo stalled for {stall} s after {got} of {total} bytes back"
                             f" (sender {'done' if not t.is_alive() else 'still sending'})")
    finally:
        t.join(stall)
        s.close()
    if err:
        raise AssertionError(f"sender failed: {err[0]!r} ({got} bytes echoed)")
    secs = time.monotonic() - t0
    return {"sent": sent_hash, "back": h.hexdigest(), "bytes": got, "eof": eof, "secs": secs}


def _bulk_discard(total, seed, stall):
    """Send TOTAL bytes to discard, then FIN; the appliance must read it all
    and close (an in-order stream, so the close proves it got every byte)."""
    data = _data(seed, total)
    s = e2e.connect(e2e.TCP_DISCARD, timeout=10)
    s.settimeout(stall)
    t0 = time.monotonic()
    view = memoryview(data)
    sent = 0
    try:
        for off in range(0, total, CHUNK):
            s.sendall(view[off:off + CHUNK])
            sent = off + CHUNK
        s.shutdown(socket.SHUT_WR)
        tail = s.recv(1)
    except socket.timeout:
        raise AssertionError(f"discard stalled for {stall} s after sending {sent} bytes")
    finally:
        s.close()
    assert tail == b"", f"discard sent data back: {tail!r}"
    return time.monotonic() - t0


def _check_echo(r, total):
    assert r["bytes"] == total, f"echo returned {r['bytes']} of {total} bytes"
    assert r["back"] == r["sent"], "SHA-256 of the echoed stream differs from what was sent"
    assert r["eof"], "echo did not close after the last byte and our FIN"


def test_64mb_echo(appliance):
    r = e2e.in_netns(_bulk_echo, TOTAL, 1, 30, timeout=240)
    _check_echo(r, TOTAL)
    print(f"64 MB echo: {r['secs']:.1f} s ({2 * TOTAL / MB / r['secs']:.0f} MB/s both ways)")


def test_64mb_discard(appliance):
    secs = e2e.in_netns(_bulk_discard, TOTAL, 2, 30, timeout=240)
    print(f"64 MB discard: {secs:.1f} s ({TOTAL / MB / secs:.0f} MB/s)")


@pytest.mark.slow
def test_64mb_echo_with_3pct_loss(appliance, nft_loss):
    before = e2e.stats()
    r = e2e.in_netns(_bulk_echo, TOTAL, 3, 60, timeout=420)
    drops = nft_loss()
    _check_echo(r, TOTAL)
    d = e2e.stats_delta(before, e2e.stats())
    assert drops.get("rx", 0) > 0 and drops.get("tx", 0) > 0, f"nft dropped nothing: {drops}"
    assert d["tcp_retransmits"] > 0, f"no retransmits under 3 % loss: {d['tcp_retransmits']}"
    # Random loss is mostly repaired by fast retransmit / SACK recovery, not
    # by waiting for the retransmission timer.
    assert d["tcp_fast_retransmits"] > 0, d
    print(f"64 MB echo, 3 % loss: {r['secs']:.1f} s, nft drops {drops}, appliance retransmits "
          f"{d['tcp_retransmits']} (fast {d['tcp_fast_retransmits']}, "
          f"RTO {d['tcp_rto_expired']}, SACK recoveries {d['tcp_sack_recoveries']})")


@pytest.mark.slow
def test_64mb_discard_with_3pct_loss(appliance, nft_loss):
    secs = e2e.in_netns(_bulk_discard, TOTAL, 4, 60, timeout=420)
    drops = nft_loss()
    assert drops.get("tx", 0) > 0, f"nft dropped nothing: {drops}"
    print(f"64 MB discard, 3 % loss: {secs:.1f} s, nft drops {drops}")


@pytest.mark.slow
def test_64mb_echo_with_fault_injection(fault_appliance):
    before = e2e.stats()
    r = e2e.in_netns(_bulk_echo, TOTAL, 5, 60, timeout=420)
    _check_echo(r, TOTAL)
    d = e2e.stats_delta(before, e2e.stats())
    # Frames reordered and duplicated on RX reach TCP out of order and twice.
    assert d["tcp_ooo_segs"] > 0, f"no out-of-order segments: is the hook on? {d}"
    assert d["tcp_dup_segs"] > 0, f"no duplicate segments: is the hook on? {d}"
    print(f"64 MB echo, reorder+duplicate: {r['secs']:.1f} s, ooo {d['tcp_ooo_segs']}, "
          f"dup {d['tcp_dup_segs']}")


@pytest.mark.slow
def test_64mb_discard_with_fault_injection(fault_appliance):
    secs = e2e.in_netns(_bulk_discard, TOTAL, 6, 60, timeout=420)
    print(f"64 MB discard, reorder+duplicate: {secs:.1f} s")


def _parallel_echo(n, size):
    """N connections, each moving SIZE bytes both ways at the same time."""
    results = [None] * n

    def one(i):
        try:
            r = _bulk_echo(size, 100 + i, 30)
            results[i] = (r["sent"] == r["back"] and r["bytes"] == size and r["eof"],
                          r["bytes"])
        except BaseException as e:  # noqa: B902
            results[i] = (False, repr(e))

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(n)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results, time.monotonic() - t0


def test_16_parallel_4mb_echoes(appliance):
    # Sixteen bulk connections at once share the mbuf pool and TCP memory.
    results, secs = e2e.in_netns(_parallel_echo, 16, 4 * MB, timeout=180)
    bad = [(i, r) for i, r in enumerate(results) if not r or not r[0]]
    assert not bad, f"connections with wrong or missing data: {bad[:5]}"
    print(f"16 x 4 MB echo in parallel: {secs:.1f} s")


@pytest.mark.slow
def test_64mb_echo_with_rx_drop(drop_appliance):
    before = e2e.stats()
    r = e2e.in_netns(_bulk_echo, TOTAL, 7, 60, timeout=420)
    _check_echo(r, TOTAL)
    d = e2e.stats_delta(before, e2e.stats())
    # A frame dropped on RX leaves a hole: what follows arrives out of order.
    assert d["tcp_ooo_segs"] > 0, f"no out-of-order segments: is the hook on? {d}"
    print(f"64 MB echo, 3 % RX drop: {r['secs']:.1f} s, ooo {d['tcp_ooo_segs']}, "
          f"retransmits {d['tcp_retransmits']}, rto {d['tcp_rto_expired']}")


@pytest.mark.slow
def test_64mb_discard_with_rx_drop(drop_appliance):
    before = e2e.stats()
    secs = e2e.in_netns(_bulk_discard, TOTAL, 8, 60, timeout=420)
    d = e2e.stats_delta(before, e2e.stats())
    assert d["tcp_ooo_segs"] > 0, f"no out-of-order segments: is the hook on? {d}"
    print(f"64 MB discard, 3 % RX drop: {secs:.1f} s, ooo {d['tcp_ooo_segs']}")
