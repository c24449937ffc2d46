"""Delivery from a real pinpostd (A) to the scriptable fake SMTP server
(fakesmtp.py), which records every command with its TLS state: STARTTLS
on connect answered with 503 (as Exim and OpenSMTPD do) and remembered,
response injection after "220 Ready to start TLS", PKP/STSEC in a
plaintext EHLO, and the mail transaction with and without PIPELINING,
CHUNKING and SIZE.
"""
import base64
import hashlib
import re
import time

import pytest

from mailflow import (DSN, read_mail, sender, status_re, store_show, submit,
                      wait_log_re, wait_store)

FAKE_DOMAIN = "fake.test"
FAKE_RCPT = "bob@fake.test"


def via_fake(smtpd, fake, **kw):
    return sender(smtpd, route="%s [127.0.0.1]:%d" % (FAKE_DOMAIN,
                                                     fake.port), **kw)


def key_of(fake):
    return "[127.0.0.1]:%d" % fake.port


def send(A, fake, subject, n, body="Hello.\r\n"):
    """Submits to A; waits for the fake's n-th message and A's "sent"."""
    qid = submit(A, subject, rcpt=FAKE_RCPT, body=body)
    msgs = fake.wait_messages(n)
    wait_log_re(A, status_re(qid, "sent", rcpt=FAKE_RCPT))
    fake.wait_quiet()
    return qid, msgs[n - 1]


def first_verbs(fake, conn):
    return [(c.verb, c.tls) for c in fake.commands_of(conn)]


# ------------------------------------------------------------------ 8

def test_503_to_early_starttls_is_remembered(smtpd, pinpost, fake_smtp):
    fake = fake_smtp(replies={"STARTTLS@early": "503 5.5.1 EHLO first"})
    A = via_fake(smtpd, fake)

    # 1: an unknown peer: EHLO, STARTTLS, EHLO inside TLS; learns STSEC
    _, m1 = send(A, fake, "one", 1)
    assert m1.tls and m1.conn == 1
    assert first_verbs(fake, 1)[:3] == [("EHLO", False),
                                        ("STARTTLS", False),
                                        ("EHLO", True)]
    rec = wait_store(pinpost, A, key_of(fake),
                     lambda r: r is not None and r.stsec_until is not None)
    assert set(rec.pins) == set(fake.pins)

    # 2: STARTTLS first, 503, then EHLO + STARTTLS on the same connection
    qid, m2 = send(A, fake, "two", 2)
    assert m2.tls and m2.conn == 2, m2
    cmds = first_verbs(fake, 2)
    assert cmds[:4] == [("STARTTLS", False), ("EHLO", False),
                        ("STARTTLS", False), ("EHLO", True)], cmds
    assert fake.commands_of(2)[0].early
    assert all(tls for _, tls in cmds[3:]), cmds
    assert fake.connections() == [1, 2]         # no second connection
    wait_log_re(A, r"id=%s host=%s early-starttls=refused code=503"
                % (qid, re.escape(key_of(fake))))
    wait_store(pinpost, A, key_of(fake),
               lambda r: r is not None and r.early == "refused")

    # 3: straight to EHLO; no early STARTTLS any more
    _, m3 = send(A, fake, "three", 3)
    assert m3.tls and m3.conn == 3
    cmds = first_verbs(fake, 3)
    assert cmds[:3] == [("EHLO", False), ("STARTTLS", False),
                        ("EHLO", True)], cmds
    assert not any(c.early and c.verb == "STARTTLS"
                   for c in fake.commands_of(3))
    assert store_show(pinpost, A, key_of(fake)).early == "refused"


