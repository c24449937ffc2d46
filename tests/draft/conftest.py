"""Fixtures for the Internet-Draft's checks (Debian's python3 + pytest).

PINPOST_BUILD names the build directory (the Makefile sets it).  The
server fixture writes a pinpost.conf the way tests/integration's smtpd
fixture does, but with the draft's committed example keys
(tests/draft/keys/) and the draft's host names.
"""
import errno
import os
import signal
import socket
import ssl
import subprocess
import time

import pytest

from draftlib import KEYS, REPO

BUILD = os.path.abspath(os.environ.get("PINPOST_BUILD",
                                       os.path.join(REPO, "build")))
TOOLS = os.path.join(REPO, "rfc-draft", "tools")

# The names the draft's examples use (RFC 2606 example domains).
SERVER_NAME = "mx.example.net"
CLIENT_NAME = "client.example.org"


def key(name):
    return os.path.join(KEYS, name)


def run(args, *, input=None, check=None, cwd=None):
    p = subprocess.run(args, input=input, capture_output=True, text=True,
                       timeout=120, cwd=cwd)
    if check is not None:
        assert p.returncode == check, (args, p.returncode, p.stdout,
                                       p.stderr)
    return p


def openssl_pin(path, kind):
    """The oracle: the SPKI pin computed by the openssl command line."""
    if kind == "cert":
        spki = "openssl x509 -in '%s' -pubkey -noout" % path
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


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Client:
    """A raw SMTP client: exact lines out, reply lines ("250-...") in."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), 10)
        self.buf = b""

    def send(self, line):
        self.sock.sendall(line.encode("ascii") + b"\r\n")

    def reply(self):
        """One reply as its raw lines, e.g. ["250-a", "250 b"]."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                data = self.sock.recv(65536)
                if not data:
                    raise EOFError("closed; have %r" % self.buf)
                self.buf += data
            line, self.buf = self.buf.split(b"\r\n", 1)
            s = line.decode("ascii")
            lines.append(s)
            if len(s) == 3 or s[3] == " ":
                return lines

    def starttls(self):
        assert not self.buf, "bytes before the handshake: %r" % self.buf
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.sock = ctx.wrap_socket(self.sock, server_hostname=SERVER_NAME)
        return self.sock.getpeercert(binary_form=True)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Server:
    def __init__(self, tmp, overrides):
        self.port = free_port()
        self.dir = str(tmp)
        self.conf_path = os.path.join(self.dir, "pinpost.conf")
        self.log_path = os.path.join(self.dir, "pinpostd.log")
        conf = {
            "myhostname": SERVER_NAME,
            "user": "",
            "log": "stderr",
            "listen": "127.0.0.1:%d" % self.port,
            "spool_dir": os.path.join(self.dir, "spool"),
            "store": os.path.join(self.dir, "pins.tdb"),
            "tls_cert_file": key("served-cert.pem"),
            "tls_key_file": key("served-key.pem"),
            "pkp_backup_pins": key("backup-pub.pem"),
            "local_domains": "example.net",
            "maildir_root": os.path.join(self.dir, "mail"),
            "mailboxes": "postmaster@example.net",
            "route": "* [127.0.0.1]:9",
            "dns_resolver": "127.0.0.1@9",
        }
        conf.update(overrides)
        with open(self.conf_path, "w") as f:
            for k, v in conf.items():
                f.write("%s = %s\n" % (k, v))
        self.proc = None

    def start(self):
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [os.path.join(BUILD, "pinpostd"), "-d", "-f", self.conf_path],
            stdin=subprocess.DEVNULL, stdout=self.logf, stderr=self.logf)
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                pytest.fail("pinpostd exited with %s:\n%s"
                            % (self.proc.returncode, self.log()))
            try:
                c = Client(self.port)
            except OSError as e:
                if e.errno != errno.ECONNREFUSED or \
                        time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
                continue
            c.reply()
            c.send("QUIT")
            c.reply()
            c.close()
            return self

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.logf.close()
        return self.proc.returncode


@pytest.fixture
def pinpostd(tmp_path):
    """Factory: pinpostd(**conf) -> a started Server with the draft's
    example keys."""
    exe = os.path.join(BUILD, "pinpostd")
    assert os.access(exe, os.X_OK), "%s not built" % exe
    servers = []

    def start(**overrides):
        d = tmp_path / ("srv%d" % len(servers))
        d.mkdir()
        srv = Server(d, overrides)
        servers.append(srv)
        return srv.start()

    yield start
    bad = []
    for srv in servers:
        rc = srv.stop()
        if rc != 0:
            bad.append("pinpostd exit %r:\n%s" % (rc, srv.log()))
    if bad:
        pytest.fail("\n".join(bad), pytrace=False)
