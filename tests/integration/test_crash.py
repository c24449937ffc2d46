"""Crash durability (issue 5, item 3; DESIGN section 3): under a steady
load of N messages from a few client threads, pinpostd is killed with
SIGKILL at random moments and restarted on the same spool each time.
Afterwards every message that received 250 is in the Maildir at least
once and none is corrupted (a SHA-256 digest of each body, carried in a
header, is checked); duplicates are allowed (delivery is at least once)
and counted.

The figures are printed on the terminal (also when pytest captures
output), one line starting "crash:", for the closing note.
"""
import hashlib
import os
import random
import signal
import threading
import time

from conftest import Client, SMTPClosed

N_MESSAGES = 1000
N_THREADS = 4
N_KILLS = 12
SENDER = "load@client.test"
RCPT = "alice@example.test"


def body_lines(rnd, mid):
    """A body of 1 to ~8 KiB: printable lines of 0..200 octets, some
    starting with "." (dot-stuffing on the wire) or "From "."""
    lines = ["id %s" % mid]
    size = rnd.choice([100, 500, 2000, 8000])
    total = 0
    while total < size:
        n = rnd.randrange(0, 200)
        s = "".join(chr(rnd.randrange(33, 127)) for _ in range(n))
        if rnd.random() < 0.1:
            s = "." + s
        elif rnd.random() < 0.05:
            s = "From " + s
        lines.append(s)
        total += len(s) + 1
    return lines


class Msg:
    def __init__(self, mid, seed):
        rnd = random.Random(seed)
        lines = body_lines(rnd, mid)
        self.id = mid
        self.body_lf = ("\n".join(lines) + "\n").encode()
        self.digest = hashlib.sha256(self.body_lf).hexdigest()
        head = ("From: <%s>\r\nTo: <%s>\r\nSubject: crash load %s\r\n"
                "Message-ID: <%s@client.test>\r\nX-Crash-Id: %s\r\n"
                "X-Body-Digest: %s\r\n\r\n"
                % (SENDER, RCPT, mid, mid, mid, self.digest))
        stuffed = [("." + x) if x.startswith(".") else x for x in lines]
        self.wire = head.encode() + ("\r\n".join(stuffed) +
                                     "\r\n.\r\n").encode()
        self.attempts = 0


class Load:
    """N_THREADS senders over persistent sessions; a message is retried
    until it gets its 250 (a retry after a lost 250 may duplicate it)."""

    def __init__(self, srv, msgs):
        self.srv = srv
        self.todo = list(msgs)
        self.lock = threading.Lock()
        self.acked = {}             # id -> Msg
        self.failures = 0
        self.stop = threading.Event()

    def next_msg(self):
        with self.lock:
            return self.todo.pop(0) if self.todo else None

    def retry(self, m):
        with self.lock:
            self.todo.append(m)
            self.failures += 1

    def connect(self):
        while not self.stop.is_set():
            try:
                c = Client(self.srv.host, self.srv.port, timeout=10)
                c.greeting()
                c.ehlo("load.client.test")
                return c
            except (OSError, SMTPClosed, TimeoutError, AssertionError):
                time.sleep(0.05)
        return None

    def send(self, c, m):
        m.attempts += 1
        c.send("MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n" % (SENDER, RCPT))
        codes = [r.code for r in c.replies(3)]
        if codes != [250, 250, 354]:
            raise AssertionError(codes)
        c.send(m.wire)
        r = c.reply(timeout=20)
        if r.code != 250:
            raise AssertionError(r)

    def run(self):
        c = None
        while not self.stop.is_set():
            m = self.next_msg()
            if m is None:
                break
            try:
                if c is None:
                    c = self.connect()
                    if c is None:
                        self.retry(m)
                        break
                self.send(c, m)
            except (OSError, SMTPClosed, TimeoutError, AssertionError):
                self.retry(m)
                if c is not None:
                    c.close()
                c = None
                continue
            with self.lock:
                self.acked[m.id] = m
        if c is not None:
            try:
                c.cmd("QUIT")
            except (OSError, SMTPClosed, TimeoutError, AssertionError):
                pass
            c.close()


def kill_and_restart(srv):
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait(10)
    assert srv.proc.returncode == -signal.SIGKILL, srv.proc.returncode
    srv.logf.close()
    srv.start()


