"""pinpost policyd: the socketmap protocol spoken directly, over a real
store, on a UNIX socket and on loopback TCP (what Postfix's
smtp_tls_policy_maps = socketmap:... sends and expects)."""
import hashlib
import json
import os
import signal
import socket
import subprocess
import time

import pytest

from conftest import BUILD, run

PIN_A = "d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM="
PIN_B = "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="


def postfix_hex(pin_b64):
    """Postfix's sha256 public-key fingerprint of a pin: upper-case hex
    pairs joined by ':'."""
    import base64
    return ":".join("%02X" % b for b in base64.b64decode(pin_b64))


def openssl_spki_fingerprint(cert):
    """The oracle: SHA-256 of the certificate's DER SPKI, from openssl."""
    der = subprocess.run(
        ["bash", "-o", "pipefail", "-c",
         "openssl x509 -in '%s' -pubkey -noout | openssl pkey -pubin "
         "-outform der" % cert], capture_output=True, check=True).stdout
    return ":".join("%02X" % b for b in hashlib.sha256(der).digest())


def netstring(s):
    b = s.encode()
    return b"%d:%s," % (len(b), b)


def read_netstring(sock):
    buf = b""
    while b":" not in buf:
        c = sock.recv(1)
        if not c:
            raise EOFError(buf)
        buf += c
    n = int(buf[:-1])
    data = b""
    while len(data) < n + 1:
        c = sock.recv(n + 1 - len(data))
        if not c:
            raise EOFError(data)
        data += c
    assert data[-1:] == b",", data
    return data[:-1].decode()


