#!/usr/bin/python3
"""gen_rx_corpus - write the seed corpus of fuzz_rx (tests/fuzz/corpus/rx/).

Each seed is a sequence of records `op (1) | length (2, BE) | frame`, the
input format documented in fuzz_rx.c. Frames are valid: they come from the
peer 198.18.0.1 (02:00:00:00:00:01) to the stack 198.18.0.2
(02:00:00:00:00:02). Plain struct packing, so no scapy is needed.

Run from the repository root: python3 tests/fuzz/gen_rx_corpus.py
"""
import os
import struct

MAC_US = bytes([2, 0, 0, 0, 0, 2])
MAC_PEER = bytes([2, 0, 0, 0, 0, 1])
BCAST = b"\xff" * 6
IP_US = bytes([198, 18, 0, 2])
IP_PEER = bytes([198, 18, 0, 1])
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "rx")


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def eth(dst, typ, payload):
    return dst + MAC_PEER + struct.pack("!H", typ) + payload


def arp(op, tip, sha=MAC_PEER, sip=IP_PEER, tha=b"\0" * 6):
    body = struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + sha + sip + tha + tip
    return eth(BCAST if op == 1 else MAC_US, 0x0806, body)


def ipv4(proto, l4, ident=1, frag=0, src=IP_PEER, dst=IP_US):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), ident, frag, 64, proto, 0, src, dst)
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return eth(MAC_US, 0x0800, h + l4)


def pseudo(proto, length):
    return IP_PEER + IP_US + struct.pack("!BBH", 0, proto, length)


def udp(sport, dport, data):
    h = struct.pack("!HHHH", sport, dport, 8 + len(data), 0)
    c = csum(pseudo(17, 8 + len(data)) + h + data) or 0xFFFF
    return h[:6] + struct.pack("!H", c) + data


def icmp_echo(ident, seq, data):
    h = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    return h[:2] + struct.pack("!H", csum(h + data)) + h[4:] + data


def tcp(sport, dport, seq, ack, flags, opts=b"", data=b"", win=65535):
    off = (20 + len(opts)) // 4
    h = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, off << 4, flags, win, 0, 0) + opts
    c = csum(pseudo(6, len(h) + len(data)) + h + data)
    return h[:16] + struct.pack("!H", c) + h[18:] + data


def icmp_unreach(code, quoted):
    h = struct.pack("!BBHI", 3, code, 0, 0)
    return h[:2] + struct.pack("!H", csum(h + quoted)) + h[4:] + quoted


SYN, ACK, PSH, FIN, RST = 0x02, 0x10, 0x08, 0x01, 0x04
# MSS 1460, SACK permitted, timestamps, NOP, window scale 7.
SYN_OPTS = (b"\x02\x04\x05\xb4" + b"\x04\x02" + b"\x08\x0a\x00\x00\x00\x01\x00\x00\x00\x00"
            + b"\x01" + b"\x03\x03\x07")


def fragments(proto, l4, ident, size, order=None):
    pieces = []
    for off in range(0, len(l4), size):
        more = off + size < len(l4)
        pieces.append(ipv4(proto, l4[off:off + size], ident, (off // 8) | (0x2000 if more else 0)))
    if order:
        pieces = [pieces[i] for i in order]
    return pieces


def rec(frame, op=0):
    return struct.pack("!BH", op, len(frame)) + frame


def seeds():
    payload = bytes((i * 7) & 0xFF for i in range(3000))
    yield "arp_request", [rec(arp(1, IP_US))]
    yield "arp_reply_and_gratuitous", [rec(arp(2, IP_US, tha=MAC_US)), rec(arp(1, IP_PEER), 0x40)]
    yield "icmp_echo", [rec(ipv4(1, icmp_echo(0x1234, 1, b"abcdefgh" * 7)))]
    yield "udp_echo", [rec(ipv4(17, udp(40000, 7, b"hello, sluice")))]
    yield "udp_closed_port", [rec(ipv4(17, udp(40000, 9, b"nobody home")))]
    yield "unknown_protocol", [rec(ipv4(99, b"\0" * 16))]
    yield "tcp_syn", [rec(ipv4(6, tcp(40001, 25, 1000, 0, SYN, SYN_OPTS)))]
    yield "tcp_syn_ack_data_fin", [
        rec(ipv4(6, tcp(40002, 25, 5000, 0, SYN, SYN_OPTS), 1)),
        rec(ipv4(6, tcp(40002, 25, 5001, 1, ACK), 2)),
        rec(ipv4(6, tcp(40002, 25, 5001, 1, ACK | PSH, data=b"EHLO fuzz\r\n"), 3)),
        rec(ipv4(6, tcp(40002, 25, 5012, 1, ACK | FIN), 4), 0x85),
    ]
    yield "tcp_rst_to_closed", [rec(ipv4(6, tcp(40003, 80, 1, 0, SYN)))]
    yield "udp_fragments_out_of_order", [
        rec(f) for f in fragments(17, udp(40004, 7, payload), 77, 1480, [2, 0, 1])]
    yield "icmp_echo_fragmented", [
        rec(f) for f in fragments(1, icmp_echo(7, 7, payload), 78, 1480)]
    # The largest echo: exercises the scratch-buffer delivery and makes
    # libFuzzer's default max_len (the largest seed) cover 64 KB datagrams.
    big = bytes((i * 13) & 0xFF for i in range(65507))
    yield "icmp_echo_64k_fragmented", [rec(f) for f in fragments(1, icmp_echo(9, 9, big), 81, 1480)]
    whole = fragments(17, udp(40005, 7, payload[:1600]), 79, 800)
    overlap = fragments(17, udp(40005, 7, payload[:1600]), 79, 400)[1]
    yield "fragment_overlap", [rec(whole[0]), rec(overlap), rec(whole[1])]
    yield "fragment_then_timeout", [
        rec(fragments(17, udp(40006, 7, payload), 80, 1480)[0]), rec(b"", 0xBF)]
    ours = ipv4(6, tcp(25, 40007, 1, 0, SYN | ACK), src=IP_US, dst=IP_PEER)
    yield "icmp_unreach_about_tcp", [rec(ipv4(1, icmp_unreach(3, ours[14:14 + 28])))]

def main():
    os.makedirs(OUT, exist_ok=True)
    for name, records in seeds():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(b"".join(records))


if __name__ == "__main__":
    main()
