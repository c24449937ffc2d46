"""Delivery between two real pinpostd: A (alice@a.test's server) relays to
B (bob@b.test's) by a static route, learns B's PKP pins and STSEC from the
EHLO reply inside TLS, and then enforces them (DESIGN 1.3, issue 4):
STARTTLS right after the greeting, defer 4.7.5 on a key outside the pins,
defer 4.7.4 without TLS, MAX-AGE=0 and expiry forget, report mode; plus
retries, expiry DSNs and a restart that resumes the queue.

The store is read with `pinpost -s STORE pins show`, the pins are checked
against the openssl command line, and B's view of each session comes
from its -v log (one `command=VERB` line per command received).
"""
import re
import time

import pytest

from conftest import free_port, lf, openssl_pin
from mailflow import (DSN, RCPT, SENDER, mail_sessions, new_keys, one_line,
                      pins_of, read_mail, receiver, rotate_to_backup,
                      route_to, sender, status_re, store_key, store_list,
                      store_show, submit, wait_log_re, wait_store)


def pair(smtpd, a=None, b=None):
    """B, then A routing b.test to B; both started."""
    B = receiver(smtpd, **(b or {}))
    A = sender(smtpd, route=route_to(B), **(a or {}))
    return A, B


def deliver(A, B, subject, n, **kw):
    """Submits to A and waits until B's bob holds n messages and A has
    logged the recipient as sent; the queue id."""
    qid = submit(A, subject, **kw)
    B.wait_maildir(n, "bob", domain="b.test")
    wait_log_re(A, status_re(qid, "sent", "2.0.0"))
    wait_log_re(A, r"id=%s removed" % qid)
    assert bob_count(B) == n        # once, not twice
    return qid


def learned(pinpost, A, B):
    """Waits until A's store holds B's pins and STSEC; the record."""
    want = pins_of(B.keys)
    return wait_store(pinpost, A, store_key(B),
                      lambda r: r is not None and set(r.pins) == want and
                      r.stsec_until is not None)


def bob_count(B):
    return len(B.maildir("bob", "b.test"))


# ------------------------------------------------------------------ 1

def test_first_delivery_learns_pins_and_stsec(smtpd, pinpost):
    A, B = pair(smtpd, b={"pkp_max_age": "3600s",
                          "stsec_max_age": "7200s"})
    t0 = time.time()
    qid = deliver(A, B, "first delivery", 1)

    msg = read_mail(B.maildir("bob", "b.test")[0])
    assert b"Subject: first delivery" in msg
    assert lf(msg).endswith(b"\nHello.\n")

    rec = learned(pinpost, A, B)
    want = pins_of(B.keys)
    assert set(rec.pins) == want and len(rec.pins) == 2, rec
    # B's served key is the one seen on this connection
    assert rec.fields["last-pin"] == openssl_pin(B.keys["cert"], "cert")
    # expiries: now + MAX-AGE, as B advertised them
    assert abs(rec.pkp_until - (t0 + 3600)) <= 5, rec
    assert abs(rec.stsec_until - (t0 + 7200)) <= 5, rec
    # the first contact was plain EHLO first: nothing known about early
    assert rec.early == "unknown", rec

    # the decision and the noting are logged with the queue id
    key = re.escape(store_key(B))
    wait_log_re(A, r"id=%s host=%s stage=pins policy=none level=may "
                r"pins-known=0 chain=\S+ verdict=proceed" % (qid, key))
    wait_log_re(A, r"id=%s host=%s noted=0x[0-9a-f]+" % (qid, key))
    listing = store_list(pinpost, A)
    assert re.search(r"^host %s pins=2 pkp=\S+ stsec=2\S+ " % key,
                     listing, re.M), listing

    # B saw the whole mail transaction inside TLS, after EHLO + STARTTLS
    (s,) = mail_sessions(B.log())
    assert s.verbs[:3] == ["EHLO", "STARTTLS", "EHLO"], s
    assert all(tls for v, tls in s.commands[2:]), s


