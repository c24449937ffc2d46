"""pinpostd's limits and shutdown: line lengths, recipients, message
size, SMTP smuggling (bare LF), error count, idle timeout, connection
caps, QUIT, and SIGTERM in the middle of traffic (no accepted message
lost).
"""
import glob
import os
import signal
import smtplib
import threading
import time

import pytest

from conftest import SMTPClosed, make_message, queued_id
from conftest import smtp_session as session

SENDER = "sender@client.test"


def transaction(c, rcpt="alice@example.test"):
    c.send("MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n" % (SENDER, rcpt))
    codes = [r.code for r in c.replies(3)]
    assert codes == [250, 250, 354], codes


def assert_nothing_delivered(srv, wait=0.3):
    time.sleep(wait)
    assert srv.maildir("alice") == []
    assert srv.queue_files("env") == [] and srv.queue_files("msg") == []


# ------------------------------------------------------------------ lines

def test_long_command_line(smtpd):
    srv = smtpd()
    c = session(srv)
    r = c.cmd("NOOP " + "x" * 595)          # 600 octets + CRLF
    assert (r.code, r.text[:5]) == (500, "5.5.6"), r
    assert c.cmd("NOOP").code == 250
    # an overlong line that arrives in pieces: one reply, in step after
    c.send(b"MAIL FROM:<" + b"a" * 700)
    time.sleep(0.2)
    c.send(b"b" * 300 + b">\r\nNOOP\r\n")
    r1, r2 = c.replies(2)
    assert (r1.code, r1.text[:5]) == (500, "5.5.6"), r1
    assert r2.code == 250, r2
    assert c.expect_silence(0.2) is None
    # 512 octets with CRLF is the limit and is accepted
    r = c.cmd("NOOP " + "y" * (510 - 5))
    assert r.code == 250, r
    c.close()


def test_recipient_limit(smtpd):
    srv = smtpd(recipient_limit="100")
    c = session(srv)
    c.send("MAIL FROM:<%s>\r\n" % SENDER + "".join(
        "RCPT TO:<user%d@relay.invalid>\r\n" % i for i in range(101)))
    replies = c.replies(102)
    assert replies[0].code == 250
    assert [r.code for r in replies[1:101]] == [250] * 100
    last = replies[101]
    assert (last.code, last.text[:5]) == (452, "4.5.3"), last
    assert c.cmd("RSET").code == 250
    assert c.cmd("NOOP").code == 250
    c.close()


def test_size_parameter_over_limit(smtpd):
    srv = smtpd(message_size_limit="65536")
    c = session(srv)
    r = c.cmd("MAIL FROM:<%s> SIZE=70000" % SENDER)
    assert (r.code, r.text[:5]) == (552, "5.3.4"), r
    r = c.cmd("MAIL FROM:<%s> SIZE=60000" % SENDER)
    assert r.code == 250, r
    c.close()


def test_data_over_size_limit(smtpd):
    srv = smtpd(message_size_limit="65536")
    ehlo = session(srv).ehlo()       # SIZE is advertised as configured
    assert "SIZE 65536" in ehlo.lines
    c = session(srv)
    transaction(c)
    line = b"x" * 98 + b"\r\n"
    body = b"Subject: big\r\n\r\n" + line * 700          # > 70000 octets
    assert len(body) > 70000
    c.send(body + b".\r\n")
    r = c.reply()
    assert (r.code, r.text[:5]) == (552, "5.3.4"), r
    assert c.cmd("NOOP").code == 250
    assert_nothing_delivered(srv)
    c.close()


def test_text_line_too_long(smtpd):
    srv = smtpd()
    c = session(srv)
    transaction(c)
    c.send(b"Subject: long\r\n\r\n" + b"z" * 999 + b"\r\n.\r\n")   # 1001
    r = c.reply()
    assert r.code == 550, r
    assert_nothing_delivered(srv)
    # 998 octets + CRLF is still fine
    transaction(c)
    c.send(b"Subject: long\r\n\r\n" + b"z" * 998 + b"\r\n.\r\n")
    r = c.reply()
    assert r.code == 250, r
    srv.wait_maildir(1)
    c.close()


def test_bare_lf_smuggling(smtpd):
    srv = smtpd()
    c = session(srv)
    transaction(c)
    c.send(b"Subject: smuggle\r\n\r\na\n.\nMAIL FROM:<smuggled@x.test>\r\n"
           b"RCPT TO:<bob@example.test>\r\nmore\r\n.\r\n")
    r = c.reply()
    assert (r.code, r.text[:5]) == (550, "5.5.2"), r
    # nothing else answered: the smuggled MAIL/RCPT never ran
    assert c.expect_silence(0.5) is None
    # the session is back in command state, with no transaction
    r = c.cmd("RCPT TO:<alice@example.test>")
    assert r.code == 503, r
    assert c.cmd("NOOP").code == 250
    assert_nothing_delivered(srv)
    assert srv.maildir("bob") == []
    assert "smuggled@x.test" not in srv.log()
    c.close()


