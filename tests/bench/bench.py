"""make bench: pinpost side by side with Postfix, smtp-sink and the
OpenSSL ceiling (issue 9).  Run by tests/bench/run, which installs what is
missing and starts this inside a private mount namespace whose
/etc/resolv.conf names only a dead loopback address.

Every figure is a ratio against a peer measured in the same run, over
BENCH_RUNS runs (median [min, max] of the per-run ratios).  Servers run on
127.0.0.1 high ports, or (item 3) in two network namespaces joined by a
TUN pair with a forwarder that delays each packet; everything this starts
is stopped at the end.  Prints one table and writes it, with the machine,
the versions and the exact commands, to tests/bench/RESULTS.md.

Knobs (environment):
    BENCH_RUNS=5        runs of every measure
    BENCH_SCALE=1       multiplies message counts (item 1) and times
    BENCH_ITEMS=1,2,3,4,5
    BENCH_CONNS=1000,5000   idle connections (item 4)
    BENCH_HOSTS=100000  pin store hosts (item 5)
    BENCH_HS_SECONDS=2  seconds per handshake measure (item 2)
    BENCH_RTT_MS=50     round-trip time (item 3)
    BENCH_PROFILE=1     perf profiles of the missed targets (0: none)
    BENCH_DIR=/tmp/pinpost-bench   working directory (emptied first,
                        removed at the end unless BENCH_KEEP=1)
    BENCH_RESULTS=tests/bench/RESULTS.md
"""
import glob
import json
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "interop"))
import lib          # noqa: E402  (interop/lib.py: certs, ports, processes)
import netlib       # noqa: E402

BUILD = lib.BUILD
BIN = os.environ.get("BENCH_BIN", os.path.join(BUILD, "bench"))
LOADER = os.path.join(BIN, "loader")
STORE_BENCH = os.path.join(BIN, "bench_store")
WORK = os.environ.get("BENCH_DIR", "/tmp/pinpost-bench")
RESULTS = os.environ.get("BENCH_RESULTS", os.path.join(HERE, "RESULTS.md"))
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
SCALE = float(os.environ.get("BENCH_SCALE", "1"))
ITEMS = [int(x) for x in os.environ.get("BENCH_ITEMS",
                                        "1,2,3,4,5").split(",") if x]
CONNS = [int(x) for x in os.environ.get("BENCH_CONNS",
                                        "1000,5000").split(",") if x]
HOSTS = int(os.environ.get("BENCH_HOSTS", "100000"))
HS_SECONDS = max(1, int(round(float(os.environ.get("BENCH_HS_SECONDS",
                                                   "2")) * SCALE)))
RTT_MS = float(os.environ.get("BENCH_RTT_MS", "50"))
PROFILE = os.environ.get("BENCH_PROFILE", "1") != "0"
KEEP = os.environ.get("BENCH_KEEP", "0") != "0"
CLK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

SENDER = "sender@loader.bench.test"
RCPT = "alice@example.test"

ROWS = []           # the table
COMMANDS = {}       # what -> exact command line (first run)
NOTES = []          # lines for the results file
CLEANUP = []        # callables, last first
ELAPSED = []        # "item N: S s"


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def note_cmd(what, args):
    if what not in COMMANDS:
        COMMANDS[what] = " ".join(str(a) for a in args)


def med(v):
    return statistics.median(v) if v else float("nan")


def fmt(x, unit=""):
    if x is None or x != x:
        return "n/a"
    if abs(x) >= 100:
        s = "%.0f" % x
    elif abs(x) >= 10:
        s = "%.1f" % x
    else:
        s = "%.2f" % x
    return s + (" " + unit if unit else "")


def ratio_cell(r):
    r = [x for x in r if x == x]
    if not r:
        return "n/a"
    return "%.2f [%.2f, %.2f]" % (med(r), min(r), max(r))


def row(item, case, mine, unit, peer=None, peer_vals=None, peer2=None,
        peer2_vals=None, note="", invert=False):
    """A table row: medians of mine and of each peer, and per-run ratios
    mine/peer (peer/mine when invert: smaller is better)."""
    def ratios(pv):
        out = []
        for a, b in zip(mine, pv):
            if a and b and a == a and b == b:
                out.append(b / a if invert else a / b)
        return out
    ROWS.append({
        "item": item, "case": case, "value": fmt(med(mine), unit),
        "peer": peer or "", "peer_value": fmt(med(peer_vals), unit)
        if peer_vals else "",
        "ratio": ratio_cell(ratios(peer_vals)) if peer_vals else "",
        "peer2": peer2 or "", "peer2_value": fmt(med(peer2_vals), unit)
        if peer2_vals else "",
        "ratio2": ratio_cell(ratios(peer2_vals)) if peer2_vals else "",
        "note": note, "mine": mine, "peer_vals": peer_vals,
        "peer2_vals": peer2_vals})


# ---------------------------------------------------------------------
# processes

def proc_cpu(pid):
    """utime + stime of a process (all its threads), seconds."""
    f = lib.read_text("/proc/%d/stat" % pid).rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / CLK


def proc_rss_kib(pid):
    m = re.search(r"VmRSS:\s+(\d+) kB", lib.read_text("/proc/%d/status"
                                                     % pid))
    return int(m.group(1)) if m else 0


def proc_pss_kib(pid):
    m = re.search(r"Pss:\s+(\d+) kB", lib.read_text(
        "/proc/%d/smaps_rollup" % pid))
    return int(m.group(1)) if m else 0


def children_of(pid):
    """Every descendant of pid."""
    kids = {}
    for d in glob.glob("/proc/[0-9]*/stat"):
        try:
            f = lib.read_text(d).rsplit(")", 1)[1].split()
            kids.setdefault(int(f[1]), []).append(int(d.split("/")[2]))
        except (IndexError, ValueError):
            pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for k in kids.get(p, []):
            out.append(k)
            todo.append(k)
    return out


def run_timed(args, *, env=None, timeout=600, what=None, stdout=None):
    """Run a command; returns (wall seconds, user+sys CPU seconds, exit
    status, stdout text)."""
    if what:
        note_cmd(what, args)
    t0 = time.monotonic()
    p = subprocess.Popen(args, stdout=stdout or subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env,
                         stdin=subprocess.DEVNULL)
    timer = threading.Timer(timeout, p.kill)
    timer.start()
    out = p.stdout.read() if p.stdout else b""
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    timer.cancel()
    p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - t0
    text = (out or b"").decode("utf-8", "replace")
    if p.returncode != 0:
        log("%s exited %d: %s %s" % (args[0], p.returncode, text[-500:],
                                     err.decode("utf-8", "replace")[-500:]))
    return wall, ru.ru_utime + ru.ru_stime, p.returncode, text