def test_multi_line_pkp_form_is_accumulated(smtpd, pinpost):
    """B advertises one PKP line per pin (pkp_format = multi): A keeps
    both pins, not just the last line's."""
    A, B = pair(smtpd, b={"pkp_format": "multi"})
    deliver(A, B, "multi", 1)
    rec = learned(pinpost, A, B)
    assert len(rec.pins) == 2


def test_rotation_to_the_backup_key(smtpd, pinpost):
    """B starts serving its backup key (and announces a new backup): the
    backup pin lets A deliver, and A then replaces the pin set."""
    A, B = pair(smtpd)
    deliver(A, B, "learn", 1)
    learned(pinpost, A, B)
    backup_pin = openssl_pin(B.keys["backup_pub"], "pub")

    k2, conf2 = rotate_to_backup(B, "rotated")
    B.restart(**conf2)
    start_a = len(A.log())
    qid = deliver(A, B, "after rotation", 2)
    wait_log_re(A, r"id=%s host=%s stage=pins policy=host-stsec "
                r"level=encrypt pins-known=2 chain=%s verdict=proceed"
                % (qid, re.escape(store_key(B)), re.escape(backup_pin)),
                start_a)
    wait_store(pinpost, A, store_key(B),
               lambda r: set(r.pins) == pins_of(k2))


def test_caps_clamp_max_age(smtpd, pinpost):
    """A keeps what B advertises at most pkp_cap / stsec_cap."""
    A, B = pair(smtpd, a={"pkp_cap": "100s", "stsec_cap": "200s"})
    t0 = time.time()
    deliver(A, B, "capped", 1)
    rec = learned(pinpost, A, B)
    assert abs(rec.pkp_until - (t0 + 100)) <= 5, rec
    assert abs(rec.stsec_until - (t0 + 200)) <= 5, rec


def test_silence_does_not_forget(smtpd, pinpost):
    """A known peer whose EHLO inside TLS no longer mentions PKP or STSEC
    keeps its pins and STSEC until they expire (only MAX-AGE=0 removes
    them, as in HSTS, RFC 6797 8.1)."""
    A, B = pair(smtpd)
    deliver(A, B, "learn", 1)
    before = learned(pinpost, A, B)
    B.restart(pkp_enable="no", stsec_enable="no")
    deliver(A, B, "silent", 2)
    time.sleep(0.3)
    rec = store_show(pinpost, A, store_key(B))
    assert set(rec.pins) == set(before.pins), rec
    assert rec.pkp_until == before.pkp_until, rec
    assert rec.stsec_until == before.stsec_until, rec


def test_key_change_without_pins_is_logged(smtpd, pinpost):
    """B announces STSEC but no pins; a new key is delivered to (TLS is
    all that is required) and logged as a key change."""
    A, B = pair(smtpd, b={"pkp_enable": "no"})
    deliver(A, B, "learn", 1)
    rec = wait_store(pinpost, A, store_key(B),
                     lambda r: r is not None and r.stsec_until is not None)
    assert rec.pins == []
    assert rec.fields["last-pin"] == openssl_pin(B.keys["cert"], "cert")
    k2, conf2 = new_keys(B, "next")
    B.restart(**conf2)
    start_a = len(A.log())
    qid = deliver(A, B, "new key", 2)
    wait_log_re(A, r"id=%s host=%s noted=0x[0-9a-f]+ key-change=yes"
                % (qid, re.escape(store_key(B))), start_a)
    wait_store(pinpost, A, store_key(B),
               lambda r: r.fields.get("last-pin") ==
               openssl_pin(k2["cert"], "cert"))


def test_several_messages_each_delivered_once(smtpd):
    A, B = pair(smtpd)
    qids = [submit(A, "burst %d" % i) for i in range(6)]
    B.wait_maildir(6, "bob", domain="b.test", timeout=15)
    for q in qids:
        wait_log_re(A, r"id=%s removed" % q)
    time.sleep(0.3)
    msgs = [read_mail(p) for p in B.maildir("bob", "b.test")]
    subjects = sorted(re.search(rb"Subject: (burst \d)", m).group(1)
                      for m in msgs)
    assert subjects == [b"burst %d" % i for i in range(6)]


