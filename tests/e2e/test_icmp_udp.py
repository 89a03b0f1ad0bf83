"""ARP, IPv4 (with fragmentation both ways), ICMP and UDP, driven by the
kernel's own clients inside namespace `sluice`."""

import random
import re
import socket
import struct
import time

import pytest

import sluice_e2e as e2e
from sluice_e2e import APPLIANCE_IP, KERNEL_IP


def test_ping(appliance):
    before = e2e.stats()
    p = e2e.nsexec("ping", "-n", "-c", "5", "-i", "0.2", "-W", "2", APPLIANCE_IP,
                   check=False, timeout=30)
    assert p.returncode == 0 and " 0% packet loss" in p.stdout, p.stdout + p.stderr
    d = e2e.stats_delta(before, e2e.stats())
    assert d["icmp_echo_replies"] >= 5, d


# 1472 is the largest payload in one 1500-byte frame; everything larger is
# fragmented by the kernel on the way in and by the appliance on the way out.
@pytest.mark.parametrize("size", [0, 1472, 1473, 4000, 30000, 65507])
def test_ping_sizes(appliance, size):
    before = e2e.stats()
    p = e2e.nsexec("ping", "-n", "-c", "3", "-i", "0.2", "-W", "3", "-M", "dont", "-s", size,
                   APPLIANCE_IP, check=False, timeout=30)
    assert p.returncode == 0 and " 0% packet loss" in p.stdout, p.stdout + p.stderr
    assert "wrong data" not in p.stdout, p.stdout
    if size > 1472:
        d = e2e.stats_delta(before, e2e.stats())
        assert d["ip_reasm_ok"] >= 3, f"3 fragmented requests, reassembled: {d['ip_reasm_ok']}"
        assert d["ip_frag_tx"] >= 3, f"replies not fragmented: ip_frag_tx +{d['ip_frag_tx']}"


def _icmp_echo_exact(sizes, seed):
    """Raw ICMP echo with random payloads: every reply carries exactly the
    request's identifier, sequence and payload."""
    rnd = random.Random(seed)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.setsockopt(socket.IPPROTO_IP, 10, 0)  # IP_MTU_DISCOVER = IP_PMTUDISC_DONT: fragment
    s.settimeout(3)
    ident = rnd.randrange(1, 0xFFFF)
    for seq, size in enumerate(sizes, 1):
        payload = rnd.randbytes(size)
        hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
        csum = e2e.inet_csum(hdr + payload)
        s.sendto(struct.pack("!BBHHH", 8, 0, csum, ident, seq) + payload, (APPLIANCE_IP, 0))
        deadline = time.monotonic() + 3
        while True:
            assert time.monotonic() < deadline, f"no echo reply for {size} bytes"
            pkt, addr = s.recvfrom(70000)
            ihl = (pkt[0] & 0x0F) * 4
            icmp = pkt[ihl:]
            if addr[0] != APPLIANCE_IP or icmp[0] != 0:
                continue
            _, _, _, rid, rseq = struct.unpack("!BBHHH", icmp[:8])
            if (rid, rseq) != (ident, seq):
                continue
            assert e2e.inet_csum(icmp) == 0, f"bad ICMP checksum in the {size}-byte reply"
            assert icmp[8:] == payload, f"{size}-byte echo payload differs"
            break
    return True


def test_icmp_echo_payload_exact(appliance):
    assert e2e.in_netns(_icmp_echo_exact, [1, 64, 1472, 1473, 2961, 8000, 65507], 2,
                        timeout=60)


def _udp_echo(sizes, seed):
    rnd = random.Random(seed)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, 10, 0)  # IP_PMTUDISC_DONT: let the kernel fragment
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.settimeout(3)
    s.connect((APPLIANCE_IP, e2e.UDP_ECHO))
    for size in sizes:
        data = rnd.randbytes(size)
        s.send(data)
        back = s.recv(70000)
        assert len(back) == size, f"sent {size} bytes, echo returned {len(back)}"
        assert back == data, f"{size}-byte UDP echo payload differs"
    return True


@pytest.mark.parametrize("size", [0, 1, 512, 1472, 1473, 4000, 9000, 32768, 65507])
def test_udp_echo(appliance, size):
    before = e2e.stats()
    assert e2e.in_netns(_udp_echo, [size], size, timeout=30)
    d = e2e.stats_delta(before, e2e.stats())
    assert d["udp_rx"] >= 1 and d["udp_tx"] >= 1, d
    if size > 1472:
        assert d["ip_reasm_ok"] >= 1 and d["ip_frag_tx"] >= 1, d


def test_udp_echo_many(appliance):
    # 500 datagrams back to back on one socket, mixed sizes.
    rnd = random.Random(5)
    sizes = [rnd.choice([1, 100, 1000, 1472, 3000]) for _ in range(500)]
    assert e2e.in_netns(_udp_echo, sizes, 6, timeout=60)