def wait_until(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise lib.Failed("timed out waiting for " + what)
        time.sleep(0.01)


def count_files(d):
    try:
        return len(os.listdir(d))
    except FileNotFoundError:
        return 0


# ---------------------------------------------------------------------
# servers

def raise_nofile(n):
    """preexec_fn: RLIMIT_NOFILE up to n (as prlimit would), at most the
    hard limit (a sandbox may not let it be raised)."""
    def f():
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        if hard != resource.RLIM_INFINITY:
            m = min(n, hard)
        else:
            m = n
        resource.setrlimit(resource.RLIMIT_NOFILE, (m, hard))
    return f


class Pinpost:
    """build/pinpostd (interop/lib.py's Pinpostd for its files and
    configuration), optionally in a network namespace."""

    def __init__(self, d, *, name="pinpostd", key="ec", ns=None,
                 nofile=None, **conf):
        conf.setdefault("max_connections", 1000)
        conf.setdefault("max_connections_per_ip", 1000)
        self.p = lib.Pinpostd(d, name=name, **conf)
        if key == "rsa":
            cert, k = lib.make_cert(os.path.join(d, "rsa"),
                                    "mx.%s.test" % name, alg="rsa")
            self.p.conf["tls_cert_file"] = cert
            self.p.conf["tls_key_file"] = k
            self.p.cert, self.p.key = cert, k
        self.ns = ns
        self.nofile = nofile
        self.port = self.p.port
        self.maildir = os.path.join(self.p.maildir_root, "example.test",
                                    "alice", "new")
        self.proc = None

    @property
    def conf(self):
        return self.p.conf

    def start(self):
        p = self.p
        p.write_conf()
        p.logf = open(p.log_path, "ab")
        args = [os.path.join(BUILD, "pinpostd"), "-d", "-f", p.conf_path]
        if self.ns:
            args = ["ip", "netns", "exec", self.ns] + args
        note_cmd("pinpostd", args)
        start = len(p.log())
        p.proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=p.logf, stderr=p.logf,
            start_new_session=True,
            preexec_fn=raise_nofile(self.nofile) if self.nofile else None)
        self.proc = p.proc
        lib.note_pid(p.proc.pid, "pinpostd " + p.conf_path)
        CLEANUP.append(self.stop)
        wait_until(lambda: " started " in p.log()[start:] or
                   p.proc.poll() is not None, 20, "pinpostd to start")
        if p.proc.poll() is not None:
            raise lib.Failed("pinpostd exited:\n" + p.log()[-3000:])
        return self

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        if self.proc is not None:
            self.p.stop()
            self.proc = None

    def delivered(self):
        return count_files(self.maildir)


class Postfix:
    """A private Postfix as interop/lib.py runs one (postfix -c DIR, its
    own queue and data directories), with the listeners, transports and
    Maildirs a measure needs, optionally in a network namespace."""

    def __init__(self, d, *, listen="127.0.0.1", ns=None, domains=(
            "example.test",), extra_main=None, smtpd=(("", ""),),
            master_extra=""):
        self.d = d
        self.ns = ns
        self.etc = os.path.join(d, "etc")
        self.queue = os.path.join(d, "queue")
        self.data = os.path.join(d, "data")
        self.mail = os.path.join(d, "mail")
        for x in (self.etc, self.queue, self.data, self.mail):
            os.makedirs(x, exist_ok=True)
        self.cert, self.key = lib.make_cert(self.etc, "postfix.test")
        self.ports = lib.free_ports(len(smtpd))
        self.port = self.ports[0]
        self.log_path = os.path.join(d, "maillog")
        pw = lib.run(["getent", "passwd", "postfix"]).out.split(":")
        os.chown(self.data, int(pw[2]), int(pw[3]))
        nobody = lib.run(["getent", "passwd", "nobody"]).out.split(":")
        os.chown(self.mail, int(nobody[2]), int(nobody[3]))
        self.domains = list(domains)
        vmaps = ", ".join("alice@%s=%s/" % (dom, dom) for dom in domains)
        main = {
            "compatibility_level": "3.6",
            "config_directory": self.etc,
            "queue_directory": self.queue,
            "data_directory": self.data,
            "meta_directory": "/etc/postfix",
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "myhostname": "postfix.bench.test",
            "mydomain": "bench.test",
            "mydestination": "",
            "inet_interfaces": listen,
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "smtp_host_lookup": "native",
            "smtp_dns_support_level": "disabled",
            "maillog_file": self.log_path,
            "maillog_file_prefixes": "/tmp, " + os.path.dirname(d),
            "virtual_mailbox_domains": " ".join(domains),
            "virtual_mailbox_base": self.mail,
            "virtual_mailbox_maps": "inline:{%s}" % vmaps,
            "virtual_uid_maps": "static:%s" % nobody[2],
            "virtual_gid_maps": "static:%s" % nobody[3],
            "relayhost": "[127.0.0.1]:9",
            "smtpd_tls_security_level": "may",
            "smtpd_tls_cert_file": self.cert,
            "smtpd_tls_key_file": self.key,
            "smtpd_tls_loglevel": "1",
            "smtp_tls_loglevel": "1",
            "smtpd_client_connection_count_limit": "0",
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "",
            "biff": "no",
            "delay_warning_time": "0",
        }
        main.update(extra_main or {})
        lib.write(os.path.join(self.etc, "main.cf"),
                  "".join("%s = %s\n" % kv for kv in main.items()))
        master = ""
        for port, (_, opts) in zip(self.ports, smtpd):
            master += "%s:%d inet n - n - - smtpd%s\n" % (
                listen, port, "".join("\n  -o %s" % o for o in opts.split()))
        master += lib.POSTFIX_MASTER + master_extra
        lib.write(os.path.join(self.etc, "master.cf"), master)
        self.started = False

    def maildir(self, domain="example.test"):
        return os.path.join(self.mail, domain, "new")

    def delivered(self, domain="example.test"):
        return count_files(self.maildir(domain))

    def start(self):
        args = ["postfix", "-c", self.etc, "start"]
        if self.ns:
            args = ["ip", "netns", "exec", self.ns] + args
        note_cmd("postfix" + (" (namespace)" if self.ns else ""), args)
        lib.run(args)
        self.started = True
        CLEANUP.append(self.stop)
        pid = self.master_pid()
        if pid:
            lib.note_pid(pid, "postfix master " + self.etc)
        if not self.ns:
            for p in self.ports:
                lib.wait_port(p, what="postfix")
        else:
            time.sleep(1)
        return self

    def master_pid(self):
        t = lib.read_text(os.path.join(self.queue, "pid",
                                       "master.pid")).strip()
        return int(t) if t.isdigit() else None

    def version(self):
        return lib.run(["postconf", "-c", self.etc, "-h",
                        "mail_version"]).out.strip()

    def stop(self):
        if not self.started:
            return
        pid = self.master_pid()
        lib.run(["postfix", "-c", self.etc, "stop"], check=False)
        if pid:
            try:
                wait_until(lambda: not os.path.exists("/proc/%d" % pid) or
                           lib.read_text("/proc/%d/stat" % pid).rsplit(
                               ") ", 1)[-1].startswith("Z"), 15,
                           "postfix master to exit")
            except lib.Failed:
                lib.run(["postfix", "-c", self.etc, "abort"], check=False)
        self.started = False

    def log(self):
        return lib.read_text(self.log_path)


