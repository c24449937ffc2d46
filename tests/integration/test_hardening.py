"""Hardening, each with the attack that showed it:

1. BDAT smuggling: a bare CR or LF in a BDAT body is refused as in DATA
   (550 5.5.2), even split across chunks; a message queued with bare
   line ends before that (a queue file from an older version) goes out
   with every line end made CRLF, by DATA and by BDAT, so "\\r.\\r" never
   reaches a next hop that might take it for the end of data.
2. Duplicate recipients: 1000 copies of one RCPT write one Maildir file.
3. A whole-message deadline: one octet a second after DATA or inside a
   BDAT chunk is cut at data_timeout; a slow but steady message is not.
4. The client after 221 or 421 in reply to STARTTLS (early or after
   EHLO): no more commands on that connection; deferred.
Also: a bare LF does not end a command line (500 5.5.2), and a NUL in a
body is refused (550 5.6.0).
"""
import os
import re
import threading
import time

import pytest

from conftest import SMTPClosed
from conftest import smtp_session as session
from mailflow import sender, status_re, submit, wait_log_re

SENDER = "sender@client.test"
SMUGGLE = (b"outer\n.\nMAIL FROM:<e@x>\n also \r.\r\n end\r\n")


def envelope(c, rcpt="alice@example.test"):
    c.send("MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\n" % (SENDER, rcpt))
    assert [r.code for r in c.replies(2)] == [250, 250]


def nothing_queued(srv, wait=0.3):
    time.sleep(wait)
    assert srv.maildir("alice") == []
    assert srv.queue_files("env") == [] and srv.queue_files("msg") == []


# ------------------------------------------------------------ 1: BDAT

@pytest.mark.parametrize("chunks", [
    [SMUGGLE],                                  # the reproducer
    [b"a\r\n", b"\nb\r\n"],                     # LF alone at a chunk start
    [b"a\r", b"b\r\n"],                         # CR, then no LF
    [b"a\r\n", b"b\r"],                         # CR ending the message
    [b"a\n", b"b\r\n"],
])
def test_bdat_bare_cr_lf_refused(smtpd, chunks):
    srv = smtpd()
    c = session(srv)
    envelope(c)
    for i, ch in enumerate(chunks):
        last = b" LAST" if i == len(chunks) - 1 else b""
        c.send(b"BDAT %d%s\r\n" % (len(ch), last) + ch)
        r = c.reply()
        if last:
            assert (r.code, r.text[:5]) == (550, "5.5.2"), r
        else:
            assert r.code == 250, r
    # nothing in the body ran as a command, and the session is in step
    assert c.expect_silence(0.3) is None
    assert c.cmd("RCPT TO:<alice@example.test>").code == 503
    assert c.cmd("NOOP").code == 250
    nothing_queued(srv, wait=0.1)
    assert "e@x" not in srv.log()
    c.close()


def test_bdat_crlf_split_across_chunks_accepted(smtpd):
    srv = smtpd()
    c = session(srv)
    envelope(c)
    c.send(b"BDAT 11\r\nSubject: s\r")
    assert c.reply().code == 250
    c.send(b"BDAT 5 LAST\r\n\n\r\nx\r")
    assert c.reply().code == 550            # a CR as the last octet
    envelope(c)
    c.send(b"BDAT 11\r\nSubject: s\r")
    assert c.reply().code == 250
    c.send(b"BDAT 6 LAST\r\n\n\r\nx\r\n")
    r = c.reply()
    assert r.code == 250 and "queued as" in r.text, r
    srv.wait_maildir(1)
    c.close()


@pytest.mark.parametrize("method", ["DATA", "BDAT"])
def test_nul_in_body_refused(smtpd, method):
    srv = smtpd()
    c = session(srv)
    envelope(c)
    body = b"Subject: nul\r\n\r\na\x00b\r\n"
    if method == "DATA":
        assert c.cmd("DATA").code == 354
        c.send(body + b".\r\n")
    else:
        c.send(b"BDAT %d LAST\r\n" % len(body) + body)
    r = c.reply()
    assert (r.code, r.text[:5]) == (550, "5.6.0"), r
    assert c.cmd("NOOP").code == 250
    nothing_queued(srv, wait=0.1)
    c.close()


