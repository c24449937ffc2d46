"""pinpostd, the receiving side: delivery into Maildir, acceptance rules,
BDAT, swaks as a real client, IPv6 and the privilege drop.

Each test starts its own pinpostd (the `smtpd` factory in conftest.py)
on a free loopback port, with a fresh key pair, and stops it at the end.
"""
import os
import pwd
import re
import shutil
import smtplib
import tempfile
import time

import pytest

from conftest import (client_ssl_context, have_ipv6_loopback, lf,
                      make_message, queued_id, run, smtplib_send)

SENDER = "sender@client.test"
HELO = "client.example.test"


def assert_delivered(srv, msg, qid, *, with_="ESMTP", rcpt="alice@example.test",
                     sender=SENDER, helo=HELO, mailbox="alice"):
    """The one message in the mailbox is msg, with LF line ends, after
    Return-Path, Delivered-To and a Received header naming qid."""
    paths = srv.wait_maildir(1, mailbox)
    assert len(paths) == 1, paths
    with open(paths[0], "rb") as f:
        data = f.read()
    assert b"\r" not in data, data
    prefix = ("Return-Path: <%s>\nDelivered-To: %s\nReceived: from %s ("
              % (sender, rcpt, helo)).encode()
    assert data.startswith(prefix), data
    assert data.endswith(lf(msg)), data
    received = data[data.index(b"Received: "):len(data) - len(lf(msg))]
    m = re.search(rb"\bwith (E?SMTPS?) id (\S+)\n", received)
    assert m, received
    assert m.group(1).decode() == with_, received
    assert m.group(2).decode() == qid, received
    assert b"by mx.example.test (pinpost)" in received
    assert ("for <%s>;" % rcpt).encode() in received
    # exactly one header line group: the Received header ends where the
    # message begins (folded lines start with a tab)
    for line in received.split(b"\n")[1:-1]:
        assert line.startswith(b"\t"), received
    return data, received


# ------------------------------------------------------------------ 1

def test_plain_delivery_smtplib(smtpd):
    srv = smtpd()
    body = (b"First line.\r\n.a line that starts with a dot\r\n"
            b"8-bit: caf\xc3\xa9\r\n\r\nlast line\r\n")
    msg = make_message("plain delivery", body)
    with smtplib.SMTP(srv.host, srv.port, local_hostname=HELO,
                      timeout=10) as s:
        s.ehlo()
        qid = smtplib_send(s, msg)
    assert re.fullmatch(r"[0-9a-f]{20}", qid), qid
    data, received = assert_delivered(srv, msg, qid, with_="ESMTP")
    assert b"([127.0.0.1]:" in received
    assert b"TLS" not in received
    # the queue entry is gone once delivered
    deadline = time.monotonic() + 5
    while srv.queue_files() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert srv.queue_files() == []
    assert "id=%s to=<alice@example.test> relay=local status=sent" % qid \
        in srv.log()


def test_starttls_delivery_smtplib(smtpd):
    srv = smtpd()
    msg = make_message("tls delivery", "over TLS\r\n")
    with smtplib.SMTP(srv.host, srv.port, local_hostname=HELO,
                      timeout=10) as s:
        s.ehlo()
        s.starttls(context=client_ssl_context())
        s.ehlo()
        version = s.sock.version()
        qid = smtplib_send(s, msg)
    assert version in ("TLSv1.2", "TLSv1.3")
    data, received = assert_delivered(srv, msg, qid, with_="ESMTPS")
    assert ("(%s cipher=" % version).encode() in received, received


def test_two_local_recipients(smtpd):
    srv = smtpd()
    msg = make_message("two recipients", to="alice@example.test, bob")
    with smtplib.SMTP(srv.host, srv.port, local_hostname=HELO,
                      timeout=10) as s:
        s.ehlo()
        qid = smtplib_send(s, msg, rcpts=("alice@example.test",
                                          "BOB@example.test"))
    for box in ("alice", "bob"):
        paths = srv.wait_maildir(1, box)
        with open(paths[0], "rb") as f:
            data = f.read()
        assert data.startswith(("Return-Path: <%s>\nDelivered-To: "
                                "%s@example.test\nReceived: " % (SENDER, box)
                                ).encode()), data
        assert re.search(rb"with ESMTP id %s;\n\t\w\w\w, " % qid.encode(),
                         data), data
        assert b"\tfor <" not in data        # two recipients: no "for"
        assert data.endswith(lf(msg))


