"""pinpost send, sendmail mode and pinpost queue, against a real pinpostd.

Each test that needs a server starts its own pinpostd (the `mta` fixture
below, independent of conftest.py's smtpd factory) on a free loopback
port: local domain example.test with mailboxes alice and bob; mail for
elsewhere.test is relayed from 127.0.0.1 and so stays queued (when the
daemon knows `route`, it is routed to a closed local port, so every
attempt fails temporarily and the message stays).
"""
import glob
import os
import pwd
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import BUILD, run

EX_USAGE, EX_DATAERR, EX_UNAVAILABLE = 64, 65, 69
EX_TEMPFAIL, EX_CONFIG = 75, 78
SENDER = "sender@client.test"
ID_RE = r"[0-9a-f]{20}"


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def exe(name="pinpost"):
    path = os.path.abspath(os.path.join(BUILD, name))
    assert os.access(path, os.X_OK), "%s not built" % path
    return path


class Mta:
    """A pinpostd with its files under d."""

    def __init__(self, d):
        self.dir = str(d)
        os.makedirs(self.dir)
        self.port = free_port()
        self.spool = os.path.join(self.dir, "spool")
        self.mail = os.path.join(self.dir, "mail")
        self.conf = os.path.join(self.dir, "pinpost.conf")
        self.log_path = os.path.join(self.dir, "pinpostd.log")
        self.proc = None
        self.routed = False
        self._keys()
        self._write_conf()

    def _keys(self):
        k = lambda n: os.path.join(self.dir, n)
        run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-nodes", "-keyout", k("key.pem"),
             "-out", k("cert.pem"), "-days", "2", "-subj",
             "/CN=mx.example.test"], check=0)
        run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-out", k("backup-key.pem")], check=0)
        run(["openssl", "pkey", "-in", k("backup-key.pem"), "-pubout",
             "-out", k("backup-pub.pem")], check=0)

    def _write_conf(self):
        k = lambda n: os.path.join(self.dir, n)
        base = ("myhostname = mx.example.test\nuser =\nlog = stderr\n"
                "listen = 127.0.0.1:%d\nspool_dir = %s\nstore = %s\n"
                "tls_cert_file = %s\ntls_key_file = %s\n"
                "pkp_backup_pins = %s\n"
                "local_domains = example.test, mx.example.test\n"
                "maildir_root = %s\n"
                "mailboxes = alice@example.test, bob@example.test,"
                " alice@mx.example.test\n"
                % (self.port, self.spool, k("pins.tdb"), k("cert.pem"),
                   k("key.pem"), k("backup-pub.pem"), self.mail))
        # a daemon that delivers to other servers: make every attempt
        # fail temporarily (a closed port), so relay mail stays queued
        routed = base + "route = elsewhere.test [127.0.0.1]:%d\n" % free_port()
        with open(self.conf, "w") as f:
            f.write(routed)
        p = run([exe("pinpostd"), "-n", "-f", self.conf])
        if p.returncode == 0:
            self.routed = True
            return
        assert "route" in p.stdout + p.stderr, (p.stdout, p.stderr)
        with open(self.conf, "w") as f:
            f.write(base)

    def start(self):
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen([exe("pinpostd"), "-d", "-f", self.conf],
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=self.logf)
        deadline = time.monotonic() + 10
        while True:
            assert self.proc.poll() is None, self.log()
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                return self
            except OSError:
                assert time.monotonic() < deadline, self.log()
                time.sleep(0.05)

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.logf.close()

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def maildir(self, box, domain="example.test"):
        return sorted(glob.glob(os.path.join(self.mail, domain, box,
                                             "new", "*")))

    def wait_mail(self, box, n=1, timeout=10, domain="example.test"):
        deadline = time.monotonic() + timeout
        while len(self.maildir(box, domain)) < n:
            assert time.monotonic() < deadline, \
                "no mail for %s; log:\n%s" % (box, self.log())
            time.sleep(0.05)
        out = []
        for p in self.maildir(box, domain):
            with open(p, "rb") as f:
                out.append(f.read())
        return out

    def queued(self):
        return sorted(os.path.basename(p)[:-4] for p in
                      glob.glob(os.path.join(self.spool, "queue", "*.env")))