@pytest.mark.parametrize("body", [
    b"a\r\n.\nx\r\n",            # LF-only end after a CRLF
    b"a\n.\r\nx\r\n",            # a "line" started by a bare LF
    b"a\r.\r\nx\r\n",            # bare CR
])
def test_bare_cr_lf_never_end_data(smtpd, body):
    srv = smtpd()
    c = session(srv)
    transaction(c)
    c.send(b"Subject: s\r\n\r\n" + body + b".\r\n")
    r = c.reply()
    assert (r.code, r.text[:5]) == (550, "5.5.2"), r
    assert c.expect_silence(0.3) is None
    assert_nothing_delivered(srv, wait=0.1)
    c.close()




@pytest.mark.parametrize("verb", [
    "DATA",
    "BDAT",
])
def test_message_of_exactly_the_size_limit(smtpd, verb):
    srv = smtpd(message_size_limit="65536")
    body = b"Subject: exactly 64k\r\n\r\n"
    while len(body) < 65536 - 100:
        body += b"y" * 98 + b"\r\n"
    body += b"z" * (65536 - len(body) - 2) + b"\r\n"
    assert len(body) == 65536
    c = session(srv)
    c.send("MAIL FROM:<%s> SIZE=65536\r\nRCPT TO:<alice@example.test>\r\n"
           % SENDER)
    assert [r.code for r in c.replies(2)] == [250, 250]
    if verb == "DATA":
        assert c.cmd("DATA").code == 354
        c.send(body + b".\r\n")
    else:
        c.send(b"BDAT 65536 LAST\r\n" + body)
    r = c.reply()
    assert r.code == 250, r
    srv.wait_maildir(1)
    msgs = srv.maildir_messages()
    assert len(msgs) == 1 and msgs[0].endswith(body.replace(b"\r\n", b"\n"))
    c.close()


# ------------------------------------------------------------------ errors

def test_max_errors(smtpd):
    srv = smtpd(max_errors="3")
    c = session(srv)
    assert c.cmd("FOO").code == 500
    assert c.cmd("BAR baz").code == 500
    c.send("XYZZY\r\n")
    r1, r2 = c.replies(2)
    assert r1.code == 500, r1
    assert (r2.code, r2.text[:5]) == (421, "4.7.0"), r2
    assert c.at_eof()
    assert 'close reason="too many errors"' in srv.log()
    c.close()


def test_commands_after_quit_not_answered(smtpd):
    srv = smtpd()
    c = session(srv)
    c.send("QUIT\r\nNOOP\r\nMAIL FROM:<%s>\r\n" % SENDER)
    r = c.reply()
    assert r.code == 221, r
    assert c.at_eof(), c.buf
    assert c.buf == b"", c.buf
    c.close()
    c = session(srv)
    assert c.cmd("QUIT").code == 221
    try:
        c.send("NOOP\r\n")
    except OSError:
        pass
    assert c.at_eof() and c.buf == b""
    c.close()


# ------------------------------------------------------------------ time

def test_command_and_data_timeout(smtpd):
    """An idle session gets 421 4.4.2 after command_timeout, one idle in
    the middle of DATA after data_timeout (both 10 s, the minimum, run
    side by side), while another client is served normally meanwhile."""
    srv = smtpd(command_timeout="10s", data_timeout="10s")
    idle = session(srv)
    t0 = time.monotonic()
    in_data = session(srv)
    transaction(in_data)
    in_data.send(b"Subject: stalled\r\n\r\nhalf a bo")
    t1 = time.monotonic()
    # meanwhile another client is served normally
    time.sleep(1)
    other = session(srv)
    transaction(other)
    r = other.cmd(make_message("during idle").decode() + ".")
    assert r.code == 250, r
    assert other.cmd("QUIT").code == 221
    srv.wait_maildir(1)
    r = idle.reply(timeout=15)
    elapsed = time.monotonic() - t0
    assert (r.code, r.text[:5]) == (421, "4.4.2"), r
    assert 9.5 <= elapsed <= 13, elapsed
    assert idle.at_eof()
    r = in_data.reply(timeout=5)
    elapsed = time.monotonic() - t1
    assert (r.code, r.text[:5]) == (421, "4.4.2"), r
    assert 9.5 <= elapsed <= 13, elapsed
    assert in_data.at_eof()
    log = srv.log()
    assert "timeout state=cmd" in log and "timeout state=data" in log
    # only the normal client's message arrived
    assert len(srv.maildir()) == 1
    assert srv.queue_files("env") == [] and srv.queue_files("msg") == []
    assert not any(b"stalled" in m for m in srv.maildir_messages())
    idle.close()
    in_data.close()


# ------------------------------------------------------------------ caps

