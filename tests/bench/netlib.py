"""Network helpers of `make bench`: network namespaces joined by a TUN
pair whose forwarder holds every packet for a fixed one-way delay (this
kernel has no netem qdisc), and the round-trip count of a captured TCP
connection.

    python3 netlib.py tunfwd NS_A NS_B DEV DELAY_MS

creates DEV in each namespace (TUN, no packet information), prints
"ready", and forwards IP packets between them, each after DELAY_MS, until
SIGTERM.  The devices disappear with the process.  The namespaces have no
other interface than their own loopback: nothing leaves the machine.
"""
import ctypes
import fcntl
import heapq
import os
import select
import signal
import struct
import subprocess
import sys
import time

TUNSETIFF = 0x400454ca
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
CLONE_NEWNET = 0x40000000

_libc = ctypes.CDLL(None, use_errno=True)


def setns(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e, "setns %s: %s" % (path, os.strerror(e)))
    finally:
        os.close(fd)


def open_tun(ns, dev):
    """A TUN device named dev inside namespace ns (this thread returns to
    its own namespace)."""
    own = "/proc/self/task/%d/ns/net" % _gettid()
    own_fd = os.open(own, os.O_RDONLY)
    try:
        setns("/run/netns/" + ns)
        fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
        fcntl.ioctl(fd, TUNSETIFF,
                    struct.pack("16sH", dev.encode(), IFF_TUN | IFF_NO_PI))
    finally:
        if _libc.setns(own_fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns back")
        os.close(own_fd)
    return fd


def _gettid():
    return _libc.syscall(186)       # SYS_gettid on x86_64


def tunfwd(ns_a, ns_b, dev, delay_ms):
    delay = delay_ms / 1000.0
    ta = open_tun(ns_a, dev)
    tb = open_tun(ns_b, dev)
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    signal.signal(signal.SIGINT, lambda *a: stop.append(1))
    print("ready", flush=True)
    heap, seq = [], 0
    other = {ta: tb, tb: ta}
    while not stop:
        now = time.monotonic()
        timeout = max(0.0, heap[0][0] - now) if heap else 0.5
        try:
            r, _, _ = select.select([ta, tb], [], [], timeout)
        except InterruptedError:
            continue
        now = time.monotonic()
        for fd in r:
            while True:
                try:
                    pkt = os.read(fd, 65536)
                except BlockingIOError:
                    break
                seq += 1
                heapq.heappush(heap, (now + delay, seq, other[fd], pkt))
        now = time.monotonic()
        while heap and heap[0][0] <= now:
            _, _, fd, pkt = heapq.heappop(heap)
            try:
                os.write(fd, pkt)
            except OSError:
                pass                # a device going down at the end


class DelayedLink:
    """Two fresh namespaces, DEV in each with ADDR_A / ADDR_B
    (point-to-point), and the forwarder between them."""

    def __init__(self, tag, delay_ms, addr_a, addr_b, dev="pbtun0"):
        self.ns_a, self.ns_b = "pb-%s-a" % tag, "pb-%s-b" % tag
        self.dev, self.addr_a, self.addr_b = dev, addr_a, addr_b
        self.delay_ms = delay_ms
        self.proc = None
        for ns in (self.ns_a, self.ns_b):
            subprocess.run(["ip", "netns", "del", ns],
                           capture_output=True)
            subprocess.run(["ip", "netns", "add", ns], check=True)
            subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"],
                           check=True)
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "tunfwd",
             self.ns_a, self.ns_b, dev, str(delay_ms)],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        line = self.proc.stdout.readline()
        if line.strip() != b"ready":
            self.close()
            raise RuntimeError("tun forwarder did not start")
        for ns, me, peer in ((self.ns_a, addr_a, addr_b),
                             (self.ns_b, addr_b, addr_a)):
            subprocess.run(["ip", "-n", ns, "addr", "add", me, "peer",
                            peer, "dev", dev], check=True)
            subprocess.run(["ip", "-n", ns, "link", "set", dev, "mtu",
                            "1500", "up"], check=True)

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for ns in (self.ns_a, self.ns_b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


# ---------------------------------------------------------------------
# round trips from a capture

def tshark_fields(pcap, decode_as=()):
    """Per packet: (time, src, stream, syn, fin, rst, tcp_len,
    handshake types, extension types) from tshark."""
    args = ["tshark", "-r", pcap, "-n"]
    for d in decode_as:
        args += ["-d", d]
    args += ["-T", "fields", "-E", "separator=\t", "-E", "occurrence=a",
             "-E", "aggregator=,",
             "-e", "frame.time_epoch", "-e", "ip.src", "-e", "tcp.stream",
             "-e", "tcp.flags.syn", "-e", "tcp.flags.fin",
             "-e", "tcp.flags.reset", "-e", "tcp.len",
             "-e", "tcp.srcport", "-e", "tcp.dstport",
             "-e", "tls.handshake.type", "-e", "tls.handshake.extension.type"]
    p = subprocess.run(args, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError("tshark: %s" % p.stderr[-2000:])
    out = []
    for line in p.stdout.splitlines():
        f = line.split("\t")
        if len(f) < 11 or not f[2]:
            continue
        out.append({
            "t": float(f[0]), "src": f[1], "stream": int(f[2]),
            "syn": f[3] in ("1", "True"), "fin": f[4] in ("1", "True"),
            "rst": f[5] in ("1", "True"), "len": int(f[6] or 0),
            "sport": int(f[7]), "dport": int(f[8]),
            "hs": [x for x in f[9].split(",") if x],
            "ext": [x for x in f[10].split(",") if x]})
    return out


def streams(pkts, server_port):
    """Packets grouped by TCP stream, for connections to server_port, in
    the order they started."""
    by = {}
    for p in pkts:
        if server_port in (p["sport"], p["dport"]):
            by.setdefault(p["stream"], []).append(p)
    return [by[k] for k in sorted(by, key=lambda k: by[k][0]["t"])]


def round_trips(conn, client_addr, rtt):
    """The client's waits for the server in one connection: a packet from
    the server that comes after a silence of at least 0.6 RTT (nothing
    sent or received meanwhile) ends one wait.  Counted from the SYN to the
    client's FIN (or the server's, if it closes first).  Returns (waits,
    wall seconds, resumed: the ClientHello offered a PSK (extension 41)
    and got one, full handshakes seen)."""
    start = conn[0]["t"]
    end = None
    waits = 0
    prev = None
    hello_psk = False
    server_psk = False
    for p in conn:
        from_client = p["src"] == client_addr
        if "1" in p["hs"] and from_client and "41" in p["ext"]:
            hello_psk = True
        if "2" in p["hs"] and not from_client and "41" in p["ext"]:
            server_psk = True
        if prev is not None and not from_client and \
                p["t"] - prev >= 0.6 * rtt:
            waits += 1
        prev = p["t"]
        if p["fin"] or p["rst"]:
            end = p["t"]
            break
    if end is None:
        end = conn[-1]["t"]
    return {"waits": waits, "wall": end - start,
            "psk_offered": hello_psk, "resumed": hello_psk and server_psk}


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "tunfwd":
        tunfwd(sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]))
    else:
        sys.exit("usage: netlib.py tunfwd NS_A NS_B DEV DELAY_MS")
