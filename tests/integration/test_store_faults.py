"""Faults of the pin/policy store (issue 5, item 4; DESIGN section 3):
a truncated, zero-filled or garbled TDB file, a store that is read-only
on disk, and a store locked by another process for a while.

pinpostd and the CLI must give a clear one-line error naming the file,
or wait; they never silently start with an empty store (that would forget
every pin), never rewrite a damaged file, and never deliver in plaintext
to a peer whose policy they could not read: they fail closed (defer).

Tests run as root, so file modes do not stop writes: a read-only store is
made with `chattr +i` (writes fail with EPERM, also through descriptors
opened before) or with a read-only bind mount in a private mount
namespace (`unshare -m`, EROFS).  A lock is held by a helper process:
`tdbtool` inside a transaction (the transaction lock: other writers
wait), or libtdb's tdb_lockall() through ctypes (every lock: readers
wait too).

Delivery cases use two pinpostd: A relays b.test to B by a static route
and first learns B's PKP pins and STSEC; then B stops offering STARTTLS
(as an attacker who strips it would), so any plaintext MAIL that B logs
is a failure of A's defence.
"""
import os
import random
import re
import smtplib
import subprocess
import sys
import threading
import time

import pytest

from conftest import BUILD, make_message, smtplib_send

PIN_A = "d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM="
PIN_B = "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="
HOSTS = ("mx1.example.net", "mx2.example.net", "mx3.example.net")


def pinpost(*args, timeout=30, wrap=()):
    return subprocess.run([*wrap, os.path.join(BUILD, "pinpost"), *args],
                          capture_output=True, text=True, timeout=timeout)


def fill_store(path):
    """Three hosts with two pins and STSEC each, written by the CLI."""
    for h in HOSTS:
        p = pinpost("-s", path, "pins", "add", h, "--pin", PIN_A, "--pin",
                    PIN_B, "--max-age", "86400", "--stsec", "86400")
        assert p.returncode == 0, p.stderr


def listed_hosts(path, **kw):
    p = pinpost("-s", path, "pins", "list", **kw)
    assert p.returncode == 0, (p.stdout, p.stderr)
    return sorted(re.findall(r"^host (\S+) ", p.stdout, re.M))


def one_line_naming(text, path):
    lines = [x for x in text.splitlines() if x.strip()]
    assert len(lines) == 1, text
    assert path in lines[0], text
    return lines[0]


def read(path):
    with open(path, "rb") as f:
        return f.read()


# ====================================================================
# damaged files

def _rnd(n, seed):
    return random.Random(seed).randbytes(n)


def _key_offset(data):
    off = data.find(b"host/")
    assert off > 0
    return off


DAMAGE = {
    # name: (function of the good file's bytes, what the store says)
    # (the CLI's read commands open without O_CREAT: "not a tdb file")
    "empty": (lambda d: b"", ("empty file, not a store", "not a tdb file")),
    "truncated-in-header": (lambda d: d[:100], "not a tdb file"),
    "truncated-in-hash-table": (lambda d: d[:4000], "not a tdb file"),
    "zero-filled": (lambda d: bytes(len(d)), "not a tdb file"),
    "zero-header": (lambda d: bytes(168) + d[168:], "not a tdb file"),
    "zero-hash-table": (lambda d: d[:168] + bytes(832) + d[1000:],
                        "store is damaged (tdb_check failed)"),
    "garbled": (lambda d: _rnd(len(d), 1), "not a tdb file"),
    "garbled-header": (lambda d: _rnd(168, 2) + d[168:], "not a tdb file"),
    "garbled-records": (lambda d: d[:_key_offset(d) - 40] + _rnd(700, 3) +
                        d[_key_offset(d) + 660:],
                        "store is damaged (tdb_check failed)"),
}


@pytest.fixture(scope="module")
def good_store(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("store") / "good.tdb")
    fill_store(path)
    assert listed_hosts(path) == sorted(HOSTS)
    return read(path)


def says(line, why):
    """why (a phrase, or a tuple of phrases one of which) is in line."""
    return any(w in line for w in ((why,) if isinstance(why, str) else why))