def test_pipelined_transactions(smtpd):
    """Two whole transactions and QUIT in one write: every reply in
    order, both messages delivered."""
    srv = smtpd()
    c = srv.client()
    c.greeting()
    m1, m2 = make_message("pipelined one"), make_message("pipelined two")
    c.send(b"EHLO " + HELO.encode() + b"\r\n" +
           b"".join(b"MAIL FROM:<" + SENDER.encode() + b">\r\n"
                    b"RCPT TO:<alice@example.test>\r\nDATA\r\n" + m +
                    b".\r\n" for m in (m1, m2)) + b"QUIT\r\n")
    rs = c.replies(10)
    assert [r.code for r in rs] == [250, 250, 250, 354, 250,
                                    250, 250, 354, 250, 221], rs
    ids = [queued_id(rs[4].text), queued_id(rs[8].text)]
    assert ids[0] != ids[1]
    assert c.at_eof()
    srv.wait_maildir(2)
    got = b"".join(srv.maildir_messages())
    for qid, m in zip(ids, (m1, m2)):
        assert ("id %s\n" % qid).encode() in got
        assert lf(m) in got
    c.close()


def test_helo_gives_smtp_in_received(smtpd):
    srv = smtpd()
    c = srv.client()
    c.greeting()
    r = c.cmd("HELO old.client.test")
    assert r.code == 250 and r.lines == ["mx.example.test Hello "
                                         "old.client.test"]
    msg = make_message("helo")
    c.send("MAIL FROM:<%s>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n"
           % SENDER)
    assert [r.code for r in c.replies(3)] == [250, 250, 354]
    r = c.cmd(msg.decode() + ".")
    assert r.code == 250, r
    data, received = assert_delivered(srv, msg, queued_id(r.text),
                                      with_="SMTP", helo="old.client.test")
    c.close()


# ------------------------------------------------------------------ 9

def session(srv, **kw):
    c = srv.client(**kw)
    c.greeting()
    c.ehlo()
    return c


def test_unknown_local_mailbox_refused(smtpd):
    srv = smtpd()
    c = session(srv)
    assert c.cmd("MAIL FROM:<%s>" % SENDER).code == 250
    r = c.cmd("RCPT TO:<carol@example.test>")
    assert (r.code, r.text[:5]) == (550, "5.1.1"), r
    # the mailbox list is case-insensitive, the domain too
    assert c.cmd("RCPT TO:<Bob@EXAMPLE.test>").code == 250
    c.close()


def test_relay_from_loopback_stays_queued(smtpd):
    srv = smtpd()
    c = session(srv)
    msg = make_message("for relay", to="someone@relay.invalid")
    c.send("MAIL FROM:<%s>\r\nRCPT TO:<someone@relay.invalid>\r\nDATA\r\n"
           % SENDER)
    assert [r.code for r in c.replies(3)] == [250, 250, 354]
    r = c.cmd(msg.decode() + ".")
    assert r.code == 250, r
    qid = queued_id(r.text)
    envs = srv.queue_files("env")
    assert [os.path.basename(p) for p in envs] == [qid + ".env"]
    with open(envs[0]) as f:
        env = f.read()
    assert "addr=someone@relay.invalid" in env and "local=0" in env
    assert os.path.exists(os.path.join(srv.spool, "queue", qid + ".msg"))
    time.sleep(0.3)     # a local delivery, if any were wrongly scheduled
    assert srv.maildir("alice") == [] and srv.maildir("someone",
                                                      "relay.invalid") == []
    assert srv.queue_files("env") == envs
    c.close()


def test_relay_denied_outside_relay_networks(smtpd):
    srv = smtpd(relay_networks="10.0.0.0/8")
    c = session(srv)
    assert c.cmd("MAIL FROM:<%s>" % SENDER).code == 250
    r = c.cmd("RCPT TO:<someone@relay.invalid>")
    assert (r.code, r.text[:5]) == (554, "5.7.1"), r
    # local mail is still accepted from anywhere
    assert c.cmd("RCPT TO:<alice@example.test>").code == 250
    c.close()


def test_bare_postmaster(smtpd):
    srv = smtpd(mailboxes="postmaster@example.test, alice@example.test",
                local_domains="example.test, other.test")
    c = session(srv)
    assert c.cmd("MAIL FROM:<%s>" % SENDER).code == 250
    r = c.cmd("RCPT TO:<postmaster>")
    assert r.code == 250, r
    r = c.cmd("RCPT TO:<Postmaster>")
    assert r.code == 250, r
    assert c.cmd("DATA").code == 354
    msg = make_message("to postmaster", to="postmaster")
    r = c.cmd(msg.decode() + ".")
    assert r.code == 250, r
    paths = srv.wait_maildir(1, "postmaster")
    with open(paths[0], "rb") as f:
        assert b"Delivered-To: postmaster@example.test\n" in f.read()
    c.close()