class Sink:
    """Postfix's smtp-sink: SMTP with no disk work (the ceiling)."""

    def __init__(self):
        (self.port,) = lib.free_ports(1)
        self.proc = None

    def start(self):
        args = ["smtp-sink", "-u", "nobody", "-4", "127.0.0.1:%d"
                % self.port, "1024"]
        note_cmd("smtp-sink", args)
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        lib.note_pid(self.proc.pid, "smtp-sink")
        CLEANUP.append(self.stop)
        lib.wait_port(self.port, self.proc, what="smtp-sink")
        return self

    def stop(self):
        if self.proc is not None:
            lib.stop_group(self.proc)
            self.proc = None


# ---------------------------------------------------------------------
# item 1: accept throughput

def item1():
    log("item 1: accept throughput")
    d = os.path.join(WORK, "item1")
    pp = Pinpost(os.path.join(d, "pinpostd")).start()
    pf = Postfix(os.path.join(d, "postfix")).start()
    sink = Sink().start()
    servers = [("pinpostd", pp), ("Postfix", pf), ("smtp-sink", sink)]
    cells = []
    for tls in ("plain", "starttls"):
        for size in (1024, 102400):
            for sess in (1, 20):
                for many in (False, True):
                    if size == 1024:
                        n = 100 if sess == 1 else 200
                    else:
                        n = 40 if sess == 1 else 100
                    n = max(sess, int(n * SCALE))
                    cells.append((tls, size, sess, many, n))
    res = {}        # cell -> server -> [rate]
    cpu = {}        # cell -> server -> [loader cpu share]
    for r in range(RUNS):
        log("item 1: run %d/%d" % (r + 1, RUNS))
        for cell in cells:
            tls, size, sess, many, n = cell
            order = servers[r % 2:] + servers[:r % 2] if r % 2 else servers
            for name, srv in order:
                if name == "smtp-sink" and tls != "plain":
                    continue
                rate, share = one_load(name, srv, cell)
                res.setdefault(cell, {}).setdefault(name, []).append(rate)
                cpu.setdefault(cell, {}).setdefault(name, []).append(share)
    for cell in cells:
        tls, size, sess, many, n = cell
        per = ("%d msg/conn" % -(-n // sess)) if many else "1 msg/conn"
        case = "%s, %s, %d session%s, %s" % (
            "plaintext" if tls == "plain" else "STARTTLS",
            "1 KiB" if size == 1024 else "100 KiB", sess,
            "s" if sess > 1 else "", per)
        rs = res[cell]
        lc = max(med(v) for v in cpu[cell].values())
        row(1, case, rs["pinpostd"], "msg/s", "Postfix smtpd",
            rs["Postfix"], "smtp-sink" if "smtp-sink" in rs else "",
            rs.get("smtp-sink"),
            note="%d msgs; loader CPU <= %.0f%% of wall" % (n, lc * 100))
    pp.stop()
    pf.stop()
    sink.stop()


def one_load(name, srv, cell):
    """One loader run against one server; returns (messages/s, loader
    CPU / wall)."""
    tls, size, sess, many, n = cell
    before = srv.delivered() if name != "smtp-sink" else 0
    target = "127.0.0.1:%d" % srv.port
    what = "item 1 %s %s %d B %d sess %s" % (
        name, tls, size, sess, "many/conn" if many else "1/conn")
    if tls == "plain":
        args = ["smtp-source", "-4", "-s", str(sess), "-m", str(n), "-l",
                str(size), "-f", SENDER, "-t", RCPT, "-M",
                "loader.bench.test"] + (["-d"] if many else []) + [target]
    else:
        args = [LOADER, "-T", "starttls", "-s", str(sess), "-m", str(n),
                "-l", str(size), "-d", "0" if many else "1", "-f", SENDER,
                "-r", RCPT, target]
    wall, cpu, rc, out = run_timed(args, what=what)
    if rc != 0:
        raise lib.Failed("%s failed against %s" % (args[0], name))
    if tls != "plain":
        j = json.loads(out)
        if j["msgs"] != n or j["errors"]:
            raise lib.Failed("loader: %r" % j)
        wall = j["wall"]
    if name != "smtp-sink":
        wait_until(lambda: srv.delivered() >= before + n, 120,
                   "%d messages in %s's Maildir" % (n, name))
    return n / wall, cpu / wall


# ---------------------------------------------------------------------
# item 2: TLS handshakes

SPEED_RE = {
    "ecdsap256": re.compile(r"256 bits ecdsa \(nistp256\)\s+\S+s\s+\S+s\s+"
                            r"([\d.]+)\s+([\d.]+)"),
    "rsa2048": re.compile(r"rsa\s+2048 bits\s+\S+s\s+\S+s\s+([\d.]+)\s+"
                          r"([\d.]+)"),
    "x25519": re.compile(r"253 bits ecdh \(X25519\)\s+\S+s\s+([\d.]+)"),
}


def openssl_speed():
    args = ["openssl", "speed", "-seconds", "1", "ecdsap256", "rsa2048",
            "ecdhx25519"]
    _, _, rc, out = run_timed(args, what="openssl speed")
    got = {}
    for k, rx in SPEED_RE.items():
        m = rx.search(out)
        got[k] = float(m.group(1)) if m else float("nan")
    return got


def speed_bound(speed, key, resumed):
    """Handshakes per CPU-second the server's public-key work allows: a
    TLS 1.3 handshake with X25519 costs it a key generation and a shared
    secret (two X25519 operations) and, unless resumed, a signature."""
    t = 2.0 / speed["x25519"]
    if not resumed:
        t += 1.0 / speed["ecdsap256" if key == "ec" else "rsa2048"]
    return 1.0 / t


def item2():
    log("item 2: TLS handshakes")
    d = os.path.join(WORK, "item2")
    keys = ("ec", "rsa")
    pps, servers = {}, {}
    for key in keys:
        pps[key] = Pinpost(os.path.join(d, "pinpostd-" + key),
                           name="hs" + key, key=key).start()
        sd = os.path.join(d, "s_server-" + key)
        os.makedirs(sd, exist_ok=True)
        lib.write(os.path.join(sd, "x"), "ok\n")
        (port,) = lib.free_ports(1)
        args = ["openssl", "s_server", "-accept", "127.0.0.1:%d" % port,
                "-cert", pps[key].p.cert, "-key", pps[key].p.key, "-WWW",
                "-quiet", "-naccept", "100000000"]
        note_cmd("openssl s_server (%s)" % key, args)
        proc = subprocess.Popen(args, cwd=sd, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL,
                                start_new_session=True)
        lib.note_pid(proc.pid, "s_server")
        CLEANUP.append(lambda p=proc: lib.stop_group(p))
        lib.wait_port(port, proc, what="s_server")
        servers[key] = (proc, port)
    res = {}
    speeds = []
    for r in range(RUNS):
        log("item 2: run %d/%d" % (r + 1, RUNS))
        speeds.append(openssl_speed())
        for key in keys:
            for resumed in (False, True):
                k = (key, resumed)
                pp = pps[key]
                c0 = proc_cpu(pp.pid)
                args = [LOADER, "-T", "starttls", "-H", "-s", "2", "-m",
                        "100000000", "-t", str(HS_SECONDS)] + \
                    (["-R"] if resumed else []) + \
                    ["127.0.0.1:%d" % pp.port]
                wall, lcpu, rc, out = run_timed(
                    args, what="item 2 pinpostd %s %s" % (
                        key, "resumed" if resumed else "full"))
                c1 = proc_cpu(pp.pid)
                j = json.loads(out)
                if rc != 0 or j["errors"]:
                    raise lib.Failed("loader: %r" % j)
                if resumed and j["resumed"] < 0.9 * j["conns"]:
                    NOTES.append("item 2: only %d of %d pinpostd sessions "
                                 "resumed" % (j["resumed"], j["conns"]))
                proc, port = servers[key]
                s0 = proc_cpu(proc.pid)
                sargs = ["openssl", "s_time", "-connect",
                         "127.0.0.1:%d" % port,
                         "-reuse" if resumed else "-new", "-time",
                         str(HS_SECONDS), "-www", "/x"]
                swall, scpu, src, sout = run_timed(
                    sargs, what="item 2 s_time %s %s" % (
                        key, "resumed" if resumed else "full"))
                s1 = proc_cpu(proc.pid)
                m = re.search(r"(\d+) connections in [\d.]+ real seconds",
                              sout)
                sconns = int(m.group(1)) if m else 0
                v = res.setdefault(k, {"pp_cpu": [], "pp_wall": [],
                                       "ss_cpu": [], "ss_wall": [],
                                       "bound": [], "loader": []})
                v["pp_cpu"].append(j["conns"] / max(c1 - c0, 1e-9))
                v["pp_wall"].append(j["conns"] / j["wall"])
                v["ss_cpu"].append(sconns / max(s1 - s0, 1e-9))
                v["ss_wall"].append(sconns / swall)
                v["bound"].append(speed_bound(speeds[-1], key, resumed))
                v["loader"].append((j["utime"] + j["stime"]) / j["wall"])
    for key in keys:
        for resumed in (False, True):
            v = res[(key, resumed)]
            kname = "ECDSA P-256" if key == "ec" else "RSA-2048"
            how = "resumed (TLS 1.3 ticket)" if resumed else "full"
            row(2, "STARTTLS handshakes per server CPU-second, %s, %s"
                % (kname, how), v["pp_cpu"], "hs/CPU-s",
                "openssl s_server (s_time)", v["ss_cpu"],
                "openssl speed bound (X25519%s)" % (
                    "" if resumed else " + " + ("ECDSA sign" if key == "ec"
                                                else "RSA sign")),
                v["bound"],
                note="wall: pinpostd %s/s with 2 loader threads (loader "
                     "CPU %.0f%% of wall), s_server %s/s with s_time" % (
                         fmt(med(v["pp_wall"])), med(v["loader"]) * 100,
                         fmt(med(v["ss_wall"]))))
    for key in keys:
        pps[key].stop()
        lib.stop_group(servers[key][0])


# ---------------------------------------------------------------------
# item 3: round trips under a delayed link

ADDR_A, ADDR_B = "192.0.2.1", "192.0.2.2"


def ns_submit(ns, port, rcpt):
    args = ["ip", "netns", "exec", ns, LOADER, "-T", "plain", "-m", "1",
            "-r", rcpt, "-f", SENDER, "127.0.0.1:%d" % port]
    note_cmd("item 3 submission", args)
    p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise lib.Failed("submission failed: %s %s" % (p.stdout, p.stderr))


def item3():
    log("item 3: round trips at %g ms RTT" % RTT_MS)
    d = os.path.join(WORK, "item3")
    link = netlib.DelayedLink("%d" % os.getpid(), RTT_MS / 2, ADDR_A, ADDR_B)
    CLEANUP.append(link.close)
    NOTES.append("item 3: namespaces %s and %s joined by TUN devices; a "
                 "forwarder (tests/bench/netlib.py) holds each packet %g ms"
                 " each way; MTU 1500" % (link.ns_a, link.ns_b, RTT_MS / 2))
    # pinpostd B (receiver), pinpostd A (sender)
    b = Pinpost(os.path.join(d, "pinpostd-b"), name="b", ns=link.ns_b)
    b.conf["listen"] = "%s:%d" % (ADDR_B, b.port)
    b.start()
    a = Pinpost(os.path.join(d, "pinpostd-a"), name="a", ns=link.ns_a,
                domains=("a.bench.test",))
    a.conf["route"] = "example.test [%s]:%d" % (ADDR_B, b.port)
    a.start()
    # Postfix B (receiver: STARTTLS and implicit TLS), Postfix A (sender)
    pb = Postfix(os.path.join(d, "postfix-b"), listen=ADDR_B,
                 ns=link.ns_b, domains=("cold.test", "warm.test",
                                        "wrap.test"),
                 smtpd=(("", ""), ("wrap", "smtpd_tls_wrappermode=yes")))
    pb.start()
    # Postfix A without a TLS session cache (tlsmgr decides for every
    # smtp process, so -o per transport cannot turn it off): full
    # handshakes, STARTTLS and implicit TLS; Postfix A2 with the cache:
    # the repeat delivery resumes
    pa = Postfix(os.path.join(d, "postfix-a"), listen="127.0.0.1",
                 ns=link.ns_a, domains=("a.bench.test",),
                 extra_main={
                     "relay_domains": "cold.test wrap.test",
                     "transport_maps": "inline:{cold.test=smtp:[%s]:%d, "
                     "wrap.test=smtp-wrap:[%s]:%d}" % (
                         ADDR_B, pb.ports[0], ADDR_B, pb.ports[1]),
                     "smtp_tls_security_level": "may",
                     "smtp_tls_session_cache_database": "",
                     "smtp_connection_cache_on_demand": "no"},
                 master_extra=(
                     "smtp-wrap unix - - n - - smtp\n"
                     "  -o smtp_tls_wrappermode=yes\n"
                     "  -o smtp_tls_security_level=encrypt\n"))
    pa.start()
    pa2 = Postfix(os.path.join(d, "postfix-a2"), listen="127.0.0.1",
                  ns=link.ns_a, domains=("a2.bench.test",),
                  extra_main={
                      "relay_domains": "warm.test",
                      "transport_maps": "inline:{warm.test=smtp:[%s]:%d}"
                      % (ADDR_B, pb.ports[0]),
                      "smtp_tls_security_level": "may",
                      "smtp_tls_session_cache_database":
                          "btree:${data_directory}/smtp_scache",
                      "smtp_connection_cache_on_demand": "no"})
    pa2.start()
    pcap = os.path.join(d, "link.pcapng")
    cap_args = ["ip", "netns", "exec", link.ns_a, "dumpcap", "-q", "-i",
                link.dev, "-f", "tcp", "-w", pcap]
    note_cmd("item 3 capture", cap_args)
    cap = subprocess.Popen(cap_args, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, start_new_session=True)
    CLEANUP.append(lambda: lib.stop_group(cap))
    time.sleep(1.5)
    if cap.poll() is not None:
        raise lib.Failed("dumpcap did not start")
    seq = []        # (row key, server port) in delivery order
    store_names = []

    def deliver_pinpost(key):
        n = b.delivered()
        ns_submit(link.ns_a, a.port, RCPT)
        wait_until(lambda: b.delivered() > n, 30, "pinpost delivery")
        seq.append((key, b.port))
        time.sleep(4 * RTT_MS / 1000)

    def deliver_postfix(key, dom, port):
        n = pb.delivered(dom)
        ns_submit(link.ns_a, (pa2 if dom == "warm.test" else pa).port,
                  "alice@" + dom)
        wait_until(lambda: pb.delivered(dom) > n, 60, "postfix delivery")
        seq.append((key, port))
        time.sleep(4 * RTT_MS / 1000)

    for r in range(RUNS):
        log("item 3: run %d/%d" % (r + 1, RUNS))
        # forget what A learned of B: the next delivery is to an unknown
        # peer
        if not store_names:
            pass
        for name in store_names:
            lib.run([os.path.join(BUILD, "pinpost"), "-s", a.p.store,
                     "pins", "forget", name], check=False)
        deliver_pinpost("pp-unknown")
        if not store_names:
            out = lib.run([os.path.join(BUILD, "pinpost"), "-s", a.p.store,
                           "pins", "list"], check=False).out
            store_names.extend(re.findall(r"(\[[^\]]+\]:\d+|\S+\.test)",
                                          out)[:1])
            note_cmd("item 3 forget", [os.path.join(BUILD, "pinpost"), "-s",
                                       a.p.store, "pins", "forget",
                                       store_names[0] if store_names
                                       else "?"])
        deliver_pinpost("pp-known")
        deliver_pinpost("pp-known-again")
        deliver_postfix("pf-cold", "cold.test", pb.ports[0])
        deliver_postfix("pf-warm", "warm.test", pb.ports[0])
        deliver_postfix("pf-warm", "warm.test", pb.ports[0])
        deliver_postfix("pf-wrap", "wrap.test", pb.ports[1])
    time.sleep(0.5)
    os.kill(cap.pid, signal.SIGINT)
    try:
        cap.wait(10)
    except subprocess.TimeoutExpired:
        lib.stop_group(cap)
    pkts = netlib.tshark_fields(pcap, decode_as=(
        "tcp.port==%d,smtp" % b.port, "tcp.port==%d,smtp" % pb.ports[0],
        "tcp.port==%d,tls" % pb.ports[1]))
    note_cmd("item 3 analysis", ["tshark", "-r", pcap, "-d",
                                 "tcp.port==%d,smtp" % b.port, "-T",
                                 "fields", "-e", "frame.time_epoch", "-e",
                                 "ip.src", "-e", "tcp.stream", "..."])
    by_port = {p: netlib.streams(pkts, p) for p in
               (b.port, pb.ports[0], pb.ports[1])}
    used = {p: 0 for p in by_port}
    got = {}
    rtt = RTT_MS / 1000
    for key, port in seq:
        conns = by_port[port]
        if used[port] >= len(conns):
            raise lib.Failed("capture holds fewer connections than "
                             "deliveries on port %d" % port)
        c = conns[used[port]]
        used[port] += 1
        got.setdefault(key, []).append(netlib.round_trips(c, ADDR_A, rtt))
    resumed = {k: sum(1 for x in v if x["resumed"]) for k, v in got.items()}
    offered = {k: sum(1 for x in v if x["psk_offered"])
               for k, v in got.items()}
    waits = {k: [x["waits"] for x in v] for k, v in got.items()}
    walls = {k: [x["wall"] * 1000 for x in v] for k, v in got.items()}
    # pf-warm holds two deliveries per run: the second is the repeat
    warm = got.get("pf-warm", [])
    waits["pf-warm"] = [x["waits"] for x in warm[1::2]]
    walls["pf-warm"] = [x["wall"] * 1000 for x in warm[1::2]]
    resumed["pf-warm"] = sum(1 for x in warm[1::2] if x["resumed"])
    offered["pf-warm"] = sum(1 for x in warm[1::2] if x["psk_offered"])
    rows = (("pp-unknown", "pinpostd -> pinpostd, unknown peer (EHLO, "
             "STARTTLS, EHLO)"),
            ("pp-known", "pinpostd -> pinpostd, known peer (STARTTLS on "
             "connect)"),
            ("pp-known-again", "pinpostd -> pinpostd, known peer, repeat "
             "(session resumption if the client offers it)"),
            ("pf-cold", "Postfix -> Postfix STARTTLS, no session cache"),
            ("pf-warm", "Postfix -> Postfix STARTTLS, repeat (session "
             "cache)"),
            ("pf-wrap", "Postfix -> Postfix implicit TLS (wrapper mode)"))
    for key, case in rows:
        if key not in waits:
            continue
        n = len(waits[key])
        note = ("wall %s ms = %.1f RTT; TLS resumed in %d/%d (PSK offered "
                "in %d)" % (fmt(med(walls[key])), med(walls[key]) / RTT_MS,
                            resumed[key], n, offered[key]))
        if key.startswith("pp"):
            row(3, case, [float(x) for x in waits[key]], "RTT",
                "Postfix -> Postfix STARTTLS", [float(x) for x in
                                                 waits["pf-cold"]],
                "implicit TLS", [float(x) for x in waits["pf-wrap"]],
                note=note, invert=True)
        else:
            row(3, case, [float(x) for x in waits[key]], "RTT",
                "implicit TLS", [float(x) for x in waits["pf-wrap"]],
                note=note, invert=True)
    ITEM3["waits"], ITEM3["walls"], ITEM3["resumed"] = waits, walls, resumed
    ITEM3["offered"] = offered
    for s in (a, b):
        s.stop()
    for s in (pa, pa2, pb):
        s.stop()
    link.close()


ITEM3 = {}


# ---------------------------------------------------------------------
# item 4: memory per idle connection

HOLD = r'''
import socket, ssl, sys
host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
marks = [int(x) for x in sys.argv[4].split(",")]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
held = []
def reply(f):
    while True:
        line = f.readline()
        if len(line) < 4:
            raise SystemExit("lost: %r" % line)
        if line[3:4] == b" ":
            return int(line[:3])
def one():
    s = socket.create_connection((host, port))
    f = s.makefile("rb")
    assert reply(f) == 220
    s.sendall(b"EHLO hold.bench.test\r\n")
    assert reply(f) == 250
    if mode == "tls":
        s.sendall(b"STARTTLS\r\n")
        assert reply(f) == 220
        s = ctx.wrap_socket(s)
        f = s.makefile("rb")
        s.sendall(b"EHLO hold.bench.test\r\n")
        assert reply(f) == 250
    held.append((s, f))
for m in marks:
    while len(held) < m:
        one()
    print("held %d" % len(held), flush=True)
    sys.stdin.readline()
'''


def hold(port, mode, marks, on_mark, what):
    args = [sys.executable, "-c", HOLD, "127.0.0.1", str(port), mode,
            ",".join(str(m) for m in marks)]
    note_cmd(what, [sys.executable, "-c", "<HOLD: tests/bench/bench.py>"]
             + args[3:])
    p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         preexec_fn=raise_nofile(65536))
    try:
        for m in marks:
            line = p.stdout.readline().decode()
            if line.strip() != "held %d" % m:
                raise lib.Failed("holder: %r" % line)
            time.sleep(0.3)
            on_mark(m)
            p.stdin.write(b"\n")
            p.stdin.flush()
    finally:
        p.stdin.close()
        try:
            p.wait(60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def item4():
    log("item 4: memory per idle connection")
    d = os.path.join(WORK, "item4")
    top = max(CONNS)
    res = {}
    pf_res = {}
    pf_n = 100
    for r in range(RUNS):
        log("item 4: run %d/%d" % (r + 1, RUNS))
        for mode in ("plain", "tls"):
            pp = Pinpost(os.path.join(d, "pinpostd-%d-%s" % (r, mode)),
                         name="mem", nofile=top + 1000,
                         max_connections=100000,
                         max_connections_per_ip=100000)
            pp.start()
            # warm up (OpenSSL's lazy set-up, the allocator's first
            # arenas), then the baseline
            hold(pp.port, mode, [20], lambda m: None, "item 4 warm-up")
            time.sleep(0.3)
            base = proc_rss_kib(pp.pid)

            def mark(m, pp=pp, base=base, mode=mode):
                res.setdefault((mode, m), []).append(
                    (proc_rss_kib(pp.pid) - base) / m)
            hold(pp.port, mode, CONNS, mark,
                 "item 4 hold pinpostd %s" % mode)
            pp.stop()
            # the peer: Postfix smtpd, a process per connection
            pf = Postfix(os.path.join(d, "postfix-%d-%s" % (r, mode)),
                         extra_main={"default_process_limit":
                                     str(pf_n + 50)})
            pf.start()
            hold(pf.port, mode, [2], lambda m: None, "item 4 warm-up pf")
            time.sleep(1)

            def pss_all(pf=pf):
                pid = pf.master_pid()
                return sum(proc_pss_kib(p) for p in [pid] +
                           children_of(pid))
            pbase = pss_all()

            def pmark(m, pf=pf, pbase=pbase, mode=mode):
                pf_res.setdefault(mode, []).append((pss_all() - pbase) / m)
            hold(pf.port, mode, [pf_n], pmark,
                 "item 4 hold Postfix %s" % mode)
            pf.stop()
    for mode in ("plain", "tls"):
        for m in CONNS:
            v = res[(mode, m)]
            row(4, "RSS per idle %s connection at %d connections" % (
                "plaintext" if mode == "plain" else "TLS (after STARTTLS "
                "and EHLO)", m), v, "KiB",
                "Postfix smtpd (PSS at %d)" % pf_n, pf_res[mode],
                "target 64 KiB" if mode == "tls" else "",
                [64.0] * len(v) if mode == "tls" else None,
                note="pinpostd VmRSS delta / connections; Postfix: PSS "
                     "of master and children, delta / connections",
                invert=True)


# ---------------------------------------------------------------------
# item 5: pin store

def item5():
    log("item 5: pin store, %d hosts" % HOSTS)
    d = os.path.join(WORK, "item5")
    os.makedirs(d, exist_ok=True)
    args = [STORE_BENCH, d, str(HOSTS), str(min(HOSTS, 10000)),
            str(int(5000 * SCALE)), str(int(200 * SCALE)), str(RUNS)]
    wall, cpu, rc, out = run_timed(args, what="item 5 bench_store")
    if rc != 0:
        raise lib.Failed("bench_store failed")
    j = json.loads(out)
    ITEM5.update(j)
    n = len(j["lookups_per_s"])
    row(5, "lookups/s, %d hosts (stsec_store_get_host)" % j["hosts"],
        j["lookups_per_s"], "/s", "raw tdb_fetch, same file",
        j["raw_lookups_per_s"], "tdb sized for the records (131071 "
        "chains)", j["sized_lookups_per_s"],
        note="store opened (tdb_check included) in %.1f ms" %
        (j["open_s"] * 1000))
    row(5, "updates/s (stsec_store_update, durable transaction)",
        j["updates_per_s"], "/s", "raw tdb transaction (fetch, decode, "
        "encode, store), same file", j["raw_updates_per_s"],
        "the same in a tdb sized for the records", j["sized_updates_per_s"],
        note="tdb syncs 4 times per commit (fdatasync + msync each); a "
        "durable small-file write (fsync, rename, fsync dir) ran at %s/s; "
        "first %d hosts inserted through the API in %.2f s (%s/s, not "
        "synced)" % (fmt(med(j["fsync_writes_per_s"])), j["api_fill_hosts"],
                     j["api_fill_s"],
                     fmt(j["api_fill_hosts"] / j["api_fill_s"])))
    row(5, "file size, %d hosts" % j["hosts"], [j["file_bytes"] / 1048576]
        * n, "MiB", "key + record bytes", [j["payload_bytes"] / 1048576] * n,
        "tdb sized for the records", [j["sized_file_bytes"] / 1048576] * n,
        note="%.0f bytes per host" % (j["file_bytes"] / j["hosts"]),
        invert=True)


ITEM5 = {}


# ---------------------------------------------------------------------
# profiles of missed targets

def profile(what, pid, seconds, load):
    """perf record -g on pid while load() runs; perf report's shares by
    DSO and its top symbols."""
    if not PROFILE or not shutil.which("perf"):
        return None
    data = os.path.join(WORK, "perf-%s.data" % re.sub(r"\W", "", what))
    args = ["perf", "record", "-F", "999", "-g", "-p", str(pid), "-o", data,
            "--", "sleep", str(seconds)]
    note_cmd("profile " + what, args)
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    try:
        load()
    finally:
        p.wait(seconds + 30)
    out = []
    for sort, limit, n in (("dso", "3", 6), ("dso,symbol", "1.5", 14)):
        rep = subprocess.run(["perf", "report", "-i", data, "--stdio",
                              "--no-children", "--sort", sort,
                              "--percent-limit", limit, "-g", "none"],
                             capture_output=True, text=True, timeout=120)
        lines = [re.sub(r"\s+-\s+-\s*$", "", l.rstrip())
                 for l in rep.stdout.splitlines()
                 if l.strip() and not l.startswith("#")]
        out += lines[:n] + [""]
    return out


def thread_cpu(pid):
    """tid -> utime + stime seconds, for every thread of pid."""
    out = {}
    for t in glob.glob("/proc/%d/task/*/stat" % pid):
        f = lib.read_text(t).rsplit(")", 1)[1].split()
        if len(f) > 12:
            out[t.split("/")[4]] = (int(f[11]) + int(f[12])) / CLK
    return out


def fsync_trace(pp, n):
    """strace -f -T of pinpostd's fsyncs while n 1 KiB messages are
    accepted and delivered at 20 sessions: per message, the count and the
    time in fsync/fdatasync; how busy the thread that makes them is (CPU +
    fsync time over the wall time) and the CPU share of the others."""
    if not shutil.which("strace"):
        return None
    d = os.path.dirname(pp.p.conf_path)
    out = os.path.join(d, "strace.txt")
    sargs = ["strace", "-f", "--seccomp-bpf", "-T", "-e",
             "trace=fsync,fdatasync", "-p", str(pp.pid), "-o", out]
    note_cmd("fsync trace (20 sessions, 1 KiB)", sargs)
    sp = subprocess.Popen(sargs, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    m0 = pp.delivered()
    c0 = thread_cpu(pp.pid)
    t0 = time.monotonic()
    run_timed(["smtp-source", "-4", "-s", "20", "-m", str(n), "-l", "1024",
               "-f", SENDER, "-t", RCPT, "-M", "loader.bench.test",
               "127.0.0.1:%d" % pp.port])
    wait_until(lambda: pp.delivered() >= m0 + n, 60, "deliveries")
    wall = time.monotonic() - t0
    c1 = thread_cpu(pp.pid)
    sp.send_signal(signal.SIGINT)
    sp.wait(30)
    calls, secs, tids = 0, 0.0, {}
    for line in lib.read_text(out).splitlines():
        # a call another thread interrupted is two lines: "fsync(5
        # <unfinished ...>", then "<... fsync resumed>) = 0 <0.000123>"
        m = re.match(r"(\d+)\s+(?:f(?:data)?sync\(|<\.\.\. f(?:data)?sync "
                     r"resumed>).*<([\d.]+)>$", line)
        if m:
            calls += 1
            secs += float(m.group(2))
            tids[m.group(1)] = tids.get(m.group(1), 0) + 1
    # the disk threads (queue_workers): every thread that fsyncs; their
    # CPU and fsync time are summed, so with several they may pass 100%
    workers = set(tids)
    cpu = {t: c1[t] - c0.get(t, 0) for t in c1}
    res = {"per_msg": calls / n, "ms_per_msg": 1000 * secs / n,
           "threads": len(tids), "rate": n / wall,
           "worker_cpu": sum(v for t, v in cpu.items() if t in workers)
           / wall,
           "worker_fsync": secs / wall,
           "others_cpu": sum(v for t, v in cpu.items() if t not in workers)
           / wall}
    # a second pass without strace: the disk threads' states, sampled
    if workers:
        states = {}
        stop = []
        paths = ["/proc/%d/task/%s/stat" % (pp.pid, w) for w in workers]

        def sample():
            while not stop:
                for path in paths:
                    st = lib.read_text(path).rsplit(")", 1)[-1].split()[:1]
                    if st:
                        states[st[0]] = states.get(st[0], 0) + 1
                time.sleep(0.0005)
        th = threading.Thread(target=sample)
        m0 = pp.delivered()
        th.start()
        run_timed(["smtp-source", "-4", "-s", "20", "-m", str(n), "-l",
                   "1024", "-f", SENDER, "-t", RCPT, "-M",
                   "loader.bench.test", "127.0.0.1:%d" % pp.port])
        wait_until(lambda: pp.delivered() >= m0 + n, 60, "deliveries")
        stop.append(1)
        th.join()
        tot = sum(states.values()) or 1
        res["states"] = {k: v / tot for k, v in states.items()}
    return res


def profiles():
    out = {}
    d = os.path.join(WORK, "profile")
    pp = Pinpost(os.path.join(d, "pinpostd")).start()
    out["fsync"] = fsync_trace(pp, int(200 * SCALE))

    def load2():
        run_timed([LOADER, "-T", "starttls", "-H", "-s", "2", "-m",
                   "100000000", "-t", "4", "127.0.0.1:%d" % pp.port])
    out["handshake"] = profile("STARTTLS handshakes (ECDSA)", pp.pid, 4,
                               load2)
    pp.stop()
    return out


# ---------------------------------------------------------------------
# report

def machine():
    cpu = re.search(r"model name\s*:\s*(.*)", lib.read_text(
        "/proc/cpuinfo"))
    mem = re.search(r"MemTotal:\s+(\d+)", lib.read_text("/proc/meminfo"))
    vers = {
        "pinpostd": lib.run(["git", "-C", os.path.join(HERE, "..", ".."),
                             "describe", "--always", "--dirty"],
                            check=False).out.strip(),
        "Postfix": lib.run(["postconf", "-d", "-h", "mail_version"],
                           check=False).out.strip(),
        "OpenSSL": lib.run(["openssl", "version"]).out.strip(),
        "libevent": lib.run(["pkg-config", "--modversion", "libevent"],
                            check=False).out.strip(),
        "tdb": lib.run(["pkg-config", "--modversion", "tdb"],
                       check=False).out.strip(),
        "tshark": (lib.run(["tshark", "--version"], check=False).out
                   .splitlines() or ["?"])[0],
        "Python": platform.python_version(),
        "cc": (lib.run(["cc", "--version"], check=False).out.splitlines()
               or ["?"])[0],
    }
    fs = lib.run(["df", "-T", WORK], check=False).out.splitlines()
    return {
        "nproc": os.cpu_count(), "cpu": cpu.group(1) if cpu else "?",
        "mem_gib": int(mem.group(1)) / 1048576 if mem else 0,
        "kernel": platform.release(), "load": os.getloadavg(),
        "fs": fs[-1].split()[1] if len(fs) > 1 else "?",
        "versions": vers}


def table():
    head = ("| # | measure | value | peer | peer value | ratio "
            "median [min, max] | 2nd peer | value | ratio [min, max] | "
            "notes |")
    out = [head, "|" + "---|" * 10]
    for r in ROWS:
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            r["item"], r["case"], r["value"], r["peer"], r["peer_value"],
            r["ratio"], r["peer2"], r["peer2_value"], r["ratio2"],
            r["note"]))
    return "\n".join(out)


def targets():
    """One line per target of the issue: the ratio reached."""
    out = []

    def find(item, pred):
        return [r for r in ROWS if r["item"] == item and pred(r["case"])]
    rs = find(1, lambda c: "20 sessions" in c)
    if rs:
        worst = []
        for r in rs:
            rat = [a / b for a, b in zip(r["mine"], r["peer_vals"]) if b]
            worst.append((med(rat), r["case"]))
        ok = all(x[0] >= 2 for x in worst)
        out.append("- Accept throughput >= 2x Postfix at 20 sessions: %s "
                   "(median ratios %s)." % (
                       "met" if ok else "MISSED",
                       ", ".join("%.2f (%s)" % x for x in worst)))
    rs = find(2, lambda c: "full" in c)
    if rs:
        rat = ["%.0f%% (%s)" % (100 * med([a / b for a, b in zip(
            r["mine"], r["peer_vals"])]), r["case"].split(", ", 1)[1])
            for r in rs]
        ok = all(med([a / b for a, b in zip(r["mine"], r["peer_vals"])])
                 >= 0.8 for r in rs)
        out.append("- STARTTLS handshakes >= 80%% of the openssl ceiling "
                   "per core: %s (%s of s_server's handshakes per "
                   "CPU-second)." % ("met" if ok else "MISSED",
                                     "; ".join(rat)))
    if ITEM3:
        w = ITEM3["waits"]
        if "pp-known" in w and "pf-cold" in w:
            diff = med(w["pf-cold"]) - med(w["pp-known"])
            diffw = med(w["pf-warm"]) - med(w["pp-known"]) \
                if w.get("pf-warm") else float("nan")
            out.append("- Known-peer delivery at least one RTT faster than "
                       "Postfix -> Postfix STARTTLS: %s (%.1f RTT fewer "
                       "than Postfix without a session cache, %.1f fewer "
                       "than Postfix resuming its session)." % (
                           "met" if diff >= 1 and diffw >= 1 else "MISSED",
                           diff, diffw))
        if ITEM3["offered"].get("pp-known-again", 0) == 0:
            out.append("- Session resumption for known peers: pinpostd's "
                       "delivery client offered no TLS session (no PSK in "
                       "its ClientHello) on any repeat delivery: it does "
                       "not resume sessions.")
    rs = find(4, lambda c: "TLS" in c)
    if rs:
        vals = ["%s KiB at %s" % (r["value"].split()[0],
                                  r["case"].rsplit(" at ", 1)[1])
                for r in rs]
        ok = all(med(r["mine"]) <= 64 for r in rs)
        out.append("- <= 64 KiB per idle TLS connection: %s (%s)." % (
            "met" if ok else "MISSED", "; ".join(vals)))
    return out


def write_results(m, t_total, prof):
    cmds = "\n".join("    %s:\n        %s" % (k, v)
                     for k, v in COMMANDS.items())
    v = m["versions"]
    text = ["# pinpost benchmarks (generated by `make bench`)", "",
            "Generated by tests/bench/bench.py; do not edit.  Every ratio "
            "is value / peer value (the row's subject over its peer), "
            "computed per run, then median [min, max] "
            "over %d runs.  For round trips, memory and file size "
            "smaller is better and the ratio is inverted (peer value / "
            "value), so everywhere a ratio above 1 means the row's subject "
            "did better than its peer." % RUNS, "",
            "## Machine", "",
            "- %d CPUs (`nproc`), %s, %.1f GiB RAM, kernel %s, %s file "
            "system; load average at the start %.2f %.2f %.2f (the "
            "machine is shared)" % (
                m["nproc"], m["cpu"], m["mem_gib"], m["kernel"], m["fs"],
                *m["load"]),
            "- pinpost %s; Postfix %s; %s; libevent %s; tdb %s; %s; "
            "Python %s; %s" % (v["pinpostd"], v["Postfix"], v["OpenSSL"],
                               v["libevent"], v["tdb"], v["tshark"],
                               v["Python"], v["cc"]),
            "- `make bench` took %.0f s (BENCH_RUNS=%d BENCH_SCALE=%g; %s)"
            % (t_total, RUNS, SCALE, ", ".join(ELAPSED)), "",
            "## Results", "", table(), "",
            "## Targets (issue 9)", ""] + targets() + [""]
    if prof:
        text += ["## Profiles", ""]
        f = prof.get("fsync")
        if f:
            text += ["Accept path (20 sessions, 1 KiB, accepted and "
                     "delivered to the Maildir, %.0f msg/s under strace "
                     "-f -T): pinpostd makes %.1f fsync/fdatasync calls "
                     "per message (%.2f ms per message), from %d "
                     "thread(s).  Those threads (the disk workers: queue "
                     "commit and Maildir delivery; summed, so several "
                     "may pass 100%%) were on CPU %.0f%% and in "
                     "fsync %.0f%% of the wall time (%.0f%% busy); the "
                     "other threads (the event loop) used %.0f%% CPU." % (
                         f["rate"], f["per_msg"], f["ms_per_msg"],
                         f["threads"], 100 * f["worker_cpu"],
                         100 * f["worker_fsync"],
                         100 * (f["worker_cpu"] + f["worker_fsync"]),
                         100 * f["others_cpu"])]
            if f.get("states"):
                text[-1] += ("  Without strace, the disk threads' states "
                             "sampled every 0.5 ms: %s (R running, D in "
                             "disk wait, S waiting for a job)." % ", ".join(
                                 "%s %.0f%%" % (k, 100 * v) for k, v in
                                 sorted(f["states"].items())))
            text.append("")
        if prof.get("handshake"):
            text += ["pinpostd on-CPU profile, STARTTLS handshakes, ECDSA "
                     "P-256 (perf record -g; self time by DSO, then by "
                     "symbol):", "",
                     "    " + "\n    ".join(prof["handshake"]), ""]
    if NOTES:
        text += ["## Notes", ""] + ["- " + n for n in NOTES] + [""]
    text += ["## Commands", "",
             "Ports are those of this run; each measure's first run:", "",
             cmds, ""]
    with open(RESULTS, "w") as f:
        f.write("\n".join(text))
    return text


def snapshot():
    """Copies the binaries into the working directory and runs those: a
    build directory shared with others may be rebuilt during a run."""
    global BUILD, LOADER, STORE_BENCH
    d = os.path.join(WORK, "bin")
    os.makedirs(d)
    for src in (os.path.join(BUILD, "pinpostd"),
                os.path.join(BUILD, "pinpost"), LOADER, STORE_BENCH):
        shutil.copy2(src, d)
    NOTES.append("binaries copied from %s at the start and run from the "
                 "copies" % BUILD)
    BUILD = lib.BUILD = d
    LOADER = os.path.join(d, "loader")
    STORE_BENCH = os.path.join(d, "bench_store")


def main():
    t0 = time.monotonic()
    if os.path.isdir(WORK):
        shutil.rmtree(WORK)
    os.makedirs(WORK)
    os.chmod(WORK, 0o755)
    for exe in (LOADER, STORE_BENCH, os.path.join(BUILD, "pinpostd"),
                os.path.join(BUILD, "pinpost")):
        if not os.access(exe, os.X_OK):
            sys.exit("bench: %s not built (make bench builds it)" % exe)
    snapshot()
    m = machine()
    NOTES.append("item 2: a pinpostd connection is greeting, EHLO, "
                 "STARTTLS, handshake, EHLO, QUIT (tests/bench/loader.c "
                 "-H); an s_server one is the handshake and one HTTP GET "
                 "of a 3-byte file (s_time -www).  Server CPU is utime + "
                 "stime from /proc/PID/stat over the measure")
    NOTES.append("item 1: accepted messages / loader wall time; each "
                 "server delivers to Maildir meanwhile (pinpostd: local "
                 "Maildir; Postfix: virtual(8) Maildir); the next measure "
                 "starts when every message is in the Maildir.  "
                 "Durability: pinpostd fsyncs message, envelope and queue "
                 "directory before 250; Postfix fsyncs the queue file "
                 "(cleanup), not the directory")
    prof = None
    try:
        for i in ITEMS:
            t = time.monotonic()
            {1: item1, 2: item2, 3: item3, 4: item4, 5: item5}[i]()
            ELAPSED.append("item %d %.0f s" % (i, time.monotonic() - t))
        if PROFILE:
            log("profiles")
            t = time.monotonic()
            prof = profiles()
            ELAPSED.append("profiles %.0f s" % (time.monotonic() - t))
    finally:
        while CLEANUP:
            f = CLEANUP.pop()
            try:
                f()
            except Exception as e:      # keep stopping the rest
                log("cleanup: %s" % e)
    if not KEEP:
        shutil.rmtree(WORK, ignore_errors=True)
    text = write_results(m, time.monotonic() - t0, prof)
    print("\n".join(text[text.index("## Results"):text.index(
        "## Commands")]))
    print("bench: wrote %s" % RESULTS)


if __name__ == "__main__":
    main()