@pytest.fixture
def mta(tmp_path):
    m = Mta(tmp_path / "mta")
    m.start()
    yield m
    m.stop()
    assert "runtime error:" not in m.log()
    assert "AddressSanitizer" not in m.log()


def send(m, *args, input=b"", prog=None):
    """pinpost send -f CONF ARGS (or prog ARGS), stdin bytes."""
    cmd = [prog, *args] if prog else [exe(), "send", "-f", m.conf, *args]
    return subprocess.run(cmd, input=input, capture_output=True, timeout=60)


def queue(m, *args):
    return run([exe(), "queue", "-f", m.conf, *args])


def body_of(msg):
    return msg.split(b"\n\n", 1)[1]


def header_of(msg):
    return msg.split(b"\n\n", 1)[0] + b"\n"


# ------------------------------------------------------------------ send

def test_send_args_bare_lf_dots_with_i(mta):
    msg = (b"From: <sender@client.test>\nSubject: dots\n\nline one\n"
           b".\n..two dots\n.leading\nlast line")
    p = send(mta, "-F", SENDER, "-i", "alice@example.test", input=msg)
    assert p.returncode == 0, p.stderr
    got = mta.wait_mail("alice")[0]
    assert got.startswith(b"Return-Path: <sender@client.test>\n")
    assert b"\r" not in got
    # "." kept, dots not doubled or lost, a final line end added
    assert body_of(got) == b"line one\n.\n..two dots\n.leading\nlast line\n"
    assert b"Subject: dots\n" in header_of(got)


def test_send_dot_line_ends_input_without_i(mta):
    msg = b"Subject: dot ends\r\n\r\nbefore\r\n.\r\nafter\r\n"
    p = send(mta, "-F", SENDER, "alice@example.test", input=msg)
    assert p.returncode == 0, p.stderr
    assert body_of(mta.wait_mail("alice")[0]) == b"before\n"


def test_send_default_sender_and_added_from(mta):
    user = pwd.getpwuid(os.getuid()).pw_name
    p = send(mta, "alice", input=b"Subject: who\n\nhi\n")
    assert p.returncode == 0, p.stderr
    got = mta.wait_mail("alice", domain="mx.example.test")[0]
    # bare "alice" and the user get @myhostname; From: added
    assert got.startswith(b"Return-Path: <%s@mx.example.test>\n"
                          % user.encode())
    assert b"From: <%s@mx.example.test>\n" % user.encode() in got


def test_send_null_sender_mixed_line_ends(mta):
    p = send(mta, "-F", "<>", "alice@example.test",
             input=b"Subject: null\r\n\r\ncrlf\r\nbare\rcr\nlf\n")
    assert p.returncode == 0, p.stderr
    got = mta.wait_mail("alice")[0]
    assert got.startswith(b"Return-Path: <>\n")
    assert b"From:" not in got      # none added for the null sender
    assert body_of(got) == b"crlf\nbarecr\nlf\n"


def test_send_t_bcc_removed(mta):
    msg = (b'To: "Liddell, Alice" <alice@example.test>\n'
           b"Cc: undisclosed-recipients:;\n"
           b'Bcc: "Bob \\"the builder\\"" <bob@example.test>,\n'
           b" alice@example.test (again)\n"
           b"Subject: bcc\n\nsecret\n")
    p = send(mta, "-F", SENDER, "-t", input=msg)
    assert p.returncode == 0, p.stderr
    a = mta.wait_mail("alice")
    b = mta.wait_mail("bob")
    time.sleep(0.3)
    assert len(mta.maildir("alice")) == 1   # the duplicate went once
    for got in (a[0], b[0]):
        assert b"Bcc" not in got and b"builder" not in got
        assert b'To: "Liddell, Alice" <alice@example.test>\n' in got
        assert b"Cc: undisclosed-recipients:;\n" in got
        assert body_of(got) == b"secret\n"


def test_send_t_group_and_args(mta):
    msg = (b'To: team: "Smith, Al" <alice@example.test>, (c) bob@example.test'
           b" (Bob);\nSubject: group\n\nhello\n")
    p = send(mta, "-F", SENDER, "-t", "alice@example.test", input=msg)
    assert p.returncode == 0, p.stderr
    assert body_of(mta.wait_mail("alice")[0]) == b"hello\n"
    assert body_of(mta.wait_mail("bob")[0]) == b"hello\n"