def test_503_fallback_still_refuses_plaintext(smtpd, pinpost, fake_smtp):
    """A known STSEC peer that answers 503 to early STARTTLS and then
    offers no STARTTLS after EHLO gets no mail: 4.7.4."""
    fake = fake_smtp(replies={"STARTTLS@early": "503 5.5.1 EHLO first"})
    A = via_fake(smtpd, fake)
    send(A, fake, "learn", 1)
    wait_store(pinpost, A, key_of(fake),
               lambda r: r is not None and r.stsec_until is not None)

    fake.ehlo_plain.remove("STARTTLS")
    qid = submit(A, "stripped", rcpt=FAKE_RCPT)
    wait_log_re(A, status_re(qid, "deferred", "4.7.4", rcpt=FAKE_RCPT))
    fake.wait_quiet()
    later = [c for c in fake.commands if c.conn >= 2]
    assert later and later[0].verb == "STARTTLS", later
    assert not any(c.verb in ("MAIL", "RCPT", "DATA", "BDAT")
                   for c in later), later
    assert len(fake.messages) == 1


# ------------------------------------------------------------------ 9

def forged_pin():
    return base64.b64encode(hashlib.sha256(b"forged").digest()).decode()


def test_response_injection_is_discarded(smtpd, pinpost, fake_smtp):
    bad = forged_pin()
    fake = fake_smtp(
        pkp_max_age=500, stsec_max_age=600,
        inject={"STARTTLS": "250-PKP MAX-AGE=999 PIN-SHA256=%s\r\n"
                            "250 STSEC MAX-AGE=999\r\n" % bad})
    fake.replies["STARTTLS"] = "220 2.0.0 Ready to start TLS"
    A = via_fake(smtpd, fake)
    t0 = time.time()
    qid, m = send(A, fake, "injected", 1)
    assert m.tls

    wait_log_re(A, r"id=%s host=%s discarded=\d+ reason=" %
                (qid, re.escape(key_of(fake))))
    # A still sent its own EHLO inside TLS (it did not take the injected
    # lines for the EHLO reply)
    assert [(c.verb, c.tls) for c in fake.commands_of(1)][:3] == [
        ("EHLO", False), ("STARTTLS", False), ("EHLO", True)]
    rec = wait_store(pinpost, A, key_of(fake),
                     lambda r: r is not None and r.stsec_until is not None)
    assert bad not in rec.pins
    assert set(rec.pins) == set(fake.pins)
    # the expiries are the real EHLO's (500 / 600 s), not the forged 999
    assert abs(rec.pkp_until - (t0 + 500)) <= 5, rec
    assert abs(rec.stsec_until - (t0 + 600)) <= 5, rec


def test_pkp_stsec_in_plaintext_are_never_noted(smtpd, pinpost,
                                                fake_smtp):
    fake = fake_smtp()
    fake.ehlo_plain = [l for l in fake.ehlo_plain if l != "STARTTLS"] + [
        fake.pkp_line(), fake.stsec_line()]
    A = via_fake(smtpd, fake)
    qid, m = send(A, fake, "plain", 1)
    assert not m.tls
    time.sleep(0.3)
    rec = store_show(pinpost, A, key_of(fake))
    assert rec is None or (not rec.pins and rec.pkp_until is None and
                           rec.stsec_until is None), rec
    assert "noted=" not in A.log()

    # and so the next delivery is plaintext again, without STARTTLS first
    _, m = send(A, fake, "plain again", 2)
    assert not m.tls
    assert fake.commands_of(2)[0].verb == "EHLO"


# ------------------------------------------------------------------ 14

BODY = "first\r\n.leading dot\r\n..two dots\r\n.\r\nlast\r\n"


def mail_line(fake, conn):
    return [c.line for c in fake.commands_of(conn) if c.verb == "MAIL"][0]