def test_bare_postmaster_refused_without_mailbox(smtpd):
    srv = smtpd()       # no postmaster@example.test mailbox
    c = session(srv)
    assert c.cmd("MAIL FROM:<%s>" % SENDER).code == 250
    assert c.cmd("RCPT TO:<postmaster>").code == 550
    c.close()


def test_order_of_commands(smtpd):
    srv = smtpd()
    c = srv.client()
    c.greeting()
    r = c.cmd("MAIL FROM:<%s>" % SENDER)
    assert (r.code, r.text[:5]) == (503, "5.5.1"), r
    c.ehlo()
    r = c.cmd("RCPT TO:<alice@example.test>")
    assert (r.code, r.text[:5]) == (503, "5.5.1"), r
    r = c.cmd("DATA")
    assert r.code == 503, r
    assert c.cmd("MAIL FROM:<%s>" % SENDER).code == 250
    r = c.cmd("MAIL FROM:<%s>" % SENDER)
    assert r.code == 503, r          # nested MAIL
    r = c.cmd("DATA")
    assert r.code == 503, r          # no RCPT yet
    assert c.cmd("RSET").code == 250
    assert c.cmd("RCPT TO:<alice@example.test>").code == 503
    assert c.cmd("QUIT").code == 221
    assert c.at_eof()
    c.close()


# ------------------------------------------------------------------ 7

def bdat_session(srv):
    c = session(srv)
    c.send("MAIL FROM:<%s>\r\nRCPT TO:<alice@example.test>\r\n" % SENDER)
    assert [r.code for r in c.replies(2)] == [250, 250]
    return c


def test_bdat_two_chunks(smtpd):
    srv = smtpd()
    c = bdat_session(srv)
    payload = b"Subject: bdat\r\n\r\nhi\r\n"       # 22 octets
    a, b = payload[:10], payload[10:]
    c.send(b"BDAT 10\r\n" + a)
    r = c.reply()
    assert r.code == 250, r
    c.send(b"BDAT %d LAST\r\n" % len(b) + b)
    r = c.reply()
    assert r.code == 250, r
    qid = queued_id(r.text)
    assert c.expect_silence(0.2) is None
    data, received = assert_delivered(srv, payload, qid, with_="ESMTP")
    c.close()


def test_bdat_exact_split(smtpd):
    """The brief's shape: BDAT 10 + 10 octets, BDAT 5 LAST + 5 octets,
    sent in one write: exactly two replies, 15 octets stored."""
    srv = smtpd()
    c = bdat_session(srv)
    payload = b"0123456789abcde"
    c.send(b"BDAT 10\r\n" + payload[:10] + b"BDAT 5 LAST\r\n" + payload[10:])
    r1, r2 = c.replies(2)
    assert r1.code == 250 and r2.code == 250, (r1, r2)
    assert c.expect_silence(0.2) is None
    assert_delivered(srv, payload, queued_id(r2.text))
    c.close()


def test_bdat_payload_with_dot_and_command_is_stored_verbatim(smtpd):
    srv = smtpd()
    c = bdat_session(srv)
    payload = (b"Subject: smuggle\r\n\r\nline\r\n.\r\nRSET\r\n"
               b"..double\r\n.\r\nMAIL FROM:<evil@x.test>\r\n")
    c.send(b"BDAT %d LAST\r\n" % len(payload) + payload)
    r = c.reply()
    assert r.code == 250, r
    # one reply only: nothing in the chunk ran as a command
    assert c.expect_silence(0.5) is None
    assert_delivered(srv, payload, queued_id(r.text))
    assert "evil@x.test" not in srv.log()
    c.close()


def test_bdat_refused_chunk_is_consumed(smtpd):
    srv = smtpd()
    c = session(srv)
    # before MAIL, and after MAIL before RCPT: refused, chunk swallowed
    c.send(b"BDAT 6\r\nNOOP\r\n")
    r = c.reply()
    assert (r.code, r.text[:5]) == (503, "5.5.1"), r
    assert c.expect_silence(0.3) is None, "the chunk ran as a command"
    assert c.cmd("MAIL FROM:<%s>" % SENDER).code == 250
    c.send(b"BDAT 12 LAST\r\nNOOP\r\nNOOP\r\n")
    r = c.reply()
    assert r.code == 503, r
    assert c.expect_silence(0.3) is None, "the chunk ran as a command"
    # the session is in step: one reply per command from here on
    c.send(b"NOOP\r\nQUIT\r\n")
    assert [r.code for r in c.replies(2)] == [250, 221]
    assert c.at_eof()
    c.close()