def test_max_connections_per_ip(smtpd):
    srv = smtpd(max_connections_per_ip="2")
    a = srv.client()
    a.greeting()
    b = srv.client()
    b.greeting()
    c = srv.client()
    r = c.reply()
    assert (r.code, r.text[:5]) == (421, "4.7.0"), r
    assert c.at_eof()
    c.close()
    # another client address is not counted against 127.0.0.1
    d = srv.client(source="127.0.0.2")
    assert d.reply().code == 220
    srv.wait_log('refused connection reason="max_connections_per_ip"')
    # once one ends, 127.0.0.1 may connect again
    assert a.cmd("QUIT").code == 221
    assert a.at_eof()
    e = srv.client()
    assert e.reply().code == 220
    for x in (a, b, d, e):
        x.close()


def test_max_connections(smtpd):
    srv = smtpd(max_connections="3")
    cs = []
    for i in range(3):
        x = srv.client(source="127.0.0.%d" % (i + 1))
        x.greeting()
        cs.append(x)
    over = srv.client(source="127.0.0.4")
    r = over.reply()
    assert (r.code, r.text[:5]) == (421, "4.7.0"), r
    assert over.at_eof()
    over.close()
    srv.wait_log('refused connection reason="max_connections"')
    # the sessions already in are unaffected
    for x in cs:
        assert x.cmd("NOOP").code == 250
    assert cs[0].cmd("QUIT").code == 221
    assert cs[0].at_eof()
    y = srv.client(source="127.0.0.5")
    assert y.reply().code == 220
    for x in cs + [y]:
        x.close()


# ------------------------------------------------------------------ SIGTERM

def all_stored(srv):
    """Every stored message's bytes: Maildir files and queued .msg."""
    out = []
    for p in (glob.glob(os.path.join(srv.maildir_root, "*", "*", "new",
                                     "*")) +
              glob.glob(os.path.join(srv.spool, "queue", "*.msg"))):
        with open(p, "rb") as f:
            out.append((p, f.read()))
    return out


def test_sigterm_loses_no_accepted_message(smtpd):
    srv = smtpd()
    accepted = []               # (subject, queue id)
    lock = threading.Lock()
    stop = threading.Event()
    outcomes = []

    def sender(t):
        j = 0
        while not stop.is_set():
            try:
                with smtplib.SMTP(srv.host, srv.port, timeout=10) as s:
                    s.ehlo("load%d.client.test" % t)
                    while not stop.is_set():
                        subj = "sigterm-t%d-m%d" % (t, j)
                        j += 1
                        code, resp = s.mail(SENDER)
                        if code != 250:
                            raise smtplib.SMTPResponseException(code, resp)
                        code, resp = s.rcpt("alice@example.test")
                        if code != 250:
                            raise smtplib.SMTPResponseException(code, resp)
                        code, resp = s.data(make_message(subj))
                        if code != 250:
                            raise smtplib.SMTPResponseException(code, resp)
                        with lock:
                            accepted.append((subj, queued_id(resp)))
            except Exception as e:     # 421, closed, refused: done
                with lock:
                    outcomes.append((t, repr(e)))
                return

    threads = [threading.Thread(target=sender, args=(t,), daemon=True)
               for t in range(4)]
    for th in threads:
        th.start()

    # one session parked in the middle of DATA
    mid = srv.client()
    mid.greeting()
    mid.ehlo()
    transaction(mid)
    mid.send(b"Subject: sigterm-middata\r\n\r\npart of a body\r\n")

    deadline = time.monotonic() + 10
    while len(accepted) < 8 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(accepted) >= 8, (accepted, outcomes, srv.log())

    t0 = time.monotonic()
    srv.signal(signal.SIGTERM)
    rc = srv.proc.wait(10)
    took = time.monotonic() - t0
    stop.set()
    for th in threads:
        th.join(15)
    assert rc == 0, srv.log()
    assert took < 10

    # the mid-DATA session: 421 4.3.2 or a closed connection
    try:
        r = mid.reply(timeout=2)
        assert (r.code, r.text[:5]) == (421, "4.3.2"), r
        print("mid-DATA session:", r)
    except SMTPClosed:
        print("mid-DATA session: closed")
    mid.close()

    stored = all_stored(srv)
    blob = b"\n".join(d for _, d in stored)
    for subj, qid in accepted:
        found = [p for p, d in stored
                 if ("Subject: %s\r\n" % subj).encode() in d or
                 ("Subject: %s\n" % subj).encode() in d]
        assert found, "accepted %s (%s) is lost; log:\n%s" % (
            subj, qid, srv.log())
        assert qid.encode() in b"".join(
            d for p, d in stored if p in found), (subj, qid)
    assert b"sigterm-middata" not in blob
    assert "signal 15: stopping" in srv.log()
    print("accepted %d, outcomes %r" % (len(accepted), outcomes))
    assert "stopped" in srv.log()
