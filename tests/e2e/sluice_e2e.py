"""sluice_e2e - shared machinery for the end-to-end suite.

The appliance runs in network namespace `sluice` (DESIGN.md, "The network
test environment"): sluiced owns 198.18.0.2 on the DPDK TAP `sluice0`, the
kernel side of the TAP is 198.18.0.1. Every client in this suite runs inside
that namespace and talks only to 198.18.0.2.

Clients run in a forked child that joins the namespace with setns(2)
(`in_netns`), so a test reads as ordinary Python: real kernel sockets for
the well-behaved clients, AF_PACKET sockets on sluice0 for hostile frames.
The child has a hard deadline; a hang kills it and fails the test instead of
blocking CI.

scapy is imported only inside those children (never in the pytest process):
it snapshots interfaces and routes at import time, and they must be the
namespace's.
"""

import ctypes
import os
import pickle
import random
import select
import signal
import socket
import struct
import subprocess
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
E2E_DIR = ROOT / "tests" / "e2e"
NETNS = "sluice"
NETNS_PATH = f"/var/run/netns/{NETNS}"
TAP = "sluice0"
APPLIANCE_IP = "198.18.0.2"
KERNEL_IP = "198.18.0.1"
RUNDIR = Path(os.environ.get("RUNDIR", "/run/sluice"))
PIDFILE = RUNDIR / "sluiced.pid"
LOG = RUNDIR / "sluiced.log"
APPLIANCE_SH = ROOT / "scripts" / "appliance.sh"
SLUICECTL = ROOT / "build" / "sluicectl"
DEMO_CONF = ROOT / "conf" / "demo.conf"
FAULT_CONF = E2E_DIR / "fault.conf"
DROP_CONF = E2E_DIR / "fault-drop.conf"

# Services of conf/demo.conf (and fault.conf).
TCP_ECHO = 7
TCP_DISCARD = 9
UDP_ECHO = 7
# Ports nothing listens on.
CLOSED_TCP = 4242
CLOSED_UDP = 4243

NFT_LOSS_TABLE = "sluice_e2e_loss"


# ---------------------------------------------------------------- processes

def run(cmd, timeout=60, check=True, env=None, input=None):
    """Run CMD (a list) with no stdin, capture text output. Raises
    AssertionError with the output when CHECK and the exit status is not 0."""
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL if input is None else None,
                       input=input, capture_output=True, text=True,
                       timeout=timeout, env=env, cwd=ROOT)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} exited {p.returncode}\n"
                             f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def nsexec(*args, timeout=60, check=True, input=None):
    """Run a command inside the namespace: ip netns exec sluice ARGS..."""
    return run(["ip", "netns", "exec", NETNS, *map(str, args)], timeout=timeout,
               check=check, input=input)


def sluicectl(*args, timeout=10):
    return run([str(SLUICECTL), *args], timeout=timeout).stdout


def stats():
    """`sluicectl show stats` as {name: int}."""
    out = {}
    for line in sluicectl("show", "stats").splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[-1].isdigit():
            out[parts[0]] = int(parts[-1])
    if not out:
        raise AssertionError("sluicectl show stats printed no counters")
    return out


def stats_delta(before, after):
    return {k: after.get(k, 0) - before.get(k, 0) for k in after}


def appliance_mac():
    """The data-plane MAC, from `sluicectl show interfaces`."""
    for line in sluicectl("show", "interfaces").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "mac:":
            return parts[1]
    raise AssertionError("no mac: line in sluicectl show interfaces")