def test_data_after_bdat_refused(smtpd):
    srv = smtpd()
    c = bdat_session(srv)
    c.send(b"BDAT 4\r\nabcd")
    assert c.reply().code == 250
    r = c.cmd("DATA")
    assert r.code == 503, r
    c.close()


# ------------------------------------------------------------------ 10

def swaks(srv, *args):
    return run(["swaks", "--server", "%s:%d" % (srv.host, srv.port),
                "--helo", "swaks.client.test", "--from", SENDER,
                "--to", "alice@example.test", "--timeout", "10", *args])


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "starttls"])
def test_swaks(smtpd, tls):
    srv = smtpd()
    subject = "swaks %s" % ("tls" if tls else "plain")
    p = swaks(srv, "--header", "Subject: " + subject, "--body",
              "Body from swaks.", *(["--tls"] if tls else []))
    assert p.returncode == 0, (p.stdout, p.stderr)
    m = re.search(r"<[-~]\s+250 2\.0\.0 Ok: queued as (\S+)", p.stdout)
    assert m, p.stdout
    if tls:
        assert "<-  220 2.0.0 Ready to start TLS" in p.stdout
        assert "PKP MAX-AGE=" in p.stdout      # swaks shows the TLS EHLO
    paths = srv.wait_maildir(1)
    with open(paths[0], "rb") as f:
        data = f.read()
    assert ("Subject: %s\n" % subject).encode() in data
    assert b"Body from swaks." in data
    assert ("with %s id %s" % ("ESMTPS" if tls else "ESMTP",
                               m.group(1))).encode() in data


# ------------------------------------------------------------------ 15

def test_ipv6_listener(smtpd):
    if not have_ipv6_loopback():
        pytest.skip("no IPv6 loopback (::1) in this environment")
    srv = smtpd(_v6=True, listen="127.0.0.1:{port}, [::1]:{port}")
    assert "listening on [::1]:%d" % srv.port in srv.log()
    msg = make_message("over ipv6")
    with smtplib.SMTP("::1", srv.port, local_hostname=HELO,
                      timeout=10) as s:
        s.ehlo()
        s.starttls(context=client_ssl_context())
        s.ehlo()
        assert "pkp" in s.esmtp_features
        qid = smtplib_send(s, msg)
    data, received = assert_delivered(srv, msg, qid, with_="ESMTPS")
    assert b"([::1]:" in received, received
    # and IPv4 still works on the same server
    with smtplib.SMTP("127.0.0.1", srv.port, timeout=10) as s:
        assert s.noop()[0] == 250


# ------------------------------------------------------------------ 14

def proc_ids(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("Uid", "Gid"):
                out[k] = [int(x) for x in v.split()]
    return out


@pytest.fixture
def open_dir():
    """A directory an unprivileged user can traverse (pytest's tmp_path
    is 0700 root), removed afterwards."""
    d = tempfile.mkdtemp(prefix="pinpost-priv-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_privilege_drop(smtpd, open_dir):
    if os.geteuid() != 0:
        pytest.skip("privilege drop needs root (tests run as uid %d)"
                    % os.geteuid())
    nobody = pwd.getpwnam("nobody")
    srv = smtpd(user="nobody", _dir=open_dir)
    srv.wait_log("running as nobody uid=%d" % nobody.pw_uid)
    ids = proc_ids(srv.pid)
    assert ids["Uid"] == [nobody.pw_uid] * 4, ids
    assert ids["Gid"] == [nobody.pw_gid] * 4, ids
    # every thread (the worker too)
    for tid in os.listdir("/proc/%d/task" % srv.pid):
        with open("/proc/%d/task/%s/status" % (srv.pid, tid)) as f:
            uid_line = [l for l in f if l.startswith("Uid:")][0]
        assert [int(x) for x in uid_line.split()[1:]] == \
            [nobody.pw_uid] * 4, (tid, uid_line)
    msg = make_message("as nobody")
    with smtplib.SMTP(srv.host, srv.port, local_hostname=HELO,
                      timeout=10) as s:
        s.ehlo()
        qid = smtplib_send(s, msg)
    assert_delivered(srv, msg, qid)
    st = os.stat(srv.maildir()[0])
    assert (st.st_uid, st.st_gid) == (nobody.pw_uid, nobody.pw_gid)
    for d in (srv.spool, srv.maildir_root):
        assert os.stat(d).st_uid == nobody.pw_uid, d