@pytest.mark.parametrize("chunking", [False, True])
def test_relay_never_emits_bare_line_ends(smtpd, pinpost, fake_smtp,
                                          chunking):
    """A message queued with bare line ends (planted in the queue file,
    as an older version could have accepted by BDAT) is relayed with
    every line end CRLF: dot-stuffed DATA, or BDAT with the size of what
    is sent."""
    fake = fake_smtp(chunking=chunking, pipelining=True)
    A = sender(smtpd, route="fake.test [127.0.0.1]:9", retry_min="3600s",
               retry_max="3600s")
    qid = submit(A, "planted", rcpt="bob@fake.test",
                 body="MARKER-LINE\r\n")
    wait_log_re(A, status_re(qid, "deferred", rcpt="bob@fake.test"))
    assert A.stop() == 0
    path = os.path.join(A.spool, "queue", qid + ".msg")
    with open(path, "rb") as f:
        data = f.read()
    assert b"MARKER-LINE\r\n" in data
    with open(path, "wb") as f:
        f.write(data.replace(b"MARKER-LINE\r\n", SMUGGLE))
    A.restart(route="fake.test [127.0.0.1]:%d" % fake.port)
    pinpost("queue", "-f", A.conf_path, "flush", qid, check=0)
    m = fake.wait_messages(1)[0]
    wait_log_re(A, status_re(qid, "sent", rcpt="bob@fake.test"))
    assert re.search(rb"\r(?!\n)|(?<!\r)\n", m.wire) is None, m.wire
    want = b"outer\r\n.\r\nMAIL FROM:<e@x>\r\n also \r\n.\r\n end\r\n"
    assert m.data.endswith(want), m.data
    if chunking:
        assert m.method == "BDAT" and m.wire == m.data
        bdat = [c.line for c in fake.commands if c.verb == "BDAT"][0]
        assert bdat == "BDAT %d LAST" % len(m.data), bdat
    else:
        assert m.method == "DATA"
        assert m.wire.endswith(b"outer\r\n..\r\nMAIL FROM:<e@x>\r\n also "
                               b"\r\n..\r\n end\r\n"), m.wire
    assert len(fake.messages) == 1      # no smuggled second message


# ------------------------------------------------------------ 2: RCPT

def test_duplicate_recipients_delivered_once(smtpd):
    srv = smtpd()
    c = session(srv)
    spellings = ["alice@example.test", "alice@EXAMPLE.test",
                 "ALICE@example.test"]
    c.send("MAIL FROM:<%s>\r\n" % SENDER + "".join(
        "RCPT TO:<%s>\r\n" % spellings[i % 3] for i in range(1000)))
    replies = c.replies(1001)
    assert [r.code for r in replies] == [250] * 1001
    assert c.cmd("DATA").code == 354
    c.send(b"Subject: dup\r\n\r\nonce\r\n.\r\n")
    r = c.reply()
    assert r.code == 250, r
    srv.wait_maildir(1)
    time.sleep(0.5)
    assert len(srv.maildir("alice")) == 1
    c.close()


def test_duplicate_relay_recipients_queued_once(smtpd, pinpost):
    srv = smtpd()
    c = session(srv)
    rcpts = ["bob@relay.invalid", "bob@RELAY.invalid", "bob@relay.invalid",
             "Bob@relay.invalid"]          # the local part as written
    c.send("MAIL FROM:<%s>\r\n" % SENDER +
           "".join("RCPT TO:<%s>\r\n" % a for a in rcpts))
    assert [r.code for r in c.replies(5)] == [250] * 5
    assert c.cmd("DATA").code == 354
    c.send(b"Subject: dup\r\n\r\nonce\r\n.\r\n")
    r = c.reply()
    assert r.code == 250, r
    qid = re.search(r"queued as (\S+)", r.text).group(1)
    c.close()
    out = pinpost("queue", "-f", srv.conf_path, "show", qid, check=0).stdout
    listed = re.findall(r"<([^>]*@relay\.invalid)>", out, re.I)
    assert sorted(set(listed)) == ["Bob@relay.invalid",
                                   "bob@relay.invalid"], out
    assert len(listed) == 2, out


# ------------------------------------------------------------ 3: deadline

def trickle(c, prefix, results, key):
    """Sends prefix, then one octet a second until the server answers or
    closes; records (seconds, first bytes)."""
    t0 = time.monotonic()
    c.send(prefix)
    while time.monotonic() - t0 < 25:
        try:
            c.send(b"x")
            d = c.recv_some(1.0)
        except (OSError, SMTPClosed):
            d = b""
        if d is not None:
            results[key] = (time.monotonic() - t0, d)
            return
    results[key] = (None, b"")