def test_chunking_and_pipelining(smtpd, fake_smtp):
    fake = fake_smtp(chunking=True, pipelining=True)
    seen = []

    def mail_reply(session, line):
        # what else arrived right behind MAIL: the pipelined RCPT
        seen.append(session.pending(0.2))
        return "250 2.1.0 Ok"
    fake.replies["MAIL"] = mail_reply
    A = via_fake(smtpd, fake)
    _, m = send(A, fake, "chunked", 1, body=BODY)
    assert m.method == "BDAT" and m.tls
    verbs = [c.verb for c in fake.commands_of(1) if c.tls]
    assert verbs == ["EHLO", "MAIL", "RCPT", "BDAT", "QUIT"], verbs
    bdat = [c.line for c in fake.commands_of(1) if c.verb == "BDAT"][0]
    assert bdat == "BDAT %d LAST" % len(m.data), bdat
    # one group after the EHLO inside TLS: MAIL, RCPT, BDAT LAST with the
    # body, QUIT, all sent before the reply to MAIL (RFC 3030 4.2)
    behind = seen[0]
    assert behind.startswith(b"RCPT TO:<%s>\r\nBDAT %d LAST\r\n"
                             % (FAKE_RCPT.encode(), len(m.data))), seen
    assert behind.endswith(BODY.encode() + b"QUIT\r\n"), seen
    # BDAT: the body as it is, no dot-stuffing, no terminator
    assert m.wire == m.data
    assert m.data.endswith(BODY.encode()), m.data
    assert "SIZE=%d" % len(m.data) in mail_line(fake, 1)
    assert m.rcpts == ["<%s>" % FAKE_RCPT]


def test_data_with_pipelining_sends_quit_behind_the_dot(smtpd, fake_smtp):
    """PIPELINING without CHUNKING: MAIL, RCPT, DATA in one group, then
    the body, its terminator and QUIT in one (RFC 2920 3.1)."""
    fake = fake_smtp(chunking=False, pipelining=True)
    seen = {}

    def mail_reply(session, line):
        seen["mail"] = session.pending(0.2)
        return "250 2.1.0 Ok"

    def end_reply(session, line):
        seen["end"] = session.pending(0.2)
        return "250 2.0.0 Ok: queued"
    fake.replies["MAIL"] = mail_reply
    fake.replies["DATA-END"] = end_reply
    A = via_fake(smtpd, fake)
    _, m = send(A, fake, "pipelined data", 1, body=BODY)
    assert m.method == "DATA" and m.tls
    assert seen["mail"] == b"RCPT TO:<%s>\r\nDATA\r\n" % \
        FAKE_RCPT.encode(), seen
    assert seen["end"] == b"QUIT\r\n", seen


def test_pipelined_bdat_with_every_recipient_refused(smtpd, fake_smtp):
    """The body went with RCPT; every RCPT refused: the server reads the
    chunk and refuses it, the recipient bounces with the RCPT's reply and
    the connection ends with QUIT, nothing delivered."""
    fake = fake_smtp(chunking=True, pipelining=True, replies={
        "RCPT@tls": "550 5.1.1 no such user",
        "BDAT-LAST": "554 5.5.1 no valid recipients"})
    A = via_fake(smtpd, fake)
    qid = submit(A, "nobody", rcpt=FAKE_RCPT, body=BODY)
    wait_log_re(A, status_re(qid, "bounced", "5.1.1", rcpt=FAKE_RCPT))
    fake.wait_quiet()
    verbs = [c.verb for c in fake.commands_of(1) if c.tls]
    assert verbs == ["EHLO", "MAIL", "RCPT", "BDAT", "QUIT"], verbs
    assert fake.messages == []


def test_data_without_pipelining_is_dot_stuffed(smtpd, fake_smtp):
    fake = fake_smtp(chunking=False, pipelining=False)
    seen = []

    def mail_reply(session, line):
        seen.append(session.pending(0.2))
        return "250 2.1.0 Ok"
    fake.replies["MAIL"] = mail_reply
    A = via_fake(smtpd, fake)
    _, m = send(A, fake, "stuffed", 1, body=BODY)
    assert m.method == "DATA" and m.tls
    verbs = [c.verb for c in fake.commands_of(1) if c.tls]
    assert verbs == ["EHLO", "MAIL", "RCPT", "DATA", "QUIT"], verbs
    assert seen == [b""], seen          # nothing sent before MAIL's reply
    # on the wire every line that starts with "." has one more
    assert m.wire.endswith(b"first\r\n..leading dot\r\n...two dots\r\n"
                           b"..\r\nlast\r\n"), m.wire
    assert m.data.endswith(BODY.encode()), m.data
    assert "SIZE=%d" % len(m.data) in mail_line(fake, 1)


