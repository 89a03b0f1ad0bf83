"""Hostile frames below TCP, crafted with scapy and sent raw on sluice0:
bad checksums are dropped and counted; garbage Ethernet, ARP, IPv4, ICMP and
UDP never take the appliance down."""

import random
import socket
import struct
import time

import pytest

import sluice_e2e as e2e
from sluice_e2e import APPLIANCE_IP, KERNEL_IP

COUNTER = {"ip": "ip_rx_bad_csum", "icmp": "icmp_rx_bad_csum", "udp": "udp_rx_bad_csum",
           "tcp": "tcp_rx_bad_csum"}


@pytest.mark.parametrize("kind,corrupt", [("icmp", "ip"), ("icmp", "l4"), ("udp", "ip"),
                                          ("udp", "l4")])
def test_bad_checksum_dropped(appliance, kind, corrupt):
    # The same request with good checksums is answered: the probe itself works.
    assert e2e.in_netns(e2e.checksum_probe, kind, None, timeout=30), \
        f"no answer to a valid {kind} probe"
    before = e2e.stats()
    answered = e2e.in_netns(e2e.checksum_probe, kind, corrupt, 2, timeout=30)
    d = e2e.stats_delta(before, e2e.stats())
    assert not answered, f"appliance answered a {kind} packet with a bad {corrupt} checksum"
    counter = COUNTER["ip" if corrupt == "ip" else kind]
    assert d[counter] >= 1, f"{counter} did not count it: {d[counter]}"


def test_udp_without_checksum_accepted(appliance):
    # RFC 768: checksum 0 means the sender computed none.
    assert e2e.in_netns(e2e.checksum_probe, "udp", "nocsum", 3, timeout=30), \
        "UDP datagram with checksum 0 was not echoed"


# ---------------------------------------------------------------- fuzzing

def _udp(sport, dport, payload, length=None):
    ln = 8 + len(payload) if length is None else length
    pseudo = socket.inet_aton(KERNEL_IP) + socket.inet_aton(APPLIANCE_IP) + \
        struct.pack("!BBH", 0, 17, ln & 0xFFFF)
    hdr = struct.pack("!HHHH", sport, dport, ln & 0xFFFF, 0)
    c = e2e.inet_csum(pseudo + hdr + payload) or 0xFFFF
    return hdr[:6] + struct.pack("!H", c) + payload


def _icmp(typ, code, body):
    c = e2e.inet_csum(struct.pack("!BBH", typ, code, 0) + body)
    return struct.pack("!BBH", typ, code, c) + body