def read_maildir(srv):
    """{id: [ok, ok, ...]} over every message in new/ (ok: the digest
    matches), and the list of files that are not a test message."""
    seen = {}
    bad = []
    for p in srv.maildir():
        with open(p, "rb") as f:
            data = f.read().replace(b"\r\n", b"\n")
        head, sep, body = data.partition(b"\n\n")
        fields = {}
        for line in head.split(b"\n"):
            k, _, v = line.partition(b": ")
            fields[k.lower()] = v.strip().decode("ascii", "replace")
        mid = fields.get(b"x-crash-id")
        if not sep or mid is None or b"x-body-digest" not in fields:
            bad.append(p)
            continue
        ok = hashlib.sha256(body).hexdigest() == fields[b"x-body-digest"]
        seen.setdefault(mid, []).append(ok)
    return seen, bad


def test_kill_9_under_load_loses_no_accepted_message(smtpd, capsys):
    srv = smtpd(max_connections_per_ip="50")
    rnd = random.Random(os.getpid())
    msgs = [Msg("m%04d" % i, rnd.random()) for i in range(N_MESSAGES)]
    load = Load(srv, msgs)
    threads = [threading.Thread(target=load.run) for _ in range(N_THREADS)]
    t0 = time.monotonic()
    for t in threads:
        t.start()

    # kill at random points of the load: when the count of 250s passes
    # each of N_KILLS random thresholds, after a random extra delay
    thresholds = sorted(rnd.sample(range(N_MESSAGES // 30,
                                         N_MESSAGES * 8 // 10), N_KILLS))
    kills = []
    try:
        for th in thresholds:
            deadline = time.monotonic() + 60
            while len(load.acked) < th:
                assert time.monotonic() < deadline, \
                    "load stalled at %d (log:\n%s)" % (len(load.acked),
                                                       srv.log()[-3000:])
                time.sleep(0.01)
            time.sleep(rnd.uniform(0, 0.05))
            kills.append(len(load.acked))
            kill_and_restart(srv)
    finally:
        for t in threads:
            t.join(120)
        load.stop.set()
    t_load = time.monotonic() - t0
    assert all(not t.is_alive() for t in threads)
    assert len(kills) >= 10, kills
    # every kill came while messages were still being sent
    assert max(kills) < N_MESSAGES, kills
    assert len(load.acked) == N_MESSAGES, (len(load.acked), load.todo[:5])

    # the queue drains into the Maildir
    deadline = time.monotonic() + 30
    while srv.queue_files("env") or srv.queue_files("msg"):
        assert time.monotonic() < deadline, \
            "queue not drained: %d left" % len(srv.queue_files("env"))
        time.sleep(0.1)
    time.sleep(0.2)

    seen, bad = read_maildir(srv)
    lost = sorted(set(load.acked) - set(seen))
    corrupted = sorted(k for k, oks in seen.items() if not all(oks))
    copies = sum(len(v) for v in seen.values())
    duplicates = copies - len(seen)
    resent = sum(1 for m in msgs if m.attempts > 1)
    dup_resent = sum(len(seen[m.id]) - 1 for m in msgs
                     if m.id in seen and m.attempts > 1)
    with capsys.disabled():
        print("\ncrash: %d messages, %d client threads, %d kill -9 "
              "(at %s acked), %.1f s; %d got 250; lost=%d corrupted=%d "
              "unknown-files=%d; maildir holds %d copies: duplicates=%d "
              "(%d of them of %d messages the client sent again after a "
              "lost reply, %d redelivered from the queue after a crash); "
              "%d client attempts failed"
              % (N_MESSAGES, N_THREADS, len(kills),
                 ",".join(map(str, kills)), t_load, len(load.acked),
                 len(lost), len(corrupted), len(bad), copies, duplicates,
                 dup_resent, resent, duplicates - dup_resent,
                 load.failures))
    assert not lost, "accepted but never delivered: %s" % lost[:20]
    assert not corrupted, "corrupted: %s" % corrupted[:20]
    assert not bad, "files that are no test message: %s" % bad[:5]
    # maildir/tmp holds no finished message left behind for good
    assert len(srv.maildir()) == copies