# ------------------------------------------------------------------ 2

def test_known_peer_gets_starttls_before_ehlo(smtpd, pinpost):
    A, B = pair(smtpd)
    deliver(A, B, "learn", 1)
    learned(pinpost, A, B)

    start = len(B.log())
    qid = deliver(A, B, "second", 2)
    (s,) = mail_sessions(B.log(), start)
    # STARTTLS is the first command; no EHLO before the handshake
    assert s.commands[0] == ("STARTTLS", False), s
    assert all(tls for v, tls in s.commands[1:]), s
    assert s.verbs[1] == "EHLO", s

    wait_log_re(A, r"id=%s host=%s stage=pins policy=host-stsec "
                r"level=encrypt pins-known=2 chain=\S+ verdict=proceed"
                % (qid, re.escape(store_key(B))))
    wait_store(pinpost, A, store_key(B),
               lambda r: r is not None and r.early == "accepted")


def test_known_peer_resumes_its_tls_session_under_its_pins(smtpd, pinpost):
    """A repeat delivery offers the session of the last one (TLS 1.3
    ticket) and B resumes it; the pins are checked against the keys of
    the full handshake that made the session, so the known peer still
    passes them, with the served key's pin in the chain."""
    A, B = pair(smtpd)
    q1 = deliver(A, B, "learn", 1)
    learned(pinpost, A, B)
    key = re.escape(store_key(B))
    wait_log_re(A, r"id=%s host=%s tls=TLSv1\.3 cipher=\S+ pkix=.* "
                r"resumed=no\b" % (q1, key))
    served = openssl_pin(B.conf["tls_cert_file"], "cert")
    for n in (2, 3):            # a new ticket every time
        qid = deliver(A, B, "again %d" % n, n)
        wait_log_re(A, r"id=%s host=%s tls=TLSv1\.3 cipher=\S+ pkix=.* "
                    r"resumed=yes\b" % (qid, key))
        m = wait_log_re(A, r"id=%s host=%s stage=pins policy=host-stsec "
                        r"level=encrypt pins-known=2 chain=(\S+) "
                        r"verdict=proceed" % (qid, key))
        assert served in m.group(1).split(","), m.group(0)

    # pins that leave out the key the session was made with: a resumed
    # session is held to them as a full handshake would be
    other = ["A" * 43 + "=", "B" * 42 + "A="]
    pinpost("-s", A.conf["store"], "pins", "add", store_key(B),
            "--pin", other[0], "--pin", other[1], "--max-age", "3600",
            "--stsec", "3600", check=0)
    qid = submit(A, "to pins it does not match")
    wait_log_re(A, r"id=%s host=%s tls=TLSv1\.3 cipher=\S+ pkix=.* "
                r"resumed=yes\b" % (qid, key))
    wait_log_re(A, r"id=%s host=%s stage=pins policy=host-stsec "
                r"level=encrypt pins-known=2 chain=\S+ verdict=defer "
                r"status=4\.7\.5" % (qid, key))
    wait_log_re(A, status_re(qid, "deferred", "4.7.5"))
    assert bob_count(B) == 3


# ------------------------------------------------------------------ 3

def test_key_outside_pins_defers_4_7_5_until_restored(smtpd, pinpost):
    A, B = pair(smtpd)
    deliver(A, B, "learn", 1)
    learned(pinpost, A, B)

    old = dict(B.conf)
    k2, conf2 = new_keys(B, "rogue")
    B.restart(**conf2)
    start_b = len(B.log())
    start_a = len(A.log())
    qid = submit(A, "to a rogue key")

    key = re.escape(store_key(B))
    rogue = openssl_pin(k2["cert"], "cert")
    m = wait_log_re(A, r"id=%s host=%s stage=pins policy=host-stsec "
                    r"level=encrypt pins-known=2 chain=(\S+) verdict=defer "
                    r"status=4\.7\.5 reason=\"[^\"]+\"" % (qid, key),
                    start_a)
    assert m.group(1) == rogue
    wait_log_re(A, status_re(qid, "deferred", "4.7.5"), start_a)
    # still queued; B got nothing and no command after the handshake
    assert any(qid in p for p in A.queue_files()), A.queue_files()
    assert bob_count(B) == 1
    assert mail_sessions(B.log(), start_b) == []
    for s in B.log()[start_b:].splitlines():
        assert "command=EHLO" not in s or "0000000000000000" in s, s
    # the old pins are kept, not replaced by the rogue ones
    assert set(store_show(pinpost, A, store_key(B)).pins) == pins_of(B.keys)

    # B's own key back: the next retry delivers
    B.restart(tls_cert_file=old["tls_cert_file"],
              tls_key_file=old["tls_key_file"],
              pkp_backup_pins=old["pkp_backup_pins"])
    B.wait_maildir(2, "bob", domain="b.test", timeout=15)
    wait_log_re(A, status_re(qid, "sent", "2.0.0"), start_a)
    assert not any(qid in p for p in A.queue_files())