def test_send_unknown_mailbox_69(mta):
    p = send(mta, "-F", SENDER, "alice@example.test", "nobody@example.test",
             input=b"Subject: x\n\nx\n")
    assert p.returncode == EX_UNAVAILABLE, p.stderr
    err = p.stderr.decode()
    assert "550 5.1.1" in err and "nobody@example.test" in err, err
    time.sleep(0.3)
    assert mta.maildir("alice") == []       # all or nothing
    assert mta.queued() == []


def test_send_server_down_75(mta, tmp_path):
    port = free_port()
    p = send(mta, "-S", "127.0.0.1:%d" % port, "-F", SENDER,
             "alice@example.test", input=b"Subject: x\n\nx\n")
    assert p.returncode == EX_TEMPFAIL, p.stderr
    assert b"127.0.0.1:%d" % port in p.stderr
    assert b"refused" in p.stderr


def test_send_input_errors(mta):
    p = send(mta, "-F", SENDER, "alice@example.test",
             input=b"Subject: long\n\n" + b"x" * 999 + b"\n")
    assert p.returncode == EX_DATAERR and b"line 3" in p.stderr, p.stderr
    p = send(mta, "-F", SENDER, "-t", input=b"Subject: none\n\nx\n")
    assert p.returncode == EX_DATAERR and b"no recipient" in p.stderr
    p = send(mta, "-F", SENDER, "-t", input=b'To: "open <a@b>\n\nx\n')
    assert p.returncode == EX_DATAERR and b"To:" in p.stderr, p.stderr
    p = send(mta, "-F", SENDER, input=b"x\n")
    assert p.returncode == EX_USAGE and b"usage" in p.stderr
    # no command smuggled in an address
    p = send(mta, "-F", SENDER, "alice@example.test\r\nRSET",
             input=b"x\n")
    assert p.returncode == EX_USAGE, p.stderr
    p = run([exe(), "send", "-f", mta.conf + ".missing", "alice@x"])
    assert p.returncode == EX_CONFIG and ".missing" in p.stderr
    time.sleep(0.2)
    assert mta.maildir("alice") == []


# -------------------------------------------------------------- sendmail

@pytest.fixture
def sendmail(tmp_path):
    d = tmp_path / "bin"
    d.mkdir()
    link = d / "sendmail"
    link.symlink_to(exe())
    return str(link)


def test_sendmail_mode(mta, sendmail):
    msg = b"Subject: via sendmail\n\nfirst\n.\nsecond\n"
    p = send(mta, "-C", mta.conf, "-f", SENDER, "-F", "Ann \"A\" Sender",
             "-oi", "-odi", "-bm", "alice@example.test", input=msg,
             prog=sendmail)
    assert p.returncode == 0, p.stderr
    got = mta.wait_mail("alice")[0]
    assert got.startswith(b"Return-Path: <sender@client.test>\n")
    assert b'From: "Ann \\"A\\" Sender" <sender@client.test>\n' in got
    assert body_of(got) == b"first\n.\nsecond\n"

    p = send(mta, "-C", mta.conf, "-f", SENDER, "-t", "-i", "-odb",
             input=b"To: bob@example.test\nFrom: x@y\n\nby -t\n",
             prog=sendmail)
    assert p.returncode == 0, p.stderr
    assert body_of(mta.wait_mail("bob")[0]) == b"by -t\n"


def test_sendmail_usage_and_refusal(mta, sendmail):
    for bad in (["-q"], ["-bp"], ["-oX"], ["-v", "alice@example.test"], []):
        p = send(mta, "-C", mta.conf, *bad, input=b"x\n", prog=sendmail)
        assert p.returncode == EX_USAGE, (bad, p.stderr)
        assert b"usage: sendmail" in p.stderr
    p = send(mta, "-C", mta.conf, "-f", SENDER, "nobody@example.test",
             input=b"x\n", prog=sendmail)
    assert p.returncode == EX_UNAVAILABLE
    assert p.stderr.startswith(b"sendmail: ") and b"550 5.1.1" in p.stderr


# ----------------------------------------------------------------- queue