def wait_exit(srv, timeout=15):
    try:
        return srv.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        pytest.fail("pinpostd still running %ss after start:\n%s"
                    % (timeout, srv.log()))


def fatal_line(srv, store):
    """The one fatal line of a pinpostd that refused to start."""
    fatal = [x for x in srv.log().splitlines() if "fatal:" in x]
    assert len(fatal) == 1, srv.log()
    assert store in fatal[0], fatal
    return fatal[0]


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_damaged_store_pinpostd_refuses_to_start(smtpd, good_store, kind):
    damage, why = DAMAGE[kind]
    srv = smtpd(_start=False)
    store = srv.conf["store"]
    bad = damage(good_store)
    with open(store, "wb") as f:
        f.write(bad)
    srv.start(probe=False)
    rc = wait_exit(srv)
    srv.expect_exit = rc
    assert rc != 0, srv.log()
    line = fatal_line(srv, store)
    assert says(line, why), line
    # the file is left as it was: never re-initialised, never "repaired"
    assert read(store) == bad


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_damaged_store_cli_reports(tmp_path, good_store, kind):
    damage, why = DAMAGE[kind]
    store = str(tmp_path / "pins.tdb")
    bad = damage(good_store)
    with open(store, "wb") as f:
        f.write(bad)
    for cmd in (["list"], ["show", HOSTS[0]], ["export"],
                ["add", "new.example.net", "--stsec", "60"],
                ["forget", HOSTS[1]]):
        p = pinpost("-s", store, "pins", *cmd)
        assert p.returncode == 1, (cmd, p.returncode, p.stdout, p.stderr)
        assert p.stdout == "", (cmd, p.stdout)
        line = one_line_naming(p.stderr, store)
        assert says(line, why), (cmd, line)
    assert read(store) == bad


def test_damage_outside_the_records_loses_nothing(smtpd, good_store):
    """Damage tdb_check does not see (zeros over the free space at the end,
    the end cut off) must not lose a record: pinpostd starts with every
    pin, not an empty store."""
    for name, bad in (("tail-zeroed", good_store[:16000] +
                       bytes(len(good_store) - 16000)),
                      ("tail-truncated", good_store[:16000])):
        srv = smtpd(_start=False)
        store = srv.conf["store"]
        with open(store, "wb") as f:
            f.write(bad)
        srv.start()
        assert listed_hosts(store) == sorted(HOSTS), name
        assert srv.stop() == 0


