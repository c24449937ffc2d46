"""Shared fixtures for pinpost's integration tests (Debian's python3 + pytest).

PINPOST_BUILD names the build directory (the Makefile sets it); the tests
run the real binaries built there, with real files in pytest's tmp_path.
"""
import os
import subprocess

import pytest

BUILD = os.environ.get("PINPOST_BUILD",
                       os.path.join(os.path.dirname(__file__), "..", "..",
                                    "build"))


def run(args, *, input=None, check=None):
    """Run a command; returns CompletedProcess with text stdout/stderr.

    check=0 (or any int) asserts that exit status."""
    p = subprocess.run(args, input=input, capture_output=True, text=True,
                       timeout=60)
    if check is not None:
        assert p.returncode == check, (args, p.returncode, p.stdout, p.stderr)
    return p


@pytest.fixture
def pinpost():
    exe = os.path.join(BUILD, "pinpost")
    assert os.access(exe, os.X_OK), f"{exe} not built"

    def call(*args, input=None, check=None):
        return run([exe, *args], input=input, check=check)
    return call


def openssl_pin(path, kind):
    """The oracle: the SPKI pin computed by the openssl command line."""
    if kind == "cert":
        spki = "openssl x509 -in '%s' -pubkey -noout" % path
    elif kind == "csr":
        spki = "openssl req -in '%s' -pubkey -noout" % path
    elif kind == "key":
        spki = "openssl pkey -in '%s' -pubout" % path
    else:
        spki = "cat '%s'" % path
    cmd = (spki + " | openssl pkey -pubin -outform der"
           " | openssl dgst -sha256 -binary | base64")
    out = subprocess.run(["bash", "-o", "pipefail", "-c", cmd],
                         capture_output=True, text=True, check=True).stdout
    pin = out.strip()
    assert len(pin) == 44, out
    return pin


@pytest.fixture(scope="session")
def keys(tmp_path_factory):
    """A P-256 and an RSA key pair, certificate, public key and CSR each."""
    d = tmp_path_factory.mktemp("keys")
    out = {}
    for name, alg in (("ec", ["-newkey", "ec", "-pkeyopt",
                              "ec_paramgen_curve:P-256"]),
                      ("rsa", ["-newkey", "rsa:2048"])):
        key, cert, csr, pub = (str(d / f"{name}.{x}")
                               for x in ("key", "crt", "csr", "pub"))
        run(["openssl", "req", "-x509", *alg, "-nodes", "-keyout", key,
             "-out", cert, "-days", "2", "-subj", f"/CN={name}.test"],
            check=0)
        run(["openssl", "req", "-new", "-key", key, "-out", csr,
             "-subj", f"/CN={name}.test"], check=0)
        run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub], check=0)
        out[name] = {"key": key, "cert": cert, "csr": csr, "pub": pub,
                     "pin": openssl_pin(cert, "cert")}
    return out


# ====================================================================
# pinpostd: a real server per test
# ====================================================================
#
# smtpd(**overrides) starts build/pinpostd -d -f CONF on a free loopback
# port with a fresh EC P-256 self-signed certificate, a backup key, and a
# spool, store and Maildir root under tmp_path; it returns a Server.  Every
# server a test starts is stopped (SIGTERM, then SIGKILL after 10 s) when
# the test ends, and the test fails if its log shows a sanitizer report or
# if it did not exit 0 after SIGTERM.

import errno
import glob
import signal
import socket
import ssl
import time

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:")
MAILBOXES = ("alice@example.test", "bob@example.test")


def free_port(*, also_v6=False):
    """A TCP port free on 127.0.0.1 (and on ::1 when also_v6)."""
    for _ in range(50):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        if not also_v6:
            return port
        try:
            s6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            s6.bind(("::1", port))
            s6.close()
            return port
        except OSError:
            continue
    raise RuntimeError("no free port")


def have_ipv6_loopback():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