def ip_layer_variants(seed, l2):
    """Several hundred malformed frames below TCP, the same for a given SEED."""
    rnd = random.Random(seed)
    eth = l2.eth(0x0800)
    echo = _icmp(8, 0, struct.pack("!HH", 0x4242, 1) + b"fuzz" * 8)
    udp7 = _udp(5353, e2e.UDP_ECHO, b"fuzz" * 8)
    udpx = _udp(5353, e2e.CLOSED_UDP, b"fuzz" * 8)
    syn = e2e.tcp_frame(l2, KERNEL_IP, APPLIANCE_IP, 3333, e2e.TCP_ECHO, 1)[34:]
    bases = [(1, echo), (17, udp7), (17, udpx), (6, syn)]
    out = []
    # Truncated anywhere: the IP header still claims the full length.
    for proto, l4 in bases:
        full = e2e.ip_packet(proto, l4)
        for cut in sorted(set([0, 1, 9, 19, 20, 21, 27, 28, 33, 39] +
                              [rnd.randrange(len(full)) for _ in range(6)])):
            out.append(eth + full[:cut])
    # Every IHL, and lying total lengths.
    for proto, l4 in bases:
        for ihl in range(16):
            out.append(eth + e2e.ip_packet(proto, l4, ihl=ihl))
        for tlen in (0, 1, 19, 20, 21, 27, 28 + len(l4) - 9, 20 + len(l4) - 1, 20 + len(l4) + 1,
                     1500, 65535):
            out.append(eth + e2e.ip_packet(proto, l4, tlen=tlen))
    # Other IP versions in an IPv4 ethertype.
    for ver in (0, 1, 2, 3, 5, 6, 7, 15):
        out.append(eth + e2e.ip_packet(1, echo, ver=ver))
    # Garbage and malformed IP options (IHL 6..15).
    for _ in range(40):
        n = rnd.choice([4, 8, 12, 20, 40])
        opts = bytes(rnd.randrange(256) for _ in range(n))
        if rnd.random() < 0.5:  # a known option with a bad length or pointer
            kind = rnd.choice([7, 68, 131, 137, 148, 130])
            opts = bytes([kind, rnd.choice([0, 1, 2, 3, 255, n + 1]), rnd.randrange(256)]) + opts[3:]
        out.append(eth + e2e.ip_packet(rnd.choice([1, 17]), rnd.choice([echo, udp7]), options=opts))
    # Fragments: overlapping, beyond 64 KB, empty, never completed, repeated.
    body = _udp(5353, e2e.UDP_ECHO, bytes(rnd.randrange(256) for _ in range(3000)))
    MF = 0x2000
    for ident in range(0x7000, 0x7000 + 20):
        for _ in range(rnd.randrange(1, 5)):
            off = rnd.choice([0, 1, 8, 100, 185, 370, 8189, 8190, 8191]) 
            ln = rnd.choice([0, 1, 7, 8, 16, 1480, 1488])
            chunk = body[off * 8:off * 8 + ln] or bytes(ln)
            flags = rnd.choice([0, MF, MF, 0x4000 | MF])
            out.append(eth + e2e.ip_packet(17, chunk, ident=ident, frag=flags | off))
    for ident in range(0x7100, 0x7100 + 60):  # first fragments only: held until timeout
        out.append(eth + e2e.ip_packet(17, body[:1480], ident=ident, frag=MF))
    for _ in range(20):  # the same fragment over and over
        out.append(eth + e2e.ip_packet(17, body[:1480], ident=0x7200, frag=MF))
    out.append(eth + e2e.ip_packet(17, body[1480:], ident=0x7200, frag=1480 // 8))  # completes it
    # Tiny first fragment that splits the UDP header, then the rest.
    out.append(eth + e2e.ip_packet(17, body[:4], ident=0x7300, frag=MF))
    out.append(eth + e2e.ip_packet(17, body[8:], ident=0x7300, frag=1))
    # Fragment whose end passes 65535.
    out.append(eth + e2e.ip_packet(17, bytes(1480), ident=0x7400, frag=8190))
    # UDP length field lies.
    for ln in (0, 1, 7, 8, 9, 39, 41, 1000, 65535):
        out.append(eth + e2e.ip_packet(17, _udp(5353, e2e.UDP_ECHO, b"fuzz" * 8, length=ln)))
    # ICMP of every common type with short or garbage bodies, and errors
    # quoting garbage "original" headers (the path that looks up sockets).
    for typ in (0, 3, 4, 5, 8, 11, 12, 13, 14, 17, 255):
        for body_len in (0, 3, 4, 8, 27, 28, 60):
            out.append(eth + e2e.ip_packet(1, _icmp(typ, rnd.randrange(16),
                                          bytes(rnd.randrange(256) for _ in range(body_len)))))
    for _ in range(30):
        inner = e2e.ip_packet(rnd.choice([6, 17, 1]), bytes(rnd.randrange(256) for _ in range(8)),
                    src=APPLIANCE_IP, ihl=rnd.choice([5, 5, 5, 0, 3, 15]))
        inner = inner[:rnd.choice([len(inner), 8, 20, 24, 27])]
        out.append(eth + e2e.ip_packet(1, _icmp(3, rnd.choice([0, 1, 3, 4]), b"\0\0\x05\xdc" + inner)))
    # ARP: truncated, odd hardware/protocol sizes, unknown opcodes.
    arp_eth = l2.eth(0x0806)
    good_arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, l2.kernel_mac_b,
                           socket.inet_aton(KERNEL_IP), b"\0" * 6, socket.inet_aton(APPLIANCE_IP))
    for cut in range(0, len(good_arp), 3):
        out.append(arp_eth + good_arp[:cut])
    for _ in range(30):
        a = bytearray(good_arp)
        for _ in range(rnd.randrange(1, 4)):
            pos = rnd.choice([0, 1, 2, 3, 4, 5, 6, 7, 14, 17, 24, 27])
            a[pos] = rnd.randrange(256)
        out.append(arp_eth + bytes(a))
    # Random bytes under IPv4, ARP, a random ethertype, and to broadcast.
    for _ in range(100):
        et = rnd.choice([0x0800, 0x0800, 0x0806, rnd.randrange(0x10000)])
        dst = b"\xff" * 6 if rnd.random() < 0.2 else None
        out.append(l2.eth(et, dst=dst) + bytes(rnd.randrange(256)
                                               for _ in range(rnd.randrange(0, 1500))))
    # Runts: shorter than an Ethernet header (the kernel may refuse some).
    for n in (0, 1, 6, 12, 13):
        out.append(eth[:n])
    return out


def test_ip_layer_garbage_does_not_crash(appliance):
    n, sent, refused = e2e.in_netns(e2e.blast, ip_layer_variants, 0x51C3, timeout=120)
    assert n >= 300 and sent >= 300, (n, sent, refused)
    assert appliance.alive(), f"sluiced died after {sent} malformed frames"
    e2e.sluicectl("status")
    assert e2e.in_netns(e2e.alive_checks, False, timeout=60)
    print(f"{sent} malformed frames sent ({refused} refused by the kernel)")


def test_ip_layer_garbage_then_tcp_still_works(appliance):
    e2e.in_netns(e2e.blast, ip_layer_variants, 0x51C4, timeout=120)
    assert appliance.alive()
    assert e2e.in_netns(e2e.alive_checks, True, timeout=60)


def _reasm_pressure(count):
    """COUNT first fragments of different datagrams, never completed."""
    l2 = e2e.L2(capture=False)
    body = bytes(1480)
    for i in range(count):
        l2.send(l2.eth(0x0800) + e2e.ip_packet(17, body, ident=i & 0xFFFF, frag=0x2000,
                                               src=KERNEL_IP, tos=i >> 16))
    return count


def test_reassembly_memory_is_bounded(appliance):
    # 6000 incomplete 1480-byte datagrams (~9 MB) against a 4 MB default
    # limit: the stack refuses what does not fit and keeps working.
    before = e2e.stats()
    e2e.in_netns(_reasm_pressure, 6000, timeout=60)
    d = e2e.stats_delta(before, e2e.stats())
    assert appliance.alive()
    assert d["ip_reasm_drop_mem"] > 0, f"ip_reasm_drop_mem +{d['ip_reasm_drop_mem']}"
    assert e2e.in_netns(e2e.alive_checks, True, timeout=60)
    # A new fragmented datagram still gets through while the junk is held.
    p = e2e.nsexec("ping", "-n", "-c", "2", "-i", "0.2", "-W", "2", "-M", "dont", "-s", "4000",
                   APPLIANCE_IP, check=False, timeout=30)
    assert p.returncode == 0, "fragmented ping fails while reassembly memory is full:\n" + p.stdout


def _martian(src):
    """A UDP echo request, a ping and a SYN to echo from source SRC (and, for
    our own address, a LAND SYN 7 -> 7); whatever the appliance sends back
    within 0.7 s."""
    sc = e2e.scapy()
    l2 = e2e.L2()
    probes = [sc.UDP(sport=7777, dport=e2e.UDP_ECHO) / b"martian",
              sc.ICMP(id=77, seq=1) / b"martian",
              sc.TCP(sport=7777, dport=e2e.TCP_ECHO, flags="S", seq=1000)]
    if src == APPLIANCE_IP:
        probes.append(sc.TCP(sport=e2e.TCP_ECHO, dport=e2e.TCP_ECHO, flags="S", seq=1000))
    l2.drain()
    for l4 in probes:
        l2.send(bytes(sc.Ether(src=l2.kernel_mac, dst=l2.appliance_mac)
                      / sc.IP(src=src, dst=APPLIANCE_IP) / l4))
    answers = []
    for f in l2.frames(0.7, incoming=True):
        p = sc.Ether(f)
        # IP to anyone, or ARP for the martian (the appliance trying to
        # answer it); its own ARP upkeep for 198.18.0.1 does not count.
        if sc.IP in p or (sc.ARP in p and p[sc.ARP].pdst == src):
            answers.append(p.summary())
    return answers


@pytest.mark.parametrize("src", [APPLIANCE_IP, "198.18.0.255", "255.255.255.255", "0.0.0.0",
                                 "127.0.0.1", "224.0.0.5"])
def test_martian_source_not_answered(appliance, src):
    # RFC 1122 3.2.1.3 / RFC 1812 5.3.7: our own address, broadcast,
    # "this host", loopback and multicast are never valid sources. Answering
    # would reflect UDP echo onto the whole subnet (fraggle), or loop (LAND).
    answers = e2e.in_netns(_martian, src, timeout=30)
    assert answers == [], f"appliance answered packets from {src}: {answers}"
    assert appliance.alive()


def _closed_port_flood(n):
    l2 = e2e.L2(capture=False)
    frames = [l2.eth(0x0800) + e2e.ip_packet(17, _udp(1024 + i % 30000, e2e.CLOSED_UDP, b"x"))
              for i in range(n)]
    t0 = time.monotonic()
    for i in range(0, n, 250):  # ~12k frames/s: what the TAP queue absorbs
        for f in frames[i:i + 250]:
            l2.send(f)
        time.sleep(0.02)
    return time.monotonic() - t0


def test_icmp_errors_rate_limited(appliance):
    # RFC 1812 4.3.2.8 / RFC 1122 3.2.2: ICMP errors are rate-limited, so a
    # flood to closed ports is not reflected one for one.
    before = e2e.stats()
    secs = e2e.in_netns(_closed_port_flood, 5000, timeout=60)
    time.sleep(0.3)
    d = e2e.stats_delta(before, e2e.stats())
    seen = d["udp_rx_no_port"]
    assert seen >= 1000, f"only {seen} of 5000 datagrams reached the appliance"
    assert d["icmp_unreach_tx"] >= 1, "no port unreachable at all"
    assert d["icmp_unreach_tx"] < seen // 4 and d["icmp_unreach_ratelimited"] > 0, \
        (f"{d['icmp_unreach_tx']} ICMP errors for {seen} datagrams in {secs:.2f} s "
         f"({d['icmp_unreach_ratelimited']} rate-limited)")
    time.sleep(0.5)  # let the token bucket refill for whoever runs next