# ------------------------------------------------------------------ 4

def test_stsec_peer_without_starttls_defers_4_7_4(smtpd, pinpost):
    A, B = pair(smtpd)
    deliver(A, B, "learn", 1)
    learned(pinpost, A, B)

    B.restart(starttls_enable="no")
    start_b = len(B.log())
    start_a = len(A.log())
    qid = submit(A, "no tls now")
    wait_log_re(A, r"id=%s host=%s stage=no-tls policy=host-stsec "
                r"level=encrypt .*verdict=defer status=4\.7\.4"
                % (qid, re.escape(store_key(B))), start_a)
    wait_log_re(A, status_re(qid, "deferred", "4.7.4"), start_a)
    # a retry comes and is deferred the same way
    m = wait_log_re(A, status_re(qid, "deferred", "4.7.4"), start_a)
    wait_log_re(A, status_re(qid, "deferred", "4.7.4"), m.end(),
                timeout=15)
    log_b = B.log()[start_b:]
    assert "command=MAIL" not in log_b, log_b
    assert "command=RCPT" not in log_b and "command=DATA" not in log_b
    assert "command=BDAT" not in log_b
    assert bob_count(B) == 1
    assert any(qid in p for p in A.queue_files())

    B.restart(starttls_enable="yes")
    start_b = len(B.log())
    B.wait_maildir(2, "bob", domain="b.test", timeout=15)
    wait_log_re(A, status_re(qid, "sent", "2.0.0"), start_a)
    (s,) = mail_sessions(B.log(), start_b)
    assert "STARTTLS" in s.verbs and ("MAIL", True) in s.commands, s


# ------------------------------------------------------------------ 5

def test_max_age_zero_forgets(smtpd, pinpost):
    A, B = pair(smtpd)
    deliver(A, B, "learn", 1)
    learned(pinpost, A, B)

    B.restart(pkp_max_age="0s", stsec_max_age="0s")
    start_a = len(A.log())
    qid = deliver(A, B, "forget", 2)
    wait_log_re(A, r"id=%s host=%s noted=" % (qid,
                                              re.escape(store_key(B))),
                start_a)
    rec = wait_store(pinpost, A, store_key(B),
                     lambda r: r is None or (not r.pins and
                                             r.pkp_until is None and
                                             r.stsec_until is None))
    assert rec is None or rec.fields.get("stsec") == "none", rec

    # nothing known any more: B without STARTTLS gets mail in plaintext
    B.restart(starttls_enable="no")
    start_b = len(B.log())
    qid = deliver(A, B, "plaintext now", 3)
    (s,) = mail_sessions(B.log(), start_b)
    assert "STARTTLS" not in s.verbs and not any(t for _, t in s.commands)
    wait_log_re(A, r"id=%s host=%s stage=no-tls policy=none level=may "
                r".*verdict=proceed" % (qid, re.escape(store_key(B))))


# ------------------------------------------------------------------ 6