def test_no_size_param_without_size(smtpd, fake_smtp):
    fake = fake_smtp(size=None)
    A = via_fake(smtpd, fake)
    send(A, fake, "no size", 1)
    assert mail_line(fake, 1) == "MAIL FROM:<alice@a.test>"


def test_message_over_size_limit_bounces_without_mail(smtpd, fake_smtp):
    fake = fake_smtp(size=100)
    A = via_fake(smtpd, fake)
    qid = submit(A, "too big", rcpt=FAKE_RCPT, body="x" * 200 + "\r\n")
    wait_log_re(A, status_re(qid, "bounced", "5.3.4", rcpt=FAKE_RCPT))
    fake.wait_quiet()
    assert not any(c.verb == "MAIL" for c in fake.commands)
    assert fake.messages == []
    # the sender is local: the bounce lands in alice's Maildir
    A.wait_maildir(1, "alice", domain="a.test")


# ------------------------------------------------------------------
# policy corner cases

def test_pkp_without_backup_pin_is_not_noted(smtpd, pinpost, fake_smtp):
    """RFC 7469 2.5: a pin set with no pin outside the chain (no backup)
    is not noted; the STSEC beside it is."""
    fake = fake_smtp()
    fake.ehlo_tls = [l for l in fake.ehlo_tls if not l.startswith("PKP")]
    fake.ehlo_tls.append(fake.pkp_line(pins=fake.pins[:1]))
    A = via_fake(smtpd, fake)
    send(A, fake, "no backup", 1)
    rec = wait_store(pinpost, A, key_of(fake),
                     lambda r: r is not None and r.stsec_until is not None)
    time.sleep(0.2)
    rec = store_show(pinpost, A, key_of(fake))
    assert rec.pins == [] and rec.pkp_until is None, rec


def test_pins_alone_require_tls(smtpd, pinpost, fake_smtp):
    """A host with live pins and no STSEC still gets no plaintext."""
    fake = fake_smtp()
    fake.ehlo_tls = [l for l in fake.ehlo_tls if not l.startswith("STSEC")]
    A = via_fake(smtpd, fake)
    send(A, fake, "pins only", 1)
    rec = wait_store(pinpost, A, key_of(fake),
                     lambda r: r is not None and len(r.pins) == 2)
    assert rec.stsec_until is None, rec

    fake.ehlo_plain.remove("STARTTLS")
    qid = submit(A, "stripped", rcpt=FAKE_RCPT)
    wait_log_re(A, r"id=%s host=%s stage=no-tls policy=host-pkp "
                r"level=encrypt .*verdict=defer status=4\.7\.4"
                % (qid, re.escape(key_of(fake))))
    wait_log_re(A, status_re(qid, "deferred", "4.7.4", rcpt=FAKE_RCPT))
    fake.wait_quiet()
    assert not any(c.verb in ("MAIL", "RCPT", "DATA", "BDAT")
                   for c in fake.commands if c.conn >= 2)