def queue_relay(m, subject="relay"):
    """Sends one message to user@elsewhere.test; its queue ID."""
    before = set(m.queued())
    p = send(m, "-F", SENDER, "user@elsewhere.test",
             input=b"Subject: %s\nX-Test: yes\n\nthe body\n" % subject.encode())
    assert p.returncode == 0, p.stderr
    new = set(m.queued()) - before
    assert len(new) == 1, (new, m.log())
    return new.pop()


def wait_attempts(m, qid, n, timeout=10):
    """With a routed daemon: until the recipient has n attempts."""
    if not m.routed:
        return
    deadline = time.monotonic() + timeout
    while True:
        out = queue(m, "list").stdout
        got = re.search(r"attempts=(\d+)", out)
        if got and int(got.group(1)) >= n:
            return
        if time.monotonic() > deadline:
            return      # the retry policy is the daemon's business
        time.sleep(0.05)


def test_queue_list_show_delete(mta):
    qid = queue_relay(mta)
    wait_attempts(mta, qid, 1)
    p = queue(mta, "list")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[-1] == "1 message", p.stdout
    size = os.path.getsize(os.path.join(mta.spool, "queue", qid + ".msg"))
    m = re.fullmatch(r"(%s) (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) (\d+) "
                     r"<sender@client.test> <user@elsewhere.test> pending "
                     r"attempts=\d+ next=(now|\S+Z) last=(-|\S+)" % ID_RE,
                     lines[0])
    assert m, lines[0]
    assert m.group(1) == qid and int(m.group(3)) == size

    p = queue(mta, "show", qid)
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "id:           %s\n" % qid in out
    assert "sender:       <sender@client.test>\n" in out
    assert "rcpt:         <user@elsewhere.test>\n" in out
    assert "  state:      pending\n" in out
    assert "client:       [127.0.0.1]:" in out
    head = out.split("\n\n", 1)[1]
    assert "Subject: relay\nX-Test: yes\n" in head
    assert "Received:" in head and "the body" not in out and "\r" not in out

    p = queue(mta, "delete", qid)
    assert p.returncode == 0 and qid in p.stdout, p.stderr
    assert not glob.glob(os.path.join(mta.spool, "queue", qid + ".*"))
    assert queue(mta, "list").stdout == "0 messages\n"
    p = queue(mta, "show", qid)
    assert p.returncode == 1
    assert "no message %s in %s/queue" % (qid, mta.spool) in p.stderr


def test_queue_errors(mta, tmp_path):
    for cmd in (["show", "nothex"], ["delete", "ABC"], ["flush", "x" * 20],
                ["show", "0" * 19]):
        p = queue(mta, *cmd)
        assert p.returncode == 1, (cmd, p.stderr)
        assert "bad queue ID" in p.stderr
    p = queue(mta, "delete", "0" * 20)
    assert p.returncode == 1 and "no message 00000000000000000000" in p.stderr
    p = queue(mta, "flush", "0" * 20)
    assert p.returncode == 1 and "no message" in p.stderr
    missing = str(tmp_path / "nope.conf")
    p = run([exe(), "queue", "-f", missing, "list"])
    assert p.returncode == 1 and missing in p.stderr
    for cmd in ([], ["list", "x"], ["show"], ["frob"], ["flush", "a", "b"]):
        assert queue(mta, *cmd).returncode == 2, cmd
    # a spool without a queue: named, and not created
    conf = tmp_path / "empty.conf"
    conf.write_text("spool_dir = %s\n" % (tmp_path / "nospool"))
    p = run([exe(), "queue", "-f", str(conf), "list"])
    assert p.returncode == 1 and str(tmp_path / "nospool" / "queue") in p.stderr
    assert not (tmp_path / "nospool").exists()


# ----------------------------------------------------------------- flush