class Policyd:
    def __init__(self, store, listen, *extra):
        exe = os.path.join(BUILD, "pinpost")
        self.listen = listen
        self.proc = subprocess.Popen(
            [exe, "-s", store, "policyd", "-v", *extra, listen],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.connect().close()
                break
            except OSError:
                if self.proc.poll() is not None or \
                        time.monotonic() > deadline:
                    out, err = self.proc.communicate(timeout=5)
                    raise AssertionError("policyd did not start: %r"
                                         % err)
                time.sleep(0.02)

    def connect(self):
        if self.listen.startswith("unix:"):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(self.listen[5:])
        else:
            host, port = self.listen[5:].rsplit(":", 1)
            s = socket.create_connection((host, int(port)))
        s.settimeout(10)
        return s

    def ask(self, key, name="pinpost"):
        s = self.connect()
        try:
            s.sendall(netstring("%s %s" % (name, key)))
            return read_netstring(s)
        finally:
            s.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.stderr = self.proc.stderr.read().decode()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return self.proc.returncode


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


@pytest.fixture
def store(tmp_path, pinpost):
    path = str(tmp_path / "pins.tdb")
    now = int(time.time())
    doc = {"format": "pinpost-pins", "version": 1,
           "hosts": {
               "pinned.test": {"pins": [PIN_A, PIN_B],
                               "pkp_expires": now + 3600,
                               "stsec_expires": now + 3600,
                               "starttls_first": "accepted",
                               "first_seen": now, "last_seen": now},
               "stsec.test": {"pins": [], "pkp_expires": 0,
                              "stsec_expires": now + 3600,
                              "starttls_first": "unknown",
                              "first_seen": now, "last_seen": now},
               "expired.test": {"pins": [PIN_A],
                                "pkp_expires": now - 10,
                                "stsec_expires": now - 10,
                                "starttls_first": "unknown",
                                "first_seen": now, "last_seen": now},
               "[127.0.0.1]:2525": {"pins": [PIN_B],
                                    "pkp_expires": now + 3600,
                                    "stsec_expires": 0,
                                    "starttls_first": "unknown",
                                    "first_seen": now, "last_seen": now},
               "[127.0.0.2]": {"pins": [], "pkp_expires": 0,
                               "stsec_expires": now + 3600,
                               "starttls_first": "unknown",
                               "first_seen": now, "last_seen": now},
               "mx1.pinned-dom.test": {"pins": [PIN_A],
                                       "pkp_expires": now + 3600,
                                       "stsec_expires": now + 3600,
                                       "starttls_first": "unknown",
                                       "first_seen": now,
                                       "last_seen": now}},
           "domains": {
               "pinned-dom.test": {"stsec_expires": now + 3600,
                                   "noted": now,
                                   "via": "mx1.pinned-dom.test"},
               "stsec-dom.test": {"stsec_expires": now + 3600,
                                  "noted": now, "via": "mx.elsewhere.test"},
               "old-dom.test": {"stsec_expires": now - 1, "noted": now,
                                "via": "mx1.pinned-dom.test"}}}
    pinpost("-s", path, "pins", "import", input=json.dumps(doc), check=0)
    return path


@pytest.fixture(params=["unix", "inet"])
def policyd(request, store, tmp_path):
    if request.param == "unix":
        listen = "unix:" + str(tmp_path / "policyd.sock")
    else:
        listen = "inet:127.0.0.1:%d" % free_port()
    p = Policyd(store, listen)
    yield p
    assert p.stop() == 0, p.stderr


# ------------------------------------------------------------------ answers

def test_pins_become_postfix_fingerprints(policyd):
    assert policyd.ask("pinned.test") == "OK fingerprint match=%s|%s" % (
        postfix_hex(PIN_A), postfix_hex(PIN_B))


def test_fingerprint_is_postfix_pkey_digest(pinpost, keys, tmp_path):
    """The hex is what Postfix computes for the public key: SHA-256 over
    the DER SPKI (openssl as the oracle), for EC and RSA keys."""
    path = str(tmp_path / "k.tdb")
    for alg in ("ec", "rsa"):
        pinpost("-s", path, "pins", "add", "%s.test" % alg, "--pin",
                keys[alg]["pin"], "--pin", PIN_A, "--max-age", "600",
                check=0)
    p = Policyd(path, "unix:" + str(tmp_path / "s"))
    try:
        for alg in ("ec", "rsa"):
            fp = openssl_spki_fingerprint(keys[alg]["cert"])
            assert p.ask("%s.test" % alg) == \
                "OK fingerprint match=%s|%s" % (fp, postfix_hex(PIN_A))
    finally:
        assert p.stop() == 0


def test_stsec_only_is_encrypt(policyd):
    assert policyd.ask("stsec.test") == "OK encrypt"


def test_unknown_and_expired_are_notfound(policyd):
    assert policyd.ask("nowhere.test") == "NOTFOUND "
    assert policyd.ask("expired.test") == "NOTFOUND "
    assert policyd.ask("old-dom.test") == "NOTFOUND "


def test_domain_inherits_stsec_and_pins_of_its_teacher(policyd):
    assert policyd.ask("pinned-dom.test") == \
        "OK fingerprint match=" + postfix_hex(PIN_A)
    # the teacher has no record (or no pins): TLS required, no pins
    assert policyd.ask("stsec-dom.test") == "OK encrypt"
    # a next hop with a port: Postfix still looks up MX records
    assert policyd.ask("stsec-dom.test:2525") == "OK encrypt"


@pytest.mark.parametrize("key,answer", [
    ("[127.0.0.1]:2525", "OK fingerprint match=" + postfix_hex(PIN_B)),
    ("[127.0.0.1]:2526", "NOTFOUND "),
    ("[127.0.0.2]", "OK encrypt"),
    ("[127.0.0.2]:25", "OK encrypt"),
    ("[Pinned.TEST]", "OK fingerprint match=%s|%s"
     % (postfix_hex(PIN_A), postfix_hex(PIN_B))),
    ("[stsec.test]:587", "OK encrypt"),
    ("STSEC.Test.", "OK encrypt"),
    # a bracketed host is not its domain's MX set
    ("[stsec-dom.test]", "NOTFOUND "),
    # parent-domain probes, UNIX-domain next hops, junk
    (".test", "NOTFOUND "),
    ("/var/run/lmtp", "NOTFOUND "),
    ("", "NOTFOUND "),
    ("a b", "NOTFOUND "),
    ("[1.2.3]", "NOTFOUND "),
])
def test_key_forms(policyd, key, answer):
    assert policyd.ask(key) == answer


def test_unknown_map_name_is_perm(policyd):
    assert policyd.ask("pinned.test", name="other").startswith("PERM ")


def test_other_map_name(store, tmp_path):
    p = Policyd(store, "unix:" + str(tmp_path / "s"), "-n", "tlspol")
    try:
        assert p.ask("stsec.test", name="tlspol") == "OK encrypt"
        assert p.ask("stsec.test").startswith("PERM ")
    finally:
        assert p.stop() == 0


# ------------------------------------------------------------------ protocol

def test_many_requests_one_connection_pipelined(policyd):
    """Postfix keeps the connection open between lookups."""
    s = policyd.connect()
    try:
        keys = ["stsec.test", "nowhere.test", "pinned.test"] * 20
        s.sendall(b"".join(netstring("pinpost " + k) for k in keys))
        got = [read_netstring(s) for _ in keys]
    finally:
        s.close()
    assert got[0::3] == ["OK encrypt"] * 20
    assert got[1::3] == ["NOTFOUND "] * 20
    assert all(g.startswith("OK fingerprint") for g in got[2::3])


def test_request_split_across_writes(policyd):
    s = policyd.connect()
    try:
        req = netstring("pinpost stsec.test")
        for i in range(len(req)):
            s.sendall(req[i:i + 1])
            time.sleep(0.002)
        assert read_netstring(s) == "OK encrypt"
    finally:
        s.close()


def test_concurrent_connections(policyd):
    socks = [policyd.connect() for _ in range(20)]
    try:
        for s in socks:
            s.sendall(netstring("pinpost stsec.test"))
        assert [read_netstring(s) for s in socks] == ["OK encrypt"] * 20
    finally:
        for s in socks:
            s.close()


@pytest.mark.parametrize("junk", [
    b"x:abc,", b"5:abcdefg,", b"99999:", b"1025:" + b"a" * 1025 + b",",
    b"00000000001:a,", b":,", b"3:a\x00b,",
])
def test_bad_netstring_closes_that_connection_only(policyd, junk):
    other = policyd.connect()
    s = policyd.connect()
    try:
        s.sendall(junk)
        s.settimeout(5)
        assert s.recv(100) == b""          # closed, no reply
        other.sendall(netstring("pinpost stsec.test"))
        assert read_netstring(other) == "OK encrypt"
    finally:
        s.close()
        other.close()


def test_longest_request_accepted(policyd):
    key = "a" * (1024 - len("pinpost "))
    assert policyd.ask(key) == "NOTFOUND "


def test_store_changes_are_seen(policyd, store, pinpost):
    assert policyd.ask("late.test") == "NOTFOUND "
    pinpost("-s", store, "pins", "add", "late.test", "--stsec", "600",
            check=0)
    assert policyd.ask("late.test") == "OK encrypt"
    pinpost("-s", store, "pins", "forget", "late.test", check=0)
    assert policyd.ask("late.test") == "NOTFOUND "


# ------------------------------------------------------------------ failures

def test_damaged_record_is_temp(store, tmp_path):
    """A store error never reads as "nothing known": Postfix defers."""
    run(["tdbtool", store, "store", "host/bad.test", "garbage"], check=0)
    p = Policyd(store, "unix:" + str(tmp_path / "s"))
    try:
        ans = p.ask("bad.test")
        assert ans.startswith("TEMP pin store: "), ans
        assert p.ask("stsec.test") == "OK encrypt"
    finally:
        assert p.stop() == 0
    assert "bad.test" in p.stderr and "TEMP" in p.stderr


def test_missing_store_fails_at_start(tmp_path):
    exe = os.path.join(BUILD, "pinpost")
    p = run([exe, "-s", str(tmp_path / "none.tdb"), "policyd",
             "unix:" + str(tmp_path / "s")])
    assert p.returncode == 1
    assert "none.tdb" in p.stderr
    assert not os.path.exists(tmp_path / "s")


def test_usage(pinpost, store):
    assert pinpost("-s", store, "policyd").returncode == 2
    assert pinpost("-s", store, "policyd", "tcp:1").returncode == 1
    assert pinpost("-s", store, "policyd", "-c", "0",
                   "inet:127.0.0.1:1").returncode == 2


def test_sigterm_removes_socket(store, tmp_path):
    sock = tmp_path / "s"
    p = Policyd(store, "unix:" + str(sock))
    assert sock.exists()
    assert p.stop() == 0
    assert not sock.exists()
    assert "policyd ready" in p.stderr and "policyd stopped" in p.stderr


def test_stale_socket_replaced_other_file_kept(store, tmp_path):
    sock = tmp_path / "s"
    old = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old.bind(str(sock))
    old.close()
    p = Policyd(store, "unix:" + str(sock))
    assert p.ask("stsec.test") == "OK encrypt"
    assert p.stop() == 0
    plain = tmp_path / "plain"
    plain.write_text("keep me")
    exe = os.path.join(BUILD, "pinpost")
    r = run([exe, "-s", store, "policyd", "unix:" + str(plain)])
    assert r.returncode == 1
    assert plain.read_text() == "keep me"


def test_live_socket_not_taken_over(store, tmp_path):
    sock = tmp_path / "s"
    p = Policyd(store, "unix:" + str(sock))
    try:
        exe = os.path.join(BUILD, "pinpost")
        r = run([exe, "-s", store, "policyd", "unix:" + str(sock)])
        assert r.returncode == 1 and "in use" in r.stderr
        assert p.ask("stsec.test") == "OK encrypt"
    finally:
        assert p.stop() == 0