def test_failed_handshake(smtpd, pinpost, fake_smtp):
    """Unknown peer: a failed handshake falls back to plaintext
    (opportunistic, as tls_level = may says).  Known STSEC peer: it
    defers 4.7.4 and never retries in plaintext."""
    fake = fake_smtp(broken_tls=True)
    A = via_fake(smtpd, fake)
    qid, m = send(A, fake, "opportunistic", 1)
    assert not m.tls
    assert store_show(pinpost, A, key_of(fake)) is None or \
        store_show(pinpost, A, key_of(fake)).stsec_until is None

    fake.broken_tls = False
    send(A, fake, "learn", 2)
    wait_store(pinpost, A, key_of(fake),
               lambda r: r is not None and r.stsec_until is not None)
    conns = len(fake.connections())

    fake.broken_tls = True
    qid = submit(A, "not in plaintext", rcpt=FAKE_RCPT)
    wait_log_re(A, r"id=%s host=%s stage=no-tls policy=host-stsec "
                r"level=encrypt .*verdict=defer status=4\.7\.4"
                % (qid, re.escape(key_of(fake))))
    wait_log_re(A, status_re(qid, "deferred", "4.7.4", rcpt=FAKE_RCPT))
    fake.wait_quiet()
    later = [c for c in fake.commands if c.conn > conns]
    assert later[0].verb == "STARTTLS", later
    assert not any(c.verb in ("MAIL", "RCPT", "DATA", "BDAT", "EHLO",
                              "HELO") for c in later), later
    assert len(fake.messages) == 2


def test_tls_level_encrypt_route(smtpd, fake_smtp):
    fake = fake_smtp()
    fake.ehlo_plain.remove("STARTTLS")
    A = sender(smtpd, route="%s [127.0.0.1]:%d encrypt" % (FAKE_DOMAIN,
                                                          fake.port))
    qid = submit(A, "must be encrypted", rcpt=FAKE_RCPT)
    wait_log_re(A, r"id=%s host=\S+ stage=no-tls policy=tls-level "
                r"level=encrypt .*verdict=defer status=4\.7\.4" % qid)
    wait_log_re(A, status_re(qid, "deferred", "4.7.4", rcpt=FAKE_RCPT))
    fake.wait_quiet()
    assert not any(c.verb in ("MAIL", "HELO") for c in fake.commands)


def test_helo_fallback_for_an_unknown_peer(smtpd, fake_smtp):
    fake = fake_smtp(replies={"EHLO": "502 5.5.2 no ESMTP here"})
    A = via_fake(smtpd, fake)
    _, m = send(A, fake, "old server", 1)
    assert not m.tls and m.method == "DATA"
    assert [c.verb for c in fake.commands_of(1)][:3] == ["EHLO", "HELO",
                                                         "MAIL"]


def test_ehlo_refused_inside_tls_is_reported_consistently(smtpd,
                                                         fake_smtp):
    """The server refuses EHLO after STARTTLS with 554 5.7.1.  Whether
    A defers or bounces, the result's class must agree with its status
    (deferred: 4.x.x, bounced: 5.x.x), and the reply kept for the DSN
    is the server's own."""
    fake = fake_smtp(replies={"EHLO@tls": "554 5.7.1 go away"})
    A = via_fake(smtpd, fake)
    qid = submit(A, "ehlo refused", rcpt=FAKE_RCPT)
    m = wait_log_re(A, r"id=%s to=<%s> relay=\S+ status=(deferred|bounced) "
                    r"dsn=(\S+) reply=\"([^\"]*)\"" % (qid, FAKE_RCPT))
    what, dsn, reply = m.groups()
    assert not any(c.verb == "MAIL" for c in fake.commands)
    assert dsn[0] == {"deferred": "4", "bounced": "5"}[what], m.group(0)
    assert "5.7.1 go away" in reply or what == "deferred", m.group(0)