def test_expired_pins_do_not_apply(smtpd, pinpost):
    A, B = pair(smtpd, b={"pkp_max_age": "2s", "stsec_max_age": "2s"})
    deliver(A, B, "learn", 1)
    rec = learned(pinpost, A, B)
    assert rec.pkp_until - time.time() <= 3

    # wait until both have run out (the store says "expired:")
    wait_store(pinpost, A, store_key(B),
               lambda r: r.pkp_until is None and r.stsec_until is None,
               timeout=6)
    k2, conf2 = new_keys(B, "next")
    B.restart(**conf2)
    start_a = len(A.log())
    qid = deliver(A, B, "after expiry", 2)
    wait_log_re(A, r"id=%s host=%s stage=pins policy=none level=may "
                r"pins-known=0 chain=\S+ verdict=proceed"
                % (qid, re.escape(store_key(B))), start_a)
    # and the new key's pins are what A knows now
    wait_store(pinpost, A, store_key(B),
               lambda r: set(r.pins) == pins_of(k2))


# ------------------------------------------------------------------ 7

def test_report_mode_delivers_and_logs(smtpd, pinpost):
    A, B = pair(smtpd, a={"pkp_mode": "report"})
    deliver(A, B, "learn", 1)
    old_pins = learned(pinpost, A, B).pins

    k2, conf2 = new_keys(B, "rogue")
    B.restart(**conf2)
    start_a = len(A.log())
    qid = deliver(A, B, "report only", 2)
    m = wait_log_re(A, r"id=%s host=%s stage=pins [^\n]*" % (
        qid, re.escape(store_key(B))), start_a)
    # delivered, and the line says what enforcement would have objected to
    assert "verdict=proceed report-only" in m.group(0), m.group(0)
    assert "chain=%s " % openssl_pin(k2["cert"], "cert") in m.group(0)
    assert "no chain key matches" in m.group(0), m.group(0)
    # a connection that failed the pins does not replace them
    time.sleep(0.3)
    assert set(store_show(pinpost, A, store_key(B)).pins) == set(old_pins)


# ------------------------------------------------------------------ 10

def test_expiry_after_retries_sends_dsn(smtpd):
    A = sender(smtpd, route="* [127.0.0.1]:%d" % free_port(),
               queue_lifetime="3s", delay_warning="0")
    t0 = time.monotonic()
    qid = submit(A, "doomed message", rcpt="x@remote.test")
    m = wait_log_re(A, status_re(qid, "deferred", "4.4.1",
                                 rcpt="x@remote.test"))
    # retried, then given up
    wait_log_re(A, status_re(qid, "deferred", "4.4.1",
                             rcpt="x@remote.test"), m.end())
    wait_log_re(A, status_re(qid, "expired", "4.4.1",
                             rcpt="x@remote.test"), timeout=15)
    assert time.monotonic() - t0 >= 3
    paths = A.wait_maildir(1, "alice", domain="a.test", timeout=10)
    wait_log_re(A, r"id=%s removed" % qid)
    assert not any(qid in p for p in A.queue_files())
    time.sleep(0.3)
    assert len(A.maildir("alice", "a.test")) == 1   # no delay notice

    dsn = DSN(read_mail(paths[0]))
    assert dsn.msg["To"].strip("<> ") == SENDER or SENDER in dsn.msg["To"]
    r = dsn.rcpt("x@remote.test")
    assert r["Action"] == "failed"
    assert r["Status"] == "4.4.1"
    assert "Subject: doomed message" in dsn.headers
    assert "Hello." not in dsn.headers      # headers only


@pytest.mark.parametrize("change, status, sentence", [
    ("key", "4.7.5", "presented a key that did not match the pins (PKP) "
     "it had published earlier"),
    ("starttls", "4.7.4", "had told us to always use TLS (STSEC), but TLS "
     "could not be used"),
])
def test_policy_expiry_dsn_says_why(smtpd, pinpost, change, status,
                                    sentence):
    """A message that expires after PKP (4.7.5) or STSEC (4.7.4)
    deferrals: the DSN gives the status and says why in plain words."""
    B = receiver(smtpd)
    A = sender(smtpd, route=route_to(B), queue_lifetime="3s",
               delay_warning="0")
    deliver(A, B, "learn", 1)
    learned(pinpost, A, B)

    if change == "key":
        B.restart(**new_keys(B, "rogue")[1])
    else:
        B.restart(starttls_enable="no")
    qid = submit(A, "policy failure")
    wait_log_re(A, status_re(qid, "expired", status), timeout=15)
    paths = A.wait_maildir(1, "alice", domain="a.test", timeout=10)
    dsn = DSN(read_mail(paths[0]))
    r = dsn.rcpt(RCPT)
    assert r["Action"] == "failed" and r["Status"] == status, r
    assert sentence in one_line(dsn.text), dsn.text
    assert "Subject: policy failure" in dsn.headers
    assert bob_count(B) == 1