def test_trickled_message_cut_at_data_timeout(smtpd):
    srv = smtpd(data_timeout="10s", command_timeout="30s")
    a = session(srv)
    envelope(a)
    assert a.cmd("DATA").code == 354
    b = session(srv)
    envelope(b)
    results = {}
    threads = [threading.Thread(target=trickle,
                                args=(a, b"Subject: slow\r\n", results,
                                      "DATA")),
               threading.Thread(target=trickle,
                                args=(b, b"BDAT 100000 LAST\r\n", results,
                                      "BDAT"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for key in ("DATA", "BDAT"):
        took, got = results[key]
        assert took is not None, "%s: still open after 25 s" % key
        # the per-read timeout alone never fires: a byte a second
        assert 9 <= took <= 14, (key, took)
        assert got == b"" or got.startswith(b"421 4.4.2"), (key, got)
    a.close()
    b.close()
    nothing_queued(srv, wait=0.1)
    assert srv.log().count("timeout state=") >= 2, srv.log()


def test_slow_steady_message_is_served(smtpd):
    """Past data_timeout in all, but 1000 octets every 0.5 s (well over
    data_min_rate): the deadline grows with what arrives."""
    srv = smtpd(data_timeout="10s")
    c = session(srv)
    envelope(c)
    assert c.cmd("DATA").code == 354
    t0 = time.monotonic()
    c.send(b"Subject: steady\r\n\r\n")
    while time.monotonic() - t0 < 12:
        c.send(b"y" * 998 + b"\r\n")
        assert c.recv_some(0.5) is None
    c.send(b".\r\n")
    r = c.reply()
    assert r.code == 250, r
    srv.wait_maildir(1)
    c.close()


# ------------------------------------------------------------ 4: client

@pytest.mark.parametrize("reply,dsn", [
    ("421 4.3.2 Service shutting down", "4.3.2"),
    ("221 2.0.0 Bye", "4.4.2"),
])
def test_client_stops_after_closing_reply_to_starttls(smtpd, fake_smtp,
                                                       reply, dsn):
    fake = fake_smtp(replies={"STARTTLS": reply})
    A = sender(smtpd, route="fake.test [127.0.0.1]:%d" % fake.port)
    qid = submit(A, "closing", rcpt="bob@fake.test")
    wait_log_re(A, status_re(qid, "deferred", dsn, rcpt="bob@fake.test"))
    fake.wait_quiet()
    assert fake.commands, "no session"
    for conn in fake.connections():
        verbs = [c.verb for c in fake.commands_of(conn)]
        assert verbs[-1] == "STARTTLS", (conn, verbs)
    assert fake.messages == []
    assert "starttls=closing" in A.log()


def test_client_stops_after_421_to_early_starttls(smtpd, pinpost,
                                                   fake_smtp):
    """A known peer (STARTTLS on connect) that answers 421: no EHLO after
    it on that connection; TLS is required, so the policy defers it as
    STARTTLS refused (4.7.4)."""
    from mailflow import wait_store
    fake = fake_smtp()
    A = sender(smtpd, route="fake.test [127.0.0.1]:%d" % fake.port)
    submit(A, "learn", rcpt="bob@fake.test")
    fake.wait_messages(1)
    wait_store(pinpost, A, "[127.0.0.1]:%d" % fake.port,
               lambda r: r is not None and r.stsec_until is not None)
    fake.wait_quiet()
    seen = len(fake.connections())
    fake.replies["STARTTLS@early"] = "421 4.7.0 Try again later"
    qid = submit(A, "closing early", rcpt="bob@fake.test")
    wait_log_re(A, status_re(qid, "deferred", "4.7.4", rcpt="bob@fake.test"))
    fake.wait_quiet()
    later = fake.connections()[seen:]
    assert later
    for conn in later:
        cmds = fake.commands_of(conn)
        assert [c.verb for c in cmds] == ["STARTTLS"], cmds
        assert cmds[0].early
    assert len(fake.messages) == 1


# ------------------------------------------------------------ commands

def test_bare_lf_does_not_end_a_command(smtpd):
    srv = smtpd()
    c = session(srv)
    c.send(b"NOOP\nRSET\n")
    r1, r2 = c.replies(2)
    assert (r1.code, r1.text[:5]) == (500, "5.5.2"), r1
    assert (r2.code, r2.text[:5]) == (500, "5.5.2"), r2
    # a MAIL ended by LF never ran: the RCPT after it has no MAIL
    c.send(b"MAIL FROM:<%s>\nRCPT TO:<alice@example.test>\r\n"
           % SENDER.encode())
    r1, r2 = c.replies(2)
    assert (r1.code, r1.text[:5]) == (500, "5.5.2"), r1
    assert r2.code == 503, r2
    assert c.cmd("NOOP").code == 250
    c.close()