def _udp_closed_port():
    l2 = e2e.L2()
    l2.drain()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.connect((APPLIANCE_IP, e2e.CLOSED_UDP))
    sport = s.getsockname()[1]
    s.send(b"anyone there?")
    try:
        s.recv(100)
        refused = False
    except ConnectionRefusedError:
        refused = True
    except socket.timeout:
        refused = None
    sc = e2e.scapy()
    icmps = []
    for f in l2.frames(0.3):
        p = sc.Ether(f)
        if sc.IP in p and p[sc.IP].src == APPLIANCE_IP and sc.ICMP in p:
            ic = p[sc.ICMP]
            quoted = ic.payload
            icmps.append((ic.type, ic.code, bytes(quoted)))
    return refused, sport, icmps


def test_udp_closed_port_gets_icmp_port_unreachable(appliance):
    before = e2e.stats()
    refused, sport, icmps = e2e.in_netns(_udp_closed_port, timeout=30)
    assert refused is True, ("connected UDP socket saw no ECONNREFUSED"
                             f" ({'timeout' if refused is None else 'got data'})")
    assert icmps, "no ICMP from the appliance on the wire"
    typ, code, quoted = icmps[0]
    assert (typ, code) == (3, 3), f"ICMP type {typ} code {code}, want 3/3 (port unreachable)"
    # RFC 792/1812: the error quotes our IP header and at least 8 bytes of UDP.
    ihl = (quoted[0] & 0x0F) * 4
    assert len(quoted) >= ihl + 8, f"ICMP quotes only {len(quoted)} bytes"
    assert socket.inet_ntoa(quoted[12:16]) == KERNEL_IP
    assert socket.inet_ntoa(quoted[16:20]) == APPLIANCE_IP
    assert struct.unpack("!HH", quoted[ihl:ihl + 4]) == (sport, e2e.CLOSED_UDP)
    d = e2e.stats_delta(before, e2e.stats())
    assert d["udp_rx_no_port"] >= 1 and d["icmp_unreach_tx"] >= 1, d


def _unknown_protocol(proto):
    l2 = e2e.L2()
    l2.drain()
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, proto)
    s.sendto(b"protocol nobody speaks", (APPLIANCE_IP, 0))
    sc = e2e.scapy()
    for f in l2.frames(1.0, until=lambda f: f[23:24] == b"\x01" and f[26:30] == socket.inet_aton(APPLIANCE_IP)):
        p = sc.Ether(f)
        if sc.IP in p and p[sc.IP].src == APPLIANCE_IP and sc.ICMP in p:
            ic = p[sc.ICMP]
            q = bytes(ic.payload)
            return ic.type, ic.code, q[9] if len(q) > 9 else None
    return None


def test_unknown_ip_protocol_gets_icmp_protocol_unreachable(appliance):
    got = e2e.in_netns(_unknown_protocol, 253, timeout=20)
    assert got is not None, "no ICMP for IP protocol 253"
    assert got == (3, 2, 253), f"ICMP type/code/quoted proto {got}, want (3, 2, 253)"


def _arp_probe(target):
    """Send an ARP who-has TARGET from the kernel side; return the MAC in the
    reply or None."""
    l2 = e2e.L2()
    l2.drain()
    bcast = b"\xff" * 6
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, l2.kernel_mac_b,
                      socket.inet_aton(KERNEL_IP), b"\0" * 6, socket.inet_aton(target))
    l2.send(l2.eth(0x0806, dst=bcast) + arp)

    def is_reply(f):
        return (f[12:14] == b"\x08\x06" and f[20:22] == b"\x00\x02"
                and f[28:32] == socket.inet_aton(target))

    for f in l2.frames(1.0, until=is_reply):
        if is_reply(f):
            assert f[38:42] == socket.inet_aton(KERNEL_IP), "ARP reply to the wrong address"
            return ":".join(f"{b:02x}" for b in f[22:28]), l2.appliance_mac
    return None, l2.appliance_mac


def test_arp_answers_for_own_address_only(appliance):
    mac, want = e2e.in_netns(_arp_probe, APPLIANCE_IP, timeout=20)
    assert mac == want, f"ARP reply for {APPLIANCE_IP}: {mac}, interface MAC {want}"
    mac, _ = e2e.in_netns(_arp_probe, "198.18.0.77", timeout=20)
    assert mac is None, f"appliance answered ARP for 198.18.0.77 with {mac}"


def test_kernel_neighbour_is_appliance_mac(appliance):
    e2e.nsexec("ping", "-c", "1", "-W", "2", APPLIANCE_IP, timeout=10)
    out = e2e.nsexec("ip", "neigh", "show", APPLIANCE_IP, "dev", e2e.TAP, timeout=10).stdout
    m = re.search(r"lladdr (\S+)", out)
    assert m and m.group(1) == e2e.appliance_mac(), out


def test_gratuitous_arp_at_start(appliance):
    # The appliance announces itself once at start (the ARP list);
    # the counter lives as long as the process.
    assert e2e.stats()["arp_tx_gratuitous"] >= 1