def test_delay_notice_once(smtpd):
    A = sender(smtpd, route="* [127.0.0.1]:%d" % free_port(),
               queue_lifetime="1h", delay_warning="1s")
    qid = submit(A, "slow message", rcpt="x@remote.test")
    m = wait_log_re(A, r"id=%s dsn=\w+ kind=delayed to=<%s>"
                    % (qid, SENDER), timeout=10)
    paths = A.wait_maildir(1, "alice", domain="a.test")
    # more retries, no second notice
    m = wait_log_re(A, status_re(qid, "deferred", rcpt="x@remote.test"),
                    m.end())
    wait_log_re(A, status_re(qid, "deferred", rcpt="x@remote.test"),
                m.end(), timeout=10)
    assert len(A.maildir("alice", "a.test")) == 1
    assert A.log().count("kind=delayed") == 1
    assert any(qid in p for p in A.queue_files())

    dsn = DSN(read_mail(paths[0]))
    r = dsn.rcpt("x@remote.test")
    assert r["Action"] == "delayed" and r["Status"] == "4.4.1", r
    assert r["Will-Retry-Until"], r
    assert "Subject: slow message" in dsn.headers


def test_no_dsn_for_the_null_sender(smtpd):
    A = sender(smtpd, route="* [127.0.0.1]:%d" % free_port(),
               queue_lifetime="2s", delay_warning="1s")
    qid = submit(A, "bounce of a bounce", rcpt="x@remote.test",
                 sender_addr="")
    wait_log_re(A, status_re(qid, "expired", "4.4.1", rcpt="x@remote.test"),
                timeout=15)
    wait_log_re(A, r"id=%s removed" % qid)
    time.sleep(0.5)
    assert "kind=" not in A.log()
    assert A.queue_files() == []
    assert A.maildir("alice", "a.test") == []


# ------------------------------------------------------------------ 13

def test_restart_resumes_the_queue(smtpd):
    B = receiver(smtpd, _start=False)
    A = sender(smtpd, route=route_to(B))
    qid = submit(A, "survives a restart")
    wait_log_re(A, status_re(qid, "deferred", "4.4.1"))
    assert A.stop() == 0
    assert any(qid in p for p in A.queue_files())

    B.start()
    start_a = len(A.log())
    A.start()
    B.wait_maildir(1, "bob", domain="b.test", timeout=15)
    wait_log_re(A, status_re(qid, "sent", "2.0.0"), start_a)
    msg = read_mail(B.maildir("bob", "b.test")[0])
    assert b"Subject: survives a restart" in msg
    wait_log_re(A, r"id=%s removed" % qid, start_a)
    assert A.queue_files() == []


def test_learned_policy_survives_a_restart(smtpd, pinpost):
    A, B = pair(smtpd)
    deliver(A, B, "learn", 1)
    learned(pinpost, A, B)
    A.restart()
    start_b = len(B.log())
    deliver(A, B, "after restart", 2)
    (s,) = mail_sessions(B.log(), start_b)
    assert s.commands[0] == ("STARTTLS", False), s


# ------------------------------------------------------------------ 14

def test_dot_lines_arrive_intact(smtpd):
    A, B = pair(smtpd)
    body = ".leading dot\r\n..two dots\r\n.\r\nlast\r\n"
    deliver(A, B, "dots", 1, body=body)
    msg = lf(read_mail(B.maildir("bob", "b.test")[0]))
    assert msg.endswith(b"\n.leading dot\n..two dots\n.\nlast\n"), msg