@pytest.mark.parametrize("what", ["foreign-tdb", "future-version"])
def test_not_a_pinpost_store(smtpd, tmp_path, what):
    """A sound tdb file that is not this pinpost's store: refused by
    pinpostd and the CLI with the reason, and left alone."""
    srv = smtpd(_start=False)
    store = srv.conf["store"]
    if what == "foreign-tdb":
        cmds = "create %s\ninsert some key\nquit\n" % store
        why = 'not a pinpost store (records but no "pinpost/version" key)'
    else:
        fill_store(store)
        cmds = "open %s\nstore pinpost/version 9\nquit\n" % store
        why = 'store format version "9" unknown'
    p = subprocess.run(["tdbtool"], input=cmds, capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0, p
    before = read(store)
    srv.start(probe=False)
    srv.expect_exit = wait_exit(srv)
    assert srv.expect_exit != 0
    assert why in fatal_line(srv, store)
    p = pinpost("-s", store, "pins", "list")
    assert p.returncode == 1 and why in one_line_naming(p.stderr, store)
    assert read(store) == before


# ====================================================================
# a pair: A learns B, then B strips STARTTLS

def receiver(smtpd, domain="b.test", **kw):
    return smtpd(local_domains=domain, mailboxes="bob@" + domain,
                 myhostname="mx." + domain, _verbose=True, **kw)


def sender(smtpd, B, **kw):
    conf = dict(local_domains="a.test", mailboxes="alice@a.test",
                myhostname="mx.a.test", _verbose=True,
                route="b.test [%s]:%d" % (B.host, B.port),
                queue_run_interval="1s", retry_min="1s", retry_max="2s")
    conf.update(kw)
    return smtpd(**conf)


def b_key(B):
    return "[%s]:%d" % (B.host, B.port)


def submit(A, subject, rcpt="bob@b.test", timeout=30):
    with smtplib.SMTP(A.host, A.port, timeout=timeout) as s:
        s.ehlo("submit.test")
        return smtplib_send(s, make_message(subject, sender="alice@a.test",
                                            to=rcpt),
                            sender="alice@a.test", rcpts=[rcpt])


def wait_log_re(srv, pattern, start=0, timeout=15):
    rx = re.compile(pattern)
    deadline = time.monotonic() + timeout
    while True:
        m = rx.search(srv.log(), start)
        if m:
            return m
        if time.monotonic() > deadline:
            pytest.fail("/%s/ not in the log of %s after %ss:\n%s"
                        % (pattern, srv.dir, timeout, srv.log()[start:]))
        time.sleep(0.05)


def learned_pair(smtpd):
    """A has delivered once to B and holds B's pins and STSEC."""
    B = receiver(smtpd)
    A = sender(smtpd, B)
    qid = submit(A, "learn")
    B.wait_maildir(1, "bob", domain="b.test")
    wait_log_re(A, r"id=%s removed" % qid)
    p = pinpost("-s", A.conf["store"], "pins", "show", b_key(B))
    assert p.returncode == 0 and "stsec:" in p.stdout, p
    assert p.stdout.count("pin-sha256:") == 2, p.stdout
    return A, B


def strip_starttls(B):
    """B restarted without STARTTLS; the log offset from which any
    plaintext MAIL it receives is counted."""
    B.restart(starttls_enable="no")
    return len(B.log())


def plaintext_mails(B, start):
    return B.log()[start:].count("command=MAIL")


def accept_crash(srv):
    """srv died (a bug another test records as xfail): let the fixture's
    teardown pass, keeping its log (and any sanitizer report) aside."""
    if srv.proc.poll() is None:
        return None
    rc = srv.proc.returncode
    if getattr(srv, "crash_accepted", False):
        return rc
    srv.crash_accepted = True
    srv.expect_exit = rc
    srv.logf.close()
    kept = srv.log_path + ".crashed"
    os.replace(srv.log_path, kept)
    srv.log_path = kept + ".after"
    return rc


def test_garbled_record_fails_closed(smtpd):
    """B's record in A's store is garbled (tdb_check cannot see it: record
    values carry no checksum, but the decoder refuses it).  A starts, and
    its deliveries to B defer (4.3.0, the store named) instead of going
    out in plaintext; the CLI names the file and the key."""
    A, B = learned_pair(smtpd)
    assert A.stop() == 0
    store = A.conf["store"]
    data = bytearray(read(store))
    key = ("host/" + b_key(B)).encode()
    n = 0
    for m in re.finditer(re.escape(key) + b"\x01H", bytes(data)):
        data[m.start() + len(key) + 1] = ord("X")       # the type octet
        n += 1
    assert n >= 1
    with open(store, "wb") as f:
        f.write(data)
    start_b = strip_starttls(B)
    A.start()
    start_a = len(A.log())
    qid = submit(A, "to a host whose record is garbled")
    wait_log_re(A, r"id=%s to=<bob@b\.test> relay=\S+ status=deferred "
                r"dsn=4\.3\.0 reply=\"[^\"]*pin store: %s: key "
                % (qid, re.escape(store)), start_a)
    # a retry comes and defers the same way
    m = wait_log_re(A, r"id=%s to=<bob@b\.test> relay=\S+ status=deferred "
                    r"dsn=4\.3\.0" % qid, start_a)
    wait_log_re(A, r"id=%s to=<bob@b\.test> relay=\S+ status=deferred "
                r"dsn=4\.3\.0" % qid, m.end())
    assert plaintext_mails(B, start_b) == 0
    assert len(B.maildir("bob", "b.test")) == 1
    assert any(qid in p for p in A.queue_files())
    p = pinpost("-s", store, "pins", "show", b_key(B))
    assert p.returncode == 1
    assert "host record: type 0x58" in one_line_naming(p.stderr, store)


# ====================================================================
# read-only on disk

def immutable(path, on):
    subprocess.run(["chattr", "+i" if on else "-i", path], check=True)


def ro_mount_wrapper(d, store):
    """A directory holding a `pinpostd` that runs the real one in a
    private mount namespace where store is bind-mounted read-only."""
    os.makedirs(d, exist_ok=True)
    w = os.path.join(d, "pinpostd")
    with open(w, "w") as f:
        f.write('#!/bin/sh\nexec unshare -m sh -c \'mount --bind -o ro "$0" '
                '"$0" && exec "$@"\' "%s" "%s" "$@"\n'
                % (store, os.path.join(os.path.abspath(BUILD), "pinpostd")))
    os.chmod(w, 0o755)
    return d


def ro_mount_prefix(store):
    return ["unshare", "-m", "sh", "-c",
            'mount --bind -o ro "$0" "$0" && exec "$@"', store]


@pytest.fixture
def can_chattr(tmp_path):
    p = tmp_path / "probe"
    p.write_text("x")
    if subprocess.run(["chattr", "+i", str(p)],
                      capture_output=True).returncode != 0:
        pytest.skip("chattr +i not supported here")
    immutable(str(p), False)


@pytest.fixture
def can_unshare(tmp_path):
    p = tmp_path / "probe"
    p.write_text("x")
    r = subprocess.run(ro_mount_prefix(str(p)) + ["sh", "-c",
                       "echo y > \"$0\"", str(p)], capture_output=True)
    if r.returncode == 0 or b"Read-only file system" not in r.stderr:
        pytest.skip("no read-only bind mount here: %r" % r.stderr)


@pytest.mark.parametrize("how", ["chattr", "ro-mount"])
def test_read_only_store_at_start(smtpd, request, how):
    """A store that cannot be written when pinpostd starts: it refuses to
    start with one line naming the file (it cannot note what it learns);
    the CLI still reads the store and refuses to write it, clearly."""
    request.getfixturevalue("can_chattr" if how == "chattr"
                            else "can_unshare")
    srv = smtpd(_start=False)
    store = srv.conf["store"]
    fill_store(store)
    before = read(store)
    wrap = ()
    if how == "chattr":
        immutable(store, True)
        why = "Operation not permitted"
    else:
        srv.build = ro_mount_wrapper(os.path.join(srv.dir, "wrap"), store)
        wrap = ro_mount_prefix(store)
        why = "Read-only file system"
    try:
        srv.start(probe=False)
        srv.expect_exit = wait_exit(srv)
        assert srv.expect_exit != 0
        assert why in fatal_line(srv, store)
        assert listed_hosts(store, wrap=wrap) == sorted(HOSTS)
        p = pinpost("-s", store, "pins", "add", "new.example.net",
                    "--stsec", "60", wrap=wrap)
        assert p.returncode == 1, p
        one_line_naming(p.stderr, store)
    finally:
        if how == "chattr":
            immutable(store, False)
    assert read(store) == before


def test_read_only_store_while_running_never_plaintext(smtpd, can_chattr):
    """The store becomes read-only while pinpostd runs (chattr +i): a
    known STSEC peer that strips STARTTLS gets no plaintext MAIL, the
    message stays queued, and is delivered over TLS once the peer offers
    it again and the store is writable."""
    A, B = learned_pair(smtpd)
    store = A.conf["store"]
    start_b = strip_starttls(B)
    immutable(store, True)
    crashed = None
    try:
        start_a = len(A.log())
        qid = submit(A, "read-only store, stripped peer")
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline and A.proc.poll() is None:
            time.sleep(0.1)
        assert plaintext_mails(B, start_b) == 0
        assert len(B.maildir("bob", "b.test")) == 1
        assert any(qid in p for p in A.queue_files())
        log_a = A.log()[start_a:]
        crashed = accept_crash(A)
        if crashed is None:
            assert re.search(r"id=%s to=<bob@b\.test> relay=\S+ "
                             r"status=deferred dsn=4\.7\.4" % qid, log_a)
    finally:
        immutable(store, False)
    # healed: B offers TLS again; A (restarted if it died) delivers
    B.restart(starttls_enable="yes")
    if crashed is not None:
        A.expect_exit = 0
        A.crash_accepted = False
        A.log_path = os.path.join(A.dir, "pinpostd-restarted.log")
        A.start()
    B.wait_maildir(2, "bob", domain="b.test", timeout=20)
    assert len(B.maildir("bob", "b.test")) == 2


def test_read_only_store_while_running_keeps_serving(smtpd, can_chattr):
    """After a delivery to a new peer C, noting C's policy fails on the
    read-only store: pinpostd logs it (naming the file) and keeps
    running; the message went to C once, and A still takes mail."""
    A, B = learned_pair(smtpd)
    C = receiver(smtpd, "c.test")
    A.restart(route="b.test [%s]:%d, c.test [%s]:%d"
              % (B.host, B.port, C.host, C.port))
    store = A.conf["store"]
    immutable(store, True)
    try:
        qid = submit(A, "to a new peer, read-only store", rcpt="bob@c.test")
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline and A.proc.poll() is None and \
                not (C.maildir("bob", "c.test") and
                     "store update" in A.log()):
            time.sleep(0.1)
        time.sleep(0.5)
        alive = A.proc.poll() is None
        rc = accept_crash(A)
        assert alive, "pinpostd died with status %s" % rc
        C.wait_maildir(1, "bob", domain="c.test")
        line = [x for x in A.log().splitlines() if "store update" in x]
        assert line and store in line[0], A.log()
        submit(A, "local mail after the failed update", rcpt="alice@a.test")
        A.wait_maildir(1, "alice", domain="a.test")
        wait_log_re(A, r"id=%s removed" % qid)
    finally:
        immutable(store, False)
        accept_crash(A)


# ====================================================================
# locked by another process

LOCKALL = r"""
import ctypes, os, sys
lib = ctypes.CDLL("libtdb.so.1")
lib.tdb_open.restype = ctypes.c_void_p
lib.tdb_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int,
                         ctypes.c_int, ctypes.c_uint]
for f in ("tdb_lockall", "tdb_unlockall", "tdb_close"):
    getattr(lib, f).argtypes = [ctypes.c_void_p]
t = lib.tdb_open(sys.argv[1].encode(), 0, 0, os.O_RDWR, 0o600)
assert t and lib.tdb_lockall(t) == 0
print("locked", flush=True)
sys.stdin.readline()
lib.tdb_unlockall(t)
lib.tdb_close(t)
"""


class StoreLock:
    """Another process holding the store: kind "lockall" (tdb_lockall:
    every lock, readers wait too) or "transaction" (tdbtool inside a
    transaction: the transaction lock, other writers wait)."""

    def __init__(self, path, kind):
        self.kind = kind
        if kind == "lockall":
            self.p = subprocess.Popen([sys.executable, "-c", LOCKALL, path],
                                      stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True)
            assert self.p.stdout.readline().strip() == "locked"
        else:
            self.p = subprocess.Popen(["tdbtool", path],
                                      stdin=subprocess.PIPE,
                                      stdout=subprocess.DEVNULL, text=True)
            self.p.stdin.write("transaction_start\n")
            self.p.stdin.flush()
            time.sleep(0.3)
            assert self.p.poll() is None
        self.released = False

    def release(self):
        if self.released:
            return
        self.released = True
        if self.kind == "lockall":
            self.p.stdin.write("\n")
        else:
            self.p.stdin.write("transaction_cancel\nquit\n")
        self.p.stdin.flush()
        self.p.wait(10)

    def release_after(self, seconds):
        t = threading.Timer(seconds, self.release)
        t.start()
        return t

    def close(self):
        try:
            self.release()
        finally:
            if self.p.poll() is None:
                self.p.kill()
                self.p.wait()


@pytest.mark.parametrize("kind", ["lockall", "transaction"])
def test_locked_store_cli_waits(tmp_path, kind):
    """The CLI waits for the lock (reads under lockall, writes under
    either) and then does its work; it does not fail, does not see an
    empty store."""
    store = str(tmp_path / "pins.tdb")
    fill_store(store)
    lock = StoreLock(store, kind)
    try:
        lock.release_after(1.2)
        t0 = time.monotonic()
        p = pinpost("-s", store, "pins", "add", "new.example.net",
                    "--stsec", "60")
        waited = time.monotonic() - t0
        assert p.returncode == 0, p
        assert waited >= 0.8, waited
    finally:
        lock.close()
    assert listed_hosts(store) == sorted(HOSTS + ("new.example.net",))
    lock = StoreLock(store, kind)
    try:
        lock.release_after(1.2)
        t0 = time.monotonic()
        hosts = listed_hosts(store)
        waited = time.monotonic() - t0
        assert hosts == sorted(HOSTS + ("new.example.net",))
        if kind == "lockall":
            assert waited >= 0.8, waited
    finally:
        lock.close()


def test_locked_store_pinpostd_start_waits(smtpd):
    """pinpostd started while another process holds every lock of its
    store waits for it, then starts with the store as it was."""
    srv = smtpd(_start=False)
    store = srv.conf["store"]
    fill_store(store)
    lock = StoreLock(store, "lockall")
    try:
        lock.release_after(1.2)
        t0 = time.monotonic()
        srv.start()
        assert time.monotonic() - t0 >= 0.8
    finally:
        lock.close()
    assert listed_hosts(store) == sorted(HOSTS)
    assert "fatal" not in srv.log()


def test_locked_store_delivery_waits_never_plaintext(smtpd):
    """While another process holds every lock of A's store, A cannot read
    B's policy: it sends nothing to B (not in plaintext either) and, the
    lock gone, reads STSEC and defers (B strips STARTTLS); once B offers
    TLS again the message goes out over TLS."""
    A, B = learned_pair(smtpd)
    start_b = strip_starttls(B)
    lock = StoreLock(A.conf["store"], "lockall")
    try:
        start_a = len(A.log())
        qid = submit(A, "store locked, stripped peer")
        time.sleep(2)
        assert plaintext_mails(B, start_b) == 0
        assert not re.search(r"id=%s to=<bob@b\.test> relay=\S+ status="
                             % qid, A.log()[start_a:])
        lock.release()
        wait_log_re(A, r"id=%s to=<bob@b\.test> relay=\S+ status=deferred "
                    r"dsn=4\.7\.4" % qid, start_a)
        assert plaintext_mails(B, start_b) == 0
    finally:
        lock.close()
    B.restart(starttls_enable="yes")
    B.wait_maildir(2, "bob", domain="b.test", timeout=20)
    wait_log_re(A, r"id=%s to=<bob@b\.test> relay=\S+ status=sent" % qid)


def test_locked_store_does_not_stall_reception(smtpd):
    """With another process inside a store transaction (tdbtool) for 5 s,
    a delivery to B (over TLS, its read works) must note B's policy and
    wait for the lock; meanwhile A must still answer a local message's
    DATA with 250 within 2.5 s."""
    A, B = learned_pair(smtpd)
    lock = StoreLock(A.conf["store"], "transaction")
    try:
        lock.release_after(5.0)
        start_a = len(A.log())
        submit(A, "delivered while the store is locked")
        B.wait_maildir(2, "bob", domain="b.test")
        time.sleep(0.3)         # the note is now waiting for the lock
        t0 = time.monotonic()
        submit(A, "local mail while the store is locked",
               rcpt="alice@a.test")
        took = time.monotonic() - t0
        assert took < 2.5, "a local message took %.1f s to get its 250" % took
    finally:
        lock.close()
    A.wait_maildir(1, "alice", domain="a.test")
    assert "store update" not in A.log()[start_a:]