def test_per_recipient_results(smtpd, fake_smtp):
    """5xx bounces that recipient, 4xx retries only that one, 2xx is
    delivered once."""
    state = {"later": "450 4.2.1 try again later"}

    def rcpt_reply(session, line):
        if "bad@" in line:
            return "550 5.1.1 no such user"
        if "later@" in line:
            return state["later"]
        return "250 2.1.5 Ok"
    fake = fake_smtp(replies={"RCPT": rcpt_reply})
    A = via_fake(smtpd, fake)
    rcpts = [FAKE_RCPT, "bad@fake.test", "later@fake.test"]
    qid = submit(A, "three recipients", rcpt=rcpts)
    fake.wait_messages(1)
    wait_log_re(A, status_re(qid, "sent", "2.0.0", rcpt=FAKE_RCPT))
    wait_log_re(A, status_re(qid, "bounced", "5.1.1", rcpt="bad@fake.test"))
    wait_log_re(A, status_re(qid, "deferred", "4.2.1",
                             rcpt="later@fake.test"))
    assert fake.messages[0].rcpts == ["<%s>" % FAKE_RCPT]

    # the bounce names only bad@ and reaches the local sender
    paths = A.wait_maildir(1, "alice", domain="a.test")
    dsn = DSN(read_mail(paths[0]))
    assert [r["Final-Recipient"].replace(" ", "")
            for r in dsn.recipients] == ["rfc822;bad@fake.test"]
    assert dsn.rcpt("bad@fake.test")["Status"] == "5.1.1"

    state["later"] = "250 2.1.5 Ok"
    fake.wait_messages(2, timeout=15)
    wait_log_re(A, status_re(qid, "sent", "2.0.0", rcpt="later@fake.test"))
    wait_log_re(A, r"id=%s removed" % qid)
    assert fake.messages[1].rcpts == ["<later@fake.test>"]
    fake.wait_quiet()
    rcpt_lines = [c.line for c in fake.commands if c.verb == "RCPT"]
    assert sorted(rcpt_lines[3:]) == ["RCPT TO:<later@fake.test>"], \
        rcpt_lines
    assert len(fake.messages) == 2


def test_injection_after_early_starttls_is_discarded(smtpd, pinpost,
                                                    fake_smtp):
    """The same for a known peer, whose STARTTLS comes right after the
    greeting: forged lines behind that 220 change nothing."""
    fake = fake_smtp()
    A = via_fake(smtpd, fake)
    send(A, fake, "learn", 1)
    rec = wait_store(pinpost, A, key_of(fake),
                     lambda r: r is not None and r.stsec_until is not None)
    stsec_before = rec.stsec_until

    bad = forged_pin()
    fake.inject["STARTTLS@early"] = (
        "250-PKP MAX-AGE=0\r\n250-STSEC MAX-AGE=0\r\n"
        "250 PKP MAX-AGE=999 PIN-SHA256=%s\r\n" % bad).encode()
    qid, m = send(A, fake, "early injected", 2)
    assert m.tls
    assert fake.commands_of(2)[0].verb == "STARTTLS"
    assert fake.commands_of(2)[0].early
    wait_log_re(A, r"id=%s host=%s discarded=\d+" %
                (qid, re.escape(key_of(fake))))
    rec = store_show(pinpost, A, key_of(fake))
    assert set(rec.pins) == set(fake.pins), rec
    assert rec.stsec_until is not None and rec.stsec_until >= stsec_before


def test_message_to_two_domains(smtpd, pinpost, fake_smtp):
    """One message, a recipient at B (pinpostd) and one at the fake
    server: each domain's delivery on its own, each exactly once."""
    from mailflow import receiver, route_to
    fake = fake_smtp()
    B = receiver(smtpd)
    A = sender(smtpd, route="%s, %s [127.0.0.1]:%d" % (
        route_to(B), FAKE_DOMAIN, fake.port))
    qid = submit(A, "two domains", rcpt=["bob@b.test", FAKE_RCPT])
    B.wait_maildir(1, "bob", domain="b.test")
    fake.wait_messages(1)
    wait_log_re(A, status_re(qid, "sent", rcpt="bob@b.test"))
    wait_log_re(A, status_re(qid, "sent", rcpt=FAKE_RCPT))
    wait_log_re(A, r"id=%s removed" % qid)
    time.sleep(0.3)
    assert len(B.maildir("bob", "b.test")) == 1
    assert len(fake.messages) == 1
    assert fake.messages[0].rcpts == ["<%s>" % FAKE_RCPT]