def sluiced_pid():
    try:
        pid = int(PIDFILE.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except OSError:
        return None
    # A zombie still answers kill(0); it is dead for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                return None
    except OSError:
        return None
    return pid


def log_tail(lines=40):
    try:
        return "".join(LOG.read_text(errors="replace").splitlines(True)[-lines:])
    except OSError as e:
        return f"(no log: {e})"


class Appliance:
    """The running sluiced, started and stopped with scripts/appliance.sh.
    `ensure(conf)` (re)starts it with CONF unless it already runs with it."""

    def __init__(self):
        self.conf = None
        self.pid = None

    def start(self, conf):
        self.stop()
        env = dict(os.environ, CONF=str(conf))
        p = run([str(APPLIANCE_SH), "start"], timeout=120, check=False, env=env)
        if p.returncode != 0:
            raise AssertionError(f"scripts/appliance.sh start (CONF={conf}) failed "
                                 f"({p.returncode}):\n{p.stdout}\n{p.stderr}")
        self.conf = Path(conf)
        self.pid = sluiced_pid()
        assert self.pid, "appliance.sh start returned 0 but no sluiced is running"

    def stop(self):
        run([str(APPLIANCE_SH), "stop"], timeout=60, check=False)
        self.conf = None
        self.pid = None

    def alive(self):
        pid = sluiced_pid()
        return pid is not None and pid == self.pid

    def ensure(self, conf):
        if self.conf != Path(conf) or not self.alive():
            self.start(conf)


def compose_conf(overlay):
    """conf/demo.conf with the section(s) of OVERLAY (a file under
    tests/e2e) appended, written to RUNDIR/e2e-<name>; returns that path.
    The fault configs are built this way so that they always carry the
    current demo settings."""
    overlay = Path(overlay)
    RUNDIR.mkdir(parents=True, exist_ok=True)
    out = RUNDIR / f"e2e-{overlay.name}"
    out.write_text(DEMO_CONF.read_text().rstrip("\n") + f"\n\n# ---- {overlay} ----\n"
                   + overlay.read_text())
    return out


# ------------------------------------------------------ running in the netns

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


class ChildError(AssertionError):
    """A child failed with something that could not be sent back as is."""


def _setns(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({path}): {os.strerror(err)}")
    finally:
        os.close(fd)


def in_netns(fn, *args, timeout=60, **kwargs):
    """Run FN(*ARGS, **KWARGS) in a forked child inside namespace `sluice`
    and return its (picklable) result. An exception in the child is raised
    here with the child's traceback attached as a note. After TIMEOUT
    seconds the child is killed and the test fails."""
    assert "scapy" not in sys.modules, "scapy must only be imported in netns children"
    sys.stdout.flush()
    sys.stderr.flush()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.close(r)
            signal.alarm(int(timeout) + 30)  # backstop if the parent is gone
            _setns(NETNS_PATH)
            result = ("ok", fn(*args, **kwargs))
        except BaseException as e:  # noqa: B902 - everything goes back
            result = ("err", e, traceback.format_exc())
        try:
            data = pickle.dumps(result)
        except Exception:
            data = pickle.dumps(("err", None, traceback.format_exc() + "\n" + repr(result)))
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            view = memoryview(data)
            while view:
                view = view[os.write(w, view):]
        finally:
            os._exit(0)
    os.close(w)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                raise AssertionError(f"netns child {getattr(fn, '__name__', fn)} "
                                     f"did not finish within {timeout} s (killed)")
            ready, _, _ = select.select([r], [], [], left)
            if ready:
                chunk = os.read(r, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
    finally:
        os.close(r)
        os.waitpid(pid, 0)
    if not chunks:
        raise ChildError(f"netns child {fn} died without a result")
    result = pickle.loads(b"".join(chunks))
    if result[0] == "ok":
        return result[1]
    exc, tb = result[1], result[2]
    if isinstance(exc, BaseException):
        exc.add_note("--- in the netns child ---\n" + tb)
        raise exc
    raise ChildError("netns child failed:\n" + tb)


# -------------------------------------------------- helpers for the children

def connect(port=TCP_ECHO, timeout=5.0):
    s = socket.create_connection((APPLIANCE_IP, port), timeout=timeout)
    s.settimeout(timeout)
    return s


def recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            raise AssertionError(f"EOF after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def expect_silence(s, wait=0.3):
    """Nothing more arrives on S within WAIT seconds (EOF or data fail)."""
    old = s.gettimeout()
    s.settimeout(wait)
    try:
        extra = s.recv(65536)
    except socket.timeout:
        return
    finally:
        s.settimeout(old)
    raise AssertionError(f"unexpected {'EOF' if not extra else repr(extra[:64])} on the connection")


def echo_roundtrip(s, data):
    """Send DATA on an echo connection while reading it back; return what
    came back (exactly len(DATA) bytes). Sending runs in a thread so a
    large DATA cannot deadlock on full windows."""
    import threading

    err = []

    def sender():
        try:
            s.sendall(data)
        except BaseException as e:  # noqa: B902
            err.append(e)

    t = threading.Thread(target=sender, daemon=True)
    t.start()
    try:
        back = recv_exact(s, len(data))
    finally:
        t.join(s.gettimeout() or 10)
    if err:
        raise err[0]
    return back


def echo_check(port=TCP_ECHO, data=b"sluice e2e\n", timeout=5.0):
    """One connection: DATA echoed exactly, then a clean close."""
    with connect(port, timeout) as s:
        back = echo_roundtrip(s, data)
        assert back == data, f"echo mismatch: sent {data[:40]!r}, got {back[:40]!r}"
        s.shutdown(socket.SHUT_WR)
        assert s.recv(1) == b"", "echo did not close after our FIN"
    return True


def ping_ok(count=2, size=56):
    p = subprocess.run(["ping", "-n", "-q", "-c", str(count), "-i", "0.2", "-W", "2", "-s",
                        str(size), APPLIANCE_IP], capture_output=True, text=True, timeout=30)
    return p.returncode == 0


def inet_csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def mac_bytes(mac):
    return bytes(int(x, 16) for x in mac.split(":"))


ETH_P_ALL = 0x0003
SO_RCVBUFFORCE = 33


class L2:
    """An AF_PACKET socket on sluice0: send raw Ethernet frames as the
    kernel side of the TAP, and capture what crosses the TAP."""

    def __init__(self, capture=True):
        self.tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        self.tx.bind((TAP, 0))
        self.kernel_mac_b = self.tx.getsockname()[4][:6]
        self.kernel_mac = ":".join(f"{b:02x}" for b in self.kernel_mac_b)
        self.appliance_mac = appliance_mac()
        self.appliance_mac_b = mac_bytes(self.appliance_mac)
        self.rx = None
        if capture:
            self.rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            self.rx.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 32 << 20)
            self.rx.bind((TAP, ETH_P_ALL))
            self.rx.setblocking(False)

    def eth(self, ethertype=0x0800, dst=None):
        return (dst or self.appliance_mac_b) + self.kernel_mac_b + struct.pack("!H", ethertype)

    def send(self, frame):
        """Send one frame; a full device queue is retried briefly."""
        for _ in range(1000):
            try:
                return self.tx.send(bytes(frame))
            except BlockingIOError:
                time.sleep(0.001)
            except OSError as e:
                if e.errno not in (105, 11):  # ENOBUFS, EAGAIN
                    raise
                time.sleep(0.001)
        raise AssertionError("AF_PACKET send kept failing with ENOBUFS")

    def drain(self):
        """Discard everything captured so far."""
        self.frames(0)

    def frames(self, duration, until=None, incoming=False):
        """Captured frames (bytes) for DURATION seconds, or until UNTIL(frame)
        is true for one of them (then returned last). INCOMING: only frames
        the kernel received, i.e. sent by the appliance (net_tap gives both
        ends of the TAP the same MAC, so addresses cannot tell)."""
        out = []
        deadline = time.monotonic() + duration
        while True:
            try:
                data, addr = self.rx.recvfrom(65536)
                if incoming and addr[2] == socket.PACKET_OUTGOING:
                    continue
                out.append(data)
                if until is not None and until(data):
                    return out
                continue
            except BlockingIOError:
                pass
            left = deadline - time.monotonic()
            if left <= 0:
                return out
            select.select([self.rx], [], [], left)

    def close(self):
        self.tx.close()
        if self.rx is not None:
            self.rx.close()


def scapy():
    """Import scapy quietly (children only) and return its namespace."""
    import logging

    logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
    import scapy.all as sc

    return sc


def seq_add(a, n):
    return (a + n) & 0xFFFFFFFF


def seq_gt(a, b):
    return 0 < ((a - b) & 0xFFFFFFFF) < 0x80000000


class TcpFlow:
    """Sequence state of one kernel-client connection to the appliance,
    reconstructed from frames captured on sluice0: what each side has sent
    (snd_nxt), the appliance's advertised window in bytes, the window scale
    and timestamps in use. Injected segments are built from this so that
    they sit exactly where a test wants them relative to the live
    connection."""

    def __init__(self, frames, lport, rport=TCP_ECHO):
        sc = scapy()
        self.lport, self.rport = lport, rport
        self.k_nxt = self.a_nxt = None
        self.k_ts = self.a_ts = None
        self.a_wscale = 0
        self.k_wscale_offered = False
        self.a_window_raw = None
        self.k_window_raw = None
        for f in frames:
            p = sc.Ether(f)
            if sc.IP not in p or sc.TCP not in p:
                continue
            ip, t = p[sc.IP], p[sc.TCP]
            flags = int(t.flags)
            seglen = len(bytes(t.payload)) + (1 if flags & 0x02 else 0) + (1 if flags & 0x01 else 0)
            opts = {k: v for k, v in t.options if isinstance(k, str)}
            end = seq_add(t.seq, seglen)
            if ip.src == KERNEL_IP and t.sport == lport and t.dport == rport:
                if self.k_nxt is None or seq_gt(end, self.k_nxt):
                    self.k_nxt = end
                if flags & 0x02:
                    self.k_wscale_offered = "WScale" in opts
                if "Timestamp" in opts:
                    self.k_ts = opts["Timestamp"][0]
                self.k_window_raw = t.window
            elif ip.src == APPLIANCE_IP and t.sport == rport and t.dport == lport:
                if self.a_nxt is None or seq_gt(end, self.a_nxt):
                    self.a_nxt = end
                if flags & 0x02:
                    self.a_wscale = opts.get("WScale", 0)
                if "Timestamp" in opts:
                    self.a_ts = opts["Timestamp"][0]
                if not flags & 0x02:
                    self.a_window_raw = t.window
        if self.k_nxt is None or self.a_nxt is None:
            raise AssertionError(f"did not capture both directions of port {lport}")

    @property
    def a_window(self):
        """The appliance's receive window in bytes."""
        scale = self.a_wscale if self.k_wscale_offered else 0
        return (self.a_window_raw or 0) << scale

    def ts_option(self):
        """Timestamp option that passes PAWS: the kernel's latest TSval."""
        if self.k_ts is None:
            return []
        return [("NOP", None), ("NOP", None), ("Timestamp", (self.k_ts, self.a_ts or 0))]

    def segment(self, l2, flags="A", seq=None, ack=None, payload=b"", options=None,
                window=None):
        """A frame from the kernel's side of this connection."""
        sc = scapy()
        tcp = sc.TCP(sport=self.lport, dport=self.rport,
                     seq=self.k_nxt if seq is None else seq,
                     ack=self.a_nxt if ack is None else ack, flags=flags,
                     window=(self.k_window_raw or 502) if window is None else window,
                     options=self.ts_option() if options is None else options)
        pkt = (sc.Ether(src=l2.kernel_mac, dst=l2.appliance_mac)
               / sc.IP(src=KERNEL_IP, dst=APPLIANCE_IP, id=0x5e55) / tcp / payload)
        return pkt

    def from_appliance(self, frame):
        """The parsed TCP layer if FRAME is a segment of this connection
        sent by the appliance, else None."""
        if (len(frame) < 54 or frame[12:14] != b"\x08\x00" or frame[23] != 6
                or frame[26:30] != socket.inet_aton(APPLIANCE_IP)):
            return None  # cheap filter first: captures can hold thousands
        sc = scapy()
        p = sc.Ether(frame)
        if sc.IP in p and sc.TCP in p:
            ip, t = p[sc.IP], p[sc.TCP]
            if ip.src == APPLIANCE_IP and t.sport == self.rport and t.dport == self.lport:
                return t
        return None


def tracked_connection(l2, port=TCP_ECHO, timeout=5.0):
    """Open a kernel connection to PORT while capturing, exchange a few
    bytes, let it go quiet, and return (socket, TcpFlow)."""
    l2.drain()
    s = connect(port, timeout)
    if port == TCP_ECHO:
        assert echo_roundtrip(s, b"warm-up\n") == b"warm-up\n"
    else:
        s.sendall(b"warm-up\n")
    time.sleep(0.5)  # delayed ACKs on both sides go out
    flow = TcpFlow(l2.frames(0.2), s.getsockname()[1], port)
    l2.drain()
    return s, flow


def appliance_connections():
    """Rows of `sluicectl show connections` as dicts with local, remote and
    state (upper case)."""
    rows = []
    for line in sluicectl("show", "connections").splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 3 and ":" in parts[0] and ":" in parts[1]:
            rows.append({"local": parts[0], "remote": parts[1], "state": parts[2].upper()})
    return rows


def wait_for(pred, timeout, interval=0.1):
    """Poll PRED until it returns something true or TIMEOUT passes; return
    its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


# ------------------------------------------------------------ frame crafting

def fix_ip_csum(ip):
    """IP packet bytes with the header checksum recomputed over the header
    as IHL describes it (as far as the bytes go)."""
    ip = bytearray(ip)
    if len(ip) >= 12:
        ihl = (ip[0] & 0x0F) * 4
        ip[10:12] = b"\0\0"
        ip[10:12] = struct.pack("!H", inet_csum(bytes(ip[:max(min(ihl, len(ip)), 12)])))
    return bytes(ip)


def corrupt_csum(frame, offset):
    """FRAME with the 16-bit checksum at OFFSET made wrong (never 0 or
    0xffff, which UDP could read as 'no checksum')."""
    frame = bytearray(frame)
    orig = struct.unpack("!H", frame[offset:offset + 2])[0]
    bad = orig
    while bad in (orig, 0, 0xFFFF):
        bad = (bad + 0x1111) & 0xFFFF
    frame[offset:offset + 2] = struct.pack("!H", bad)
    return bytes(frame)


def tcp_frame(l2, src, dst, sport, dport, seq, ack=0, flags=0x02, window=64240,
              options=b"", payload=b"", ident=0):
    """Ethernet+IPv4+TCP with correct checksums, built without scapy (the
    SYN flood needs tens of thousands of these quickly)."""
    src_b, dst_b = socket.inet_aton(src), socket.inet_aton(dst)
    off = (20 + len(options)) // 4
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, off << 4, flags, window, 0, 0)
    seg = tcp + options + payload
    pseudo = src_b + dst_b + struct.pack("!BBH", 0, 6, len(seg))
    csum = inet_csum(pseudo + seg)
    seg = seg[:16] + struct.pack("!H", csum) + seg[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(seg), ident, 0x4000, 64, 6, 0,
                     src_b, dst_b)
    return l2.eth(0x0800) + fix_ip_csum(ip) + seg


# Offsets of checksums in an Ethernet frame with a 20-byte IP header.
CSUM_IP = 14 + 10
CSUM_ICMP = 34 + 2
CSUM_UDP = 34 + 6
CSUM_TCP = 34 + 16


def checksum_probe(kind, corrupt, seed=1):
    """Send one request of KIND ('icmp', 'udp', 'tcp') from the kernel side;
    CORRUPT is None, 'ip' (bad IP header checksum) or 'l4' (bad ICMP/UDP/TCP
    checksum), 'nocsum' for UDP with checksum 0 (none, RFC 768). Returns
    whether the appliance answered within 0.5 s."""
    rnd = random.Random(seed)
    sc = scapy()
    l2 = L2()
    l2.drain()
    sport = rnd.randrange(20000, 30000)
    ident = rnd.randrange(1, 0xFFFF)
    ip = sc.IP(src=KERNEL_IP, dst=APPLIANCE_IP, id=ident)
    if kind == "icmp":
        l4 = sc.ICMP(type=8, id=ident, seq=1) / (b"csum probe" * 4)
        csum_off = CSUM_ICMP

        def answer(t):
            return t.haslayer(sc.ICMP) and t[sc.ICMP].type == 0 and t[sc.ICMP].id == ident
    elif kind == "udp":
        l4 = sc.UDP(sport=sport, dport=UDP_ECHO) / (b"csum probe" * 4)
        csum_off = CSUM_UDP

        def answer(t):
            return t.haslayer(sc.UDP) and t[sc.UDP].sport == UDP_ECHO and t[sc.UDP].dport == sport
    elif kind == "tcp":
        l4 = sc.TCP(sport=sport, dport=TCP_ECHO, flags="S", seq=rnd.randrange(1 << 32),
                    options=[("MSS", 1460)])
        csum_off = CSUM_TCP

        def answer(t):
            return (t.haslayer(sc.TCP) and t[sc.TCP].sport == TCP_ECHO
                    and t[sc.TCP].dport == sport)
    else:
        raise ValueError(kind)
    frame = bytes(sc.Ether(src=l2.kernel_mac, dst=l2.appliance_mac) / ip / l4)
    if corrupt == "ip":
        frame = corrupt_csum(frame, CSUM_IP)
    elif corrupt == "l4":
        frame = corrupt_csum(frame, csum_off)
    elif corrupt == "nocsum":
        assert kind == "udp"
        frame = frame[:CSUM_UDP] + b"\0\0" + frame[CSUM_UDP + 2:]
    l2.send(frame)

    def from_appliance(f):
        p = sc.Ether(f)
        return sc.IP in p and p[sc.IP].src == APPLIANCE_IP and answer(p[sc.IP])

    return any(from_appliance(f) for f in l2.frames(0.5, until=from_appliance))


def ip_packet(proto, payload, **kw):
    """Raw IPv4 header + payload with a valid header checksum; KW overrides
    fields: ver, ihl, tos, tlen, ident, frag (flags|offset), ttl, options."""
    opts = kw.get("options", b"")
    ihl = kw.get("ihl", (20 + len(opts)) // 4)
    tlen = kw.get("tlen", 20 + len(opts) + len(payload))
    hdr = struct.pack("!BBHHHBBH4s4s", (kw.get("ver", 4) << 4) | (ihl & 0x0F), kw.get("tos", 0),
                      tlen & 0xFFFF, kw.get("ident", 0x1234), kw.get("frag", 0),
                      kw.get("ttl", 64), proto, 0, socket.inet_aton(kw.get("src", KERNEL_IP)),
                      socket.inet_aton(APPLIANCE_IP))
    return fix_ip_csum(hdr + opts) + payload


def blast(variants_fn, seed):
    l2 = L2(capture=False)
    frames = variants_fn(seed, l2)
    sent = refused = 0
    for i, f in enumerate(frames):
        try:
            l2.send(f)
            sent += 1
        except OSError:
            refused += 1
        if i % 200 == 199:
            time.sleep(0.01)  # stay below what the TAP queue drops
    return len(frames), sent, refused


def alive_checks(tcp):
    """After hostile input: ping, UDP echo and (TCP) a fresh echo connection."""
    assert ping_ok(), "appliance stopped answering ping"
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.connect((APPLIANCE_IP, UDP_ECHO))
    s.send(b"still alive?")
    assert s.recv(100) == b"still alive?", "UDP echo broken"
    if tcp:
        echo_check(data=random.Random(9).randbytes(100000), timeout=10)
    return True