def test_queue_flush_daemon(mta):
    """With the daemon side (it writes spool/pinpostd.pid and reads the
    markers on SIGUSR1): the marker is consumed and the daemon logs it."""
    qid = queue_relay(mta, "flush me")
    pidfile = os.path.join(mta.spool, "pinpostd.pid")
    if not os.path.exists(pidfile):
        pytest.skip("this pinpostd writes no pid file (daemon side missing)")
    wait_attempts(mta, qid, 1)
    start = len(mta.log())
    p = queue(mta, "flush", qid)
    assert p.returncode == 0, p.stderr
    assert "%s: flush requested from pinpostd (pid %d)" % (qid, mta.proc.pid) \
        in p.stdout
    marker = os.path.join(mta.spool, "flush", qid)
    deadline = time.monotonic() + 10
    while os.path.exists(marker) or "flush:" not in mta.log()[start:]:
        assert time.monotonic() < deadline, mta.log()
        time.sleep(0.05)
    assert "flush: all=0 ids=1" in mta.log()[start:]
    p = queue(mta, "flush")
    assert p.returncode == 0 and "ALL: flush requested" in p.stdout
    deadline = time.monotonic() + 10
    while os.listdir(os.path.join(mta.spool, "flush")):
        assert time.monotonic() < deadline, mta.log()
        time.sleep(0.05)
    wait_attempts(mta, qid, 3)
    assert queue(mta, "delete", qid).returncode == 0


FAKE_DAEMON = r"""
import os, signal, sys, time
with open("/proc/self/comm", "w") as f:
    f.write("pinpostd")
flush, out = sys.argv[1], sys.argv[2]
def usr1(sig, frame):
    with open(out, "a") as f:
        names = sorted(os.listdir(flush)) if os.path.isdir(flush) else []
        f.write("USR1 %s\n" % " ".join(names))
signal.signal(signal.SIGUSR1, usr1)
print("ready", flush=True)
while True:
    time.sleep(0.05)
"""


@pytest.fixture
def fake_spool(tmp_path):
    """A spool (queue/ only) and a config, no daemon."""
    spool = tmp_path / "spool"
    (spool / "queue").mkdir(parents=True)
    conf = tmp_path / "fake.conf"
    conf.write_text("spool_dir = %s\n" % spool)
    return str(conf), str(spool)


def test_queue_flush_marker_and_signal(fake_spool, tmp_path):
    """The CLI side alone: a stand-in for pinpostd (a Python process
    named pinpostd) records SIGUSR1 and what spool/flush held then."""
    conf, spool = fake_spool
    rec = str(tmp_path / "signals")
    proc = subprocess.Popen([sys.executable, "-c", FAKE_DAEMON,
                             os.path.join(spool, "flush"), rec],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        with open(os.path.join(spool, "pinpostd.pid"), "w") as f:
            f.write("%d\n" % proc.pid)
        p = run([exe(), "queue", "-f", conf, "flush"])
        assert p.returncode == 0, p.stderr
        assert p.stdout == "ALL: flush requested from pinpostd (pid %d)\n" \
            % proc.pid
        deadline = time.monotonic() + 5
        while not os.path.exists(rec):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        with open(rec) as f:
            assert f.read() == "USR1 ALL\n"   # the marker, no temp file
        with open(os.path.join(spool, "flush", "ALL")) as f:
            assert f.read() == "ALL\n"
        assert os.stat(os.path.join(spool, "flush")).st_mode & 0o777 == 0o700
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


def test_queue_flush_not_running(fake_spool, tmp_path):
    conf, spool = fake_spool
    pidfile = os.path.join(spool, "pinpostd.pid")
    want = "pinpostd is not running (%s)" % pidfile
    p = run([exe(), "queue", "-f", conf, "flush"])
    assert p.returncode == 1 and want in p.stderr, p.stderr
    # a stale pid file: the process is gone
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with open(pidfile, "w") as f:
        f.write("%d\n" % dead.pid)
    p = run([exe(), "queue", "-f", conf, "flush"])
    assert p.returncode == 1 and want in p.stderr, p.stderr
    # a pid reused by another program: not signalled (SIGUSR1 kills it)
    other = subprocess.Popen(["sleep", "30"])
    try:
        with open(pidfile, "w") as f:
            f.write("%d\n" % other.pid)
        p = run([exe(), "queue", "-f", conf, "flush"])
        assert p.returncode == 1, p.stderr
        assert "pinpostd is not running (%s: pid %d is sleep)" \
            % (pidfile, other.pid) in p.stderr
        time.sleep(0.1)
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()
    with open(pidfile, "w") as f:
        f.write("garbage\n")
    p = run([exe(), "queue", "-f", conf, "flush"])
    assert p.returncode == 1 and "%s: not a pid file" % pidfile in p.stderr
    assert not os.path.exists(os.path.join(spool, "flush", "ALL"))
