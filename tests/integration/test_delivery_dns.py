"""Delivery by MX lookup through a real unbound on loopback (answering
from local-data only): a null MX (RFC 7505) bounces, and STSEC learned
from one MX host of a domain is inherited by its other MX hosts
(DESIGN 1.4), so a blocked primary does not lead to plaintext.
"""
import re

from conftest import free_port
from mailflow import (DSN, mail_sessions, read_mail, receiver, sender,
                      status_re, store_list, store_show, submit,
                      wait_log_re, wait_store)

# a route that matches none of the domains used here
NO_ROUTE = "b.test [127.0.0.1]:9"


# ------------------------------------------------------------------ 11

def test_null_mx_bounces(smtpd, unbound):
    dns = unbound(["nullmx.test. MX 0 ."])
    A = sender(smtpd, route=NO_ROUTE, dns_resolver=dns.resolver)
    qid = submit(A, "to a null mx", rcpt="x@nullmx.test")
    wait_log_re(A, status_re(qid, "bounced", "5.1.10",
                             rcpt="x@nullmx.test"))
    paths = A.wait_maildir(1, "alice", domain="a.test")
    dsn = DSN(read_mail(paths[0]))
    r = dsn.rcpt("x@nullmx.test")
    assert r["Action"] == "failed" and r["Status"] == "5.1.10", r
    assert "Subject: to a null mx" in dsn.headers
    wait_log_re(A, r"id=%s removed" % qid)
    assert not any(qid in p for p in A.queue_files())


# ------------------------------------------------------------------ 12

def test_stsec_is_inherited_by_other_mx_hosts(smtpd, pinpost, unbound):
    dns = unbound(["mx.test. MX 10 mx1.mx.test.",
                   "mx.test. MX 20 mx2.mx.test.",
                   "mx1.mx.test. A 127.0.0.2",
                   "mx2.mx.test. A 127.0.0.3"])
    port = free_port()
    B1 = receiver(smtpd, domain="mx.test", _host="127.0.0.2", _port=port)
    B2 = receiver(smtpd, domain="mx.test", _host="127.0.0.3", _port=port,
                  starttls_enable="no")
    A = sender(smtpd, route=NO_ROUTE, relay_port=port,
               dns_resolver=dns.resolver)

    qid = submit(A, "via mx1", rcpt="bob@mx.test")
    B1.wait_maildir(1, "bob", domain="mx.test")
    wait_log_re(A, status_re(qid, "sent", "2.0.0", rcpt="bob@mx.test"))
    (s,) = mail_sessions(B1.log())
    assert "STARTTLS" in s.verbs
    rec = wait_store(pinpost, A, "mx1.mx.test",
                     lambda r: r is not None and r.stsec_until is not None)
    assert len(rec.pins) == 2
    wait_store(pinpost, A, "mx.test", lambda r: r is not None)
    listing = store_list(pinpost, A)
    assert re.search(r"^domain mx\.test stsec=2\S+ via=mx1\.mx\.test$",
                     listing, re.M), listing
    assert store_show(pinpost, A, "mx2.mx.test") is None

    # the primary is gone; the secondary has never been seen and offers
    # no STARTTLS: the domain's STSEC makes A defer, not go plaintext
    assert B1.stop() == 0
    start_b2 = len(B2.log())
    start_a = len(A.log())
    qid = submit(A, "not to mx2 in plaintext", rcpt="bob@mx.test")
    wait_log_re(A, r"id=%s host=mx2\.mx\.test stage=no-tls "
                r"policy=domain-stsec level=encrypt .*verdict=defer "
                r"status=4\.7\.4" % qid, start_a)
    m = wait_log_re(A, status_re(qid, "deferred", "4.7.4",
                                 rcpt="bob@mx.test"), start_a)
    assert "relay=mx2.mx.test" in m.group(0), m.group(0)
    assert any(qid in p for p in A.queue_files())
    log_b2 = B2.log()[start_b2:]
    assert "connect from=" in log_b2            # A did go there
    for verb in ("MAIL", "RCPT", "DATA", "BDAT"):
        assert "command=%s" % verb not in log_b2, log_b2
    assert B2.maildir("bob", "mx.test") == []


def test_secondary_mx_with_tls_gets_the_mail(smtpd, pinpost, unbound):
    """Inheritance requires TLS, not the primary's pins: a secondary
    with its own key and STARTTLS is used (STARTTLS first)."""
    dns = unbound(["mx.test. MX 10 mx1.mx.test.",
                   "mx.test. MX 20 mx2.mx.test.",
                   "mx1.mx.test. A 127.0.0.2",
                   "mx2.mx.test. A 127.0.0.3"])
    port = free_port()
    B1 = receiver(smtpd, domain="mx.test", _host="127.0.0.2", _port=port)
    B2 = receiver(smtpd, domain="mx.test", _host="127.0.0.3", _port=port)
    A = sender(smtpd, route=NO_ROUTE, relay_port=port,
               dns_resolver=dns.resolver)
    qid = submit(A, "via mx1", rcpt="bob@mx.test")
    B1.wait_maildir(1, "bob", domain="mx.test")
    wait_store(pinpost, A, "mx.test", lambda r: r is not None)

    assert B1.stop() == 0
    start_b2 = len(B2.log())
    qid = submit(A, "via mx2", rcpt="bob@mx.test")
    B2.wait_maildir(1, "bob", domain="mx.test", timeout=15)
    m = wait_log_re(A, status_re(qid, "sent", "2.0.0", rcpt="bob@mx.test"))
    assert "relay=mx2.mx.test" in m.group(0)
    (s,) = mail_sessions(B2.log(), start_b2)
    assert s.commands[0] == ("STARTTLS", False), s
    wait_log_re(A, r"id=%s host=mx2\.mx\.test stage=pins "
                r"policy=domain-stsec level=encrypt pins-known=0 "
                r"chain=\S+ verdict=proceed" % qid)