def make_keys(d):
    """EC P-256 self-signed cert + key, and a backup key (private and
    public) in directory d; returns a dict of paths."""
    d = str(d)
    os.makedirs(d, exist_ok=True)
    k = {"cert": os.path.join(d, "cert.pem"),
         "key": os.path.join(d, "key.pem"),
         "backup_key": os.path.join(d, "backup-key.pem"),
         "backup_pub": os.path.join(d, "backup-pub.pem")}
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-nodes", "-keyout", k["key"],
         "-out", k["cert"], "-days", "2", "-subj", "/CN=mx.example.test"],
        check=0)
    run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-out", k["backup_key"]], check=0)
    run(["openssl", "pkey", "-in", k["backup_key"], "-pubout", "-out",
         k["backup_pub"]], check=0)
    return k


def client_ssl_context():
    """TLS client context with verification off (self-signed server)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Reply:
    def __init__(self, code, lines):
        self.code = code
        self.lines = lines          # texts after "ddd-" / "ddd "

    @property
    def text(self):
        return "\n".join(self.lines)

    def __repr__(self):
        return "Reply(%d, %r)" % (self.code, self.lines)


class SMTPClosed(Exception):
    pass


class Client:
    """A raw SMTP client over one socket: exact bytes out, replies in."""

    def __init__(self, host, port, *, timeout=10, source=None,
                 implicit_tls=False):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        if source is not None:
            self.sock.bind((source, 0))
        self.sock.connect((host, port))
        self.buf = b""
        self.tls = False
        if implicit_tls:
            self.wrap_tls()

    # -- bytes
    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def recv_some(self, timeout):
        """Bytes that arrive within timeout (b"" on EOF, None on none)."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except (socket.timeout, TimeoutError):
            return None
        except ssl.SSLWantReadError:
            return None
        finally:
            self.sock.settimeout(10)
        return data

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no complete reply; have %r" % self.buf)
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except (socket.timeout, TimeoutError):
            raise TimeoutError("no complete reply; have %r" % self.buf)
        except (ConnectionResetError, ssl.SSLEOFError):
            data = b""
        finally:
            self.sock.settimeout(10)
        if not data:
            raise SMTPClosed("connection closed; have %r" % self.buf)
        self.buf += data

    def reply(self, timeout=10):
        """One (possibly multi-line) reply."""
        deadline = time.monotonic() + timeout
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                self._fill(deadline)
            line, self.buf = self.buf.split(b"\r\n", 1)
            s = line.decode("utf-8", "replace")
            assert len(s) >= 3 and s[:3].isdigit(), "bad reply line %r" % s
            lines.append(s[4:])
            if len(s) == 3 or s[3] == " ":
                return Reply(int(s[:3]), lines)
            assert s[3] == "-", "bad reply line %r" % s

    def replies(self, n, timeout=10):
        return [self.reply(timeout) for _ in range(n)]

    def cmd(self, line, timeout=10):
        self.send(line + "\r\n")
        return self.reply(timeout)

    def expect_silence(self, seconds):
        """Nothing more arrives within seconds (the connection may stay
        open); returns what did arrive otherwise."""
        if self.buf:
            return self.buf
        data = self.recv_some(seconds)
        return data if data else None

    def at_eof(self, timeout=5):
        """True when the server closed the connection (no more bytes)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = self.recv_some(deadline - time.monotonic())
            except (ConnectionResetError, ssl.SSLEOFError, ssl.SSLError):
                return True
            if data == b"":
                return True
            if data is None:
                return False
            self.buf += data
        return False

    # -- SMTP
    def greeting(self):
        r = self.reply()
        assert r.code == 220, r
        return r

    def ehlo(self, name="client.example.test"):
        r = self.cmd("EHLO " + name)
        assert r.code == 250, r
        return r

    def wrap_tls(self, ctx=None):
        self.sock.settimeout(10)
        self.sock = (ctx or client_ssl_context()).wrap_socket(self.sock)
        self.tls = True

    def starttls(self):
        r = self.cmd("STARTTLS")
        assert r.code == 220, r
        assert not self.buf, "bytes after the 220: %r" % self.buf
        self.wrap_tls()
        return r

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def smtp_session(srv, **kw):
    """A raw client to srv past the greeting and EHLO."""
    c = srv.client(**kw)
    c.greeting()
    c.ehlo()
    return c


def ehlo_keywords(reply):
    """The EHLO reply's keyword lines (the greeting line dropped), each as
    (KEYWORD upper-case, params string)."""
    out = []
    for line in reply.lines[1:]:
        kw, _, params = line.partition(" ")
        out.append((kw.upper(), params))
    return out


class Server:
    def __init__(self, build, tmp, keys, overrides, *, name):
        self.build = build
        self.dir = tmp
        self.keys = keys
        self.name = name
        self.port = overrides.pop("_port", None) or free_port(
            also_v6=overrides.pop("_v6", False))
        self.host = overrides.pop("_host", None) or "127.0.0.1"
        self.verbose = overrides.pop("_verbose", False)
        self.spool = os.path.join(tmp, "spool")
        self.maildir_root = os.path.join(tmp, "mail")
        self.conf_path = os.path.join(tmp, "pinpost.conf")
        self.log_path = os.path.join(tmp, "pinpostd.log")
        self.conf = {
            "myhostname": "mx.example.test",
            "user": "",
            "log": "stderr",
            "listen": "%s:%d" % (self.host, self.port),
            "spool_dir": self.spool,
            "store": os.path.join(tmp, "pins.tdb"),
            "tls_cert_file": keys["cert"],
            "tls_key_file": keys["key"],
            "pkp_backup_pins": keys["backup_pub"],
            "local_domains": "example.test",
            "maildir_root": self.maildir_root,
            "mailboxes": ",".join(MAILBOXES),
            # relay mail never leaves loopback: a dead next hop and a
            # dead resolver keep it deferred in the queue
            "route": "* [127.0.0.1]:9",
            "dns_resolver": "127.0.0.1@9",
        }
        for k, v in overrides.items():
            if v is None:
                self.conf.pop(k, None)
            else:
                self.conf[k] = str(v).replace("{port}", str(self.port))
        self.proc = None
        self.expect_exit = 0
        self.write_conf()

    # -- config
    def write_conf(self, conf=None, extra=""):
        conf = self.conf if conf is None else conf
        with open(self.conf_path, "w") as f:
            f.write("# written by the integration tests\n")
            for k, v in conf.items():
                f.write("%s = %s\n" % (k, v))
            f.write(extra)

    # -- process
    @property
    def exe(self):
        return os.path.join(self.build, "pinpostd")

    def start(self, probe=True):
        self.logf = open(self.log_path, "ab")
        args = [self.exe, "-d"] + (["-v"] if self.verbose else [])
        self.proc = subprocess.Popen(args + ["-f", self.conf_path],
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=self.logf)
        if probe:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                pytest.fail("pinpostd exited with %s before accepting:\n%s"
                            % (self.proc.returncode, self.log()))
            try:
                c = Client(self.host, self.port, timeout=5)
            except OSError as e:
                if e.errno not in (errno.ECONNREFUSED, errno.EADDRNOTAVAIL):
                    raise
                if time.monotonic() > deadline:
                    pytest.fail("pinpostd not accepting after %ss:\n%s"
                                % (timeout, self.log()))
                time.sleep(0.02)
                continue
            # a full probe session, ended before the test starts counting
            try:
                c.greeting()
                assert c.cmd("QUIT").code == 221
                assert c.at_eof(5)
            finally:
                c.close()
            return

    def restart(self, **changes):
        """Stop (asserting exit 0), apply conf changes (None removes a
        parameter), start again on the same port, spool and store."""
        rc = self.stop()
        assert rc == 0, "pinpostd exit status %r; log:\n%s" % (rc,
                                                               self.log())
        for k, v in changes.items():
            if v is None:
                self.conf.pop(k, None)
            else:
                self.conf[k] = str(v)
        self.write_conf()
        return self.start()

    @property
    def pid(self):
        return self.proc.pid

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=10):
        """SIGTERM, wait; SIGKILL after timeout.  Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.logf.close()
                return "killed"
        self.logf.close()
        return self.proc.returncode

    # -- files
    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, text, timeout=10, start=0):
        """Poll the log until text appears (after offset start)."""
        deadline = time.monotonic() + timeout
        while True:
            log = self.log()
            if text in log[start:]:
                return log
            if time.monotonic() > deadline:
                pytest.fail("%r not in the log after %ss:\n%s"
                            % (text, timeout, log))
            time.sleep(0.02)

    def maildir(self, mailbox="alice", domain="example.test"):
        """Paths of the messages in maildir_root/domain/mailbox/new/."""
        d = os.path.join(self.maildir_root, domain, mailbox, "new")
        return sorted(glob.glob(os.path.join(d, "*")))

    def maildir_messages(self, mailbox="alice", domain="example.test"):
        out = []
        for p in self.maildir(mailbox, domain):
            with open(p, "rb") as f:
                out.append(f.read())
        return out

    def wait_maildir(self, n=1, mailbox="alice", timeout=10,
                     domain="example.test"):
        """Poll until the mailbox holds at least n messages; the paths."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.maildir(mailbox, domain)
            if len(got) >= n:
                return got
            if time.monotonic() > deadline:
                pytest.fail("%d message(s) in %s, wanted %d; log:\n%s"
                            % (len(got), mailbox, n, self.log()))
            time.sleep(0.02)

    def queue_files(self, ext="env"):
        return sorted(glob.glob(os.path.join(self.spool, "queue",
                                             "*." + ext)))

    # -- clients
    def client(self, **kw):
        return Client(kw.pop("host", self.host), kw.pop("port", self.port),
                      **kw)


@pytest.fixture
def smtpd(tmp_path, request):
    """Factory: smtpd(**conf_overrides) -> a started Server.

    Overrides are pinpost.conf parameters (None removes one, i.e. the
    default applies); _port=N picks the port, _v6=True a port free on ::1
    too, _host=ADDR another loopback address to listen on and probe,
    _verbose=True runs it with -v (debug lines: every command),
    _start=False only writes the config, _dir=PATH another
    directory (e.g. one that an unprivileged user can traverse)."""
    build = os.path.abspath(BUILD)
    assert os.access(os.path.join(build, "pinpostd"), os.X_OK), \
        "%s/pinpostd not built" % build
    servers = []

    def start(**overrides):
        start_it = overrides.pop("_start", True)
        base = overrides.pop("_dir", None) or str(tmp_path)
        d = os.path.join(base, "srv%d" % len(servers))
        os.makedirs(d)
        keys = make_keys(d)
        srv = Server(build, d, keys, overrides, name=request.node.name)
        servers.append(srv)
        if start_it:
            srv.start()
        return srv

    yield start

    problems = []
    for srv in servers:
        rc = srv.stop()
        log = srv.log()
        for mark in SANITIZER_MARKS:
            if mark in log:
                problems.append("%s: sanitizer report (%r) in the log:\n%s"
                                % (srv.dir, mark, log))
                break
        if srv.proc is not None and rc != srv.expect_exit:
            problems.append("%s: pinpostd exit status %r after SIGTERM "
                            "(wanted %r); log:\n%s"
                            % (srv.dir, rc, srv.expect_exit, log))
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


# --------------------------------------------------------------------
# message helpers

import re

QUEUED_RE = re.compile(r"queued as ([0-9A-Za-z]+)")


def make_message(subject, body="Hello.\r\n", sender="sender@client.test",
                 to="alice@example.test"):
    """A small RFC 5322 message with CRLF line ends, as bytes."""
    if isinstance(body, str):
        body = body.encode()
    return (("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\n"
             "Message-ID: <%s@client.test>\r\n\r\n")
            % (sender, to, subject, re.sub(r"\W", "", subject))).encode() \
        + body


def queued_id(text):
    if isinstance(text, bytes):
        text = text.decode()
    m = QUEUED_RE.search(text)
    assert m, "no queue id in %r" % text
    return m.group(1)


def smtplib_send(smtp, msg, sender="sender@client.test",
                 rcpts=("alice@example.test",)):
    """MAIL, RCPT..., DATA through an open smtplib.SMTP; the queue id."""
    code, resp = smtp.mail(sender)
    assert code == 250, (code, resp)
    for r in rcpts:
        code, resp = smtp.rcpt(r)
        assert code == 250, (r, code, resp)
    code, resp = smtp.data(msg)
    assert code == 250, (code, resp)
    return queued_id(resp)


def lf(data):
    return data.replace(b"\r\n", b"\n")


# ====================================================================
# a real DNS resolver on loopback, and a scriptable fake SMTP server
# ====================================================================

class Unbound:
    """unbound -d on 127.0.0.1:port answering only from local-data
    (every other name is refused; it never queries anything)."""

    def __init__(self, d, records):
        self.dir = str(d)
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.conf = os.path.join(self.dir, "unbound.conf")
        self.log_path = os.path.join(self.dir, "unbound.log")
        with open(self.conf, "w") as f:
            f.write("server:\n\tverbosity: 1\n\tuse-syslog: no\n"
                    "\tlogfile: \"%s\"\n\tpidfile: \"%s/unbound.pid\"\n"
                    "\tdirectory: \"%s\"\n\tusername: \"\"\n\tchroot: \"\"\n"
                    "\tdo-daemonize: no\n\tinterface: 127.0.0.1\n"
                    "\tport: %d\n\tdo-ip6: no\n\tnum-threads: 1\n"
                    "\tso-reuseport: no\n"
                    "\taccess-control: 127.0.0.0/8 allow\n"
                    "\tmodule-config: \"iterator\"\n"
                    "\tdo-not-query-address: 0.0.0.0/0\n"
                    "\tdo-not-query-address: ::/0\n"
                    "\tlocal-zone: \".\" refuse\n"
                    "\tlocal-zone: \"test.\" static\n"
                    % (self.log_path, self.dir, self.dir, self.port))
            for r in records:
                f.write("\tlocal-data: \"%s\"\n" % r)
            f.write("remote-control:\n\tcontrol-enable: no\n")
        self.out = open(os.path.join(self.dir, "unbound.out"), "wb")
        self.proc = subprocess.Popen(["unbound", "-d", "-c", self.conf],
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.out, stderr=self.out)
        deadline = time.monotonic() + 10
        while True:
            try:
                with open(self.log_path) as f:
                    if "start of service" in f.read():
                        break
            except FileNotFoundError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail("unbound did not start:\n%s" % self.log())
            time.sleep(0.02)

    @property
    def resolver(self):
        """The value for dns_resolver."""
        return "127.0.0.1@%d" % self.port

    def log(self):
        out = ""
        for p in (self.log_path, os.path.join(self.dir, "unbound.out")):
            try:
                with open(p, "rb") as f:
                    out += f.read().decode("utf-8", "replace")
            except FileNotFoundError:
                pass
        return out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()


@pytest.fixture
def unbound(tmp_path):
    """Factory: unbound(["name. MX 10 host.", ...]) -> a started Unbound
    (stopped when the test ends)."""
    started = []

    def start(records):
        u = Unbound(tmp_path / ("unbound%d" % len(started)), records)
        started.append(u)
        return u

    yield start
    for u in started:
        u.stop()


@pytest.fixture
def fake_smtp(tmp_path):
    """Factory: fake_smtp(**FakeSMTP options) -> a started FakeSMTP with
    a fresh EC P-256 certificate and a backup key (pins: .pins); every
    one is stopped when the test ends.  See fakesmtp.py."""
    from fakesmtp import FakeSMTP, spki_pin
    started = []

    def start(**kw):
        d = tmp_path / ("fake%d" % len(started))
        k = make_keys(d)
        kw.setdefault("backup_pins", [spki_pin(k["backup_pub"])])
        srv = FakeSMTP(k["cert"], k["key"], **kw)
        srv.keys = k
        started.append(srv)
        return srv.start()

    yield start
    for s in started:
        s.stop()
