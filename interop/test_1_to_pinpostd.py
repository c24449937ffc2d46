"""Clients and MTAs -> pinpostd: plain, STARTTLS, implicit TLS, BDAT.

Each cell sends one message to the hub pinpostd (directly, or through the
MTA as a smarthost relay), then asserts: the message is in the hub's
Maildir with the same body digest, the hub's Received: field shows the
TLS state expected (ESMTPS and the TLS version, or not), and where the
client shows the EHLO reply, that PKP and STSEC were there inside TLS and
absent in plaintext -- and that they broke nothing.
"""
import os
import re

import pytest

from lib import Message, body_digest, run, smtplib_send

S = "client → pinpostd"
MODES = ("plain", "STARTTLS", "implicit TLS")


def check_hub(hub, msg, cell, tls, timeout=30, added=b""):
    """The message arrived intact with the TLS state expected (added:
    what the client is known to append to the body); returns the hub's
    queue id and its session's log lines."""
    raw = hub.message(msg.msgid, timeout)
    want = msg.digest if not added else body_digest(msg.raw + added)
    assert body_digest(raw) == want, "body digest differs:\n%r" % raw
    rec = hub.received_by_pinpost(raw)
    assert rec, "no Received: by the hub in %r" % raw[:2000]
    top = rec[0]
    qid = re.search(r" id (\w+)", top).group(1)
    if tls:
        assert " with ESMTPS id " in top and "(TLSv1." in top, top
        cell.note("arrived, digest ok, " +
                  re.search(r"\((TLSv1\.\d)", top).group(1))
    else:
        assert "ESMTPS" not in top and "TLSv" not in top, top
        proto = re.search(r" with (\w+) id", top).group(1)
        cell.note("arrived, digest ok, plaintext " + proto)
    return qid, hub.session_lines(qid)


def keyword_lines(lines):
    """PKP / STSEC keyword lines among EHLO reply lines (text after the
    reply code)."""
    return [l for l in lines if re.match(r"(?i)(PKP|STSEC)( |$)", l)]


def assert_keywords(seen_tls, seen_plain, cell, who):
    """PKP and STSEC in the EHLO reply inside TLS, none in plaintext."""
    assert not keyword_lines(seen_plain), \
        "PKP/STSEC in a plaintext EHLO reply: %r" % seen_plain
    kws = keyword_lines(seen_tls)
    assert any(k.upper().startswith("PKP ") for k in kws), seen_tls
    assert any(k.upper().startswith("STSEC ") for k in kws), seen_tls
    cell.note("%s saw %s inside TLS" % (
        who, " + ".join(sorted({k.split()[0].upper() for k in kws}))))


# ---------------------------------------------------------------------
# swaks

def swaks_ehlo(out):
    """EHLO reply lines in a swaks transcript: (plaintext, inside TLS)."""
    plain, tls = [], []
    for line in out.splitlines():
        m = re.match(r"^<([-~]) +250[- ](.*)$", line)
        if m:
            (tls if m.group(1) == "~" else plain).append(m.group(2))
    return plain, tls


@pytest.mark.parametrize("mode", [
    pytest.param(m, marks=pytest.mark.cell(S, "swaks", m)) for m in MODES])
def test_swaks(hub, cell, tmp_path, mode):
    msg = Message("swaks " + mode, rcpt="alice@tls.hub.test")
    port = hub.tls_port if mode == "implicit TLS" else hub.port
    args = ["swaks", "--server", "127.0.0.1", "--port", str(port),
            "--ehlo", "swaks.client.test", "--from", msg.sender,
            "--to", msg.rcpt,
            "--data", msg.write(tmp_path / "msg", final_eol=False),
            "--timeout", "30"]
    args += {"plain": [], "STARTTLS": ["--tls"],
             "implicit TLS": ["--tls-on-connect"]}[mode]
    p = run(args)
    plain, tls = swaks_ehlo(p.out)
    check_hub(hub, msg, cell, tls=mode != "plain")
    if mode == "plain":
        assert plain and not keyword_lines(plain), p.out
        cell.note("no PKP/STSEC in plaintext")
    else:
        assert_keywords(tls, plain, cell, "swaks")


# ---------------------------------------------------------------------
# msmtp

def msmtp_args(tmp_path, port, mode):
    rc = tmp_path / "msmtprc"
    rc.write_text("")
    os.chmod(rc, 0o600)
    return ["msmtp", "-C", str(rc), "--host=127.0.0.1", "--port=%d" % port,
            "--domain=msmtp.client.test", "--auth=off",
            "--tls-certcheck=off",
            "--tls=%s" % ("off" if mode == "plain" else "on"),
            "--tls-starttls=%s" % ("on" if mode == "STARTTLS" else "off")]


def msmtp_ehlo(out):
    """EHLO reply lines in msmtp --debug output: (before TLS, after)."""
    plain, tls, in_tls = [], [], False
    for line in out.splitlines():
        if line.startswith("--> STARTTLS") or line.startswith(
                "TLS session parameters"):
            in_tls = True
        m = re.match(r"^<-- 250[- ](.*)$", line)
        if m:
            (tls if in_tls else plain).append(m.group(1))
    return plain, tls


@pytest.mark.parametrize("mode", [
    pytest.param(m, marks=pytest.mark.cell(S, "msmtp", m)) for m in MODES])
def test_msmtp(hub, cell, tmp_path, mode):
    msg = Message("msmtp " + mode, rcpt="alice@tls.hub.test")
    port = hub.tls_port if mode == "implicit TLS" else hub.port
    p = run(msmtp_args(tmp_path, port, mode) +
            ["--debug", "--from=" + msg.sender, msg.rcpt], input=msg.raw)
    out = p.out + p.err
    check_hub(hub, msg, cell, tls=mode != "plain")
    plain, tls = msmtp_ehlo(out)
    if mode == "implicit TLS":
        plain, tls = [], plain + tls     # the only EHLO is inside TLS
    if mode == "plain":
        assert plain and not keyword_lines(plain), out
        cell.note("no PKP/STSEC in plaintext")
    else:
        assert_keywords(tls, plain, cell, "msmtp --debug")


# ---------------------------------------------------------------------
# Python smtplib

@pytest.mark.parametrize("mode", [
    pytest.param(m, marks=pytest.mark.cell(S, "Python smtplib", m))
    for m in MODES])
def test_smtplib(hub, cell, mode):
    msg = Message("smtplib " + mode, rcpt="alice@tls.hub.test")
    port = hub.tls_port if mode == "implicit TLS" else hub.port
    st = smtplib_send("127.0.0.1", port, msg, starttls=mode == "STARTTLS",
                      implicit=mode == "implicit TLS",
                      ehlo="smtplib.client.test")
    check_hub(hub, msg, cell, tls=mode != "plain")
    assert st["tls"] == (mode != "plain")
    f = st["features"]
    if mode == "plain":
        assert "pkp" not in f and "stsec" not in f, f
        assert "starttls" in f, f
        cell.note("no pkp/stsec in esmtp_features in plaintext")
    else:
        assert "pkp" in f and "stsec" in f, f
        assert "starttls" not in f, f
        assert f["stsec"].startswith("MAX-AGE="), f
        assert f["pkp"].count("PIN-SHA256=") == 2, f
        cell.note("esmtp_features pkp + stsec (single-line form: both pins)")


# ---------------------------------------------------------------------
# Postfix's smtp-source (no TLS; HELO)

@pytest.mark.cell(S, "smtp-source", "plain")
def test_smtp_source(hub, cell, tmp_path):
    msg = Message("smtp-source plain", rcpt="alice@tls.hub.test")
    p = run(["smtp-source", "-v", "-F", msg.write(tmp_path / "msg", lf=True,
                                        final_eol=False),
             "-f", msg.sender, "-t", msg.rcpt, "-M", "smtp-source.test",
             "127.0.0.1:%d" % hub.port])
    # smtp-source ends DATA with CRLF CRLF . CRLF whatever the file holds
    check_hub(hub, msg, cell, tls=False, added=b"\r\n")
    assert "HELO smtp-source.test" in p.err, p.err
    cell.note("smtp-source always adds an empty last line")
    cell.note("speaks HELO: sees no EHLO keywords")


# ---------------------------------------------------------------------
# MTAs as smarthost relay clients

DOMAIN = {"plain": "plain.hub.test", "STARTTLS": "tls.hub.test",
          "implicit TLS": "smtps.hub.test"}


@pytest.mark.parametrize("mode", [
    pytest.param(m, marks=pytest.mark.cell(S, "Postfix (relay)", m))
    for m in MODES])
def test_postfix_relay(hub, postfix, cell, mode):
    msg = Message("postfix relay " + mode, rcpt="alice@" + DOMAIN[mode])
    smtplib_send("127.0.0.1", postfix.port, msg, ehlo="injector.test")
    check_hub(hub, msg, cell, tls=mode != "plain")
    qid, lines = postfix.delivery_lines(msg.msgid)
    text = "\n".join(lines)
    assert "status=sent" in text, text
    smtp = "\n".join(postfix.smtp_client_lines(qid))
    port = hub.tls_port if mode == "implicit TLS" else hub.port
    if mode == "plain":
        assert "TLS connection established" not in smtp, smtp
    else:
        m = re.search(r"(\w+) TLS connection established to "
                      r"127\.0\.0\.1\[127\.0\.0\.1\]:%d: (TLSv[\d.]+)"
                      % port, smtp)
        assert m, smtp
        cell.note("Postfix smtp: %s TLS %s" % (m.group(1), m.group(2)))


EXIM_CASES = [("plain + BDAT", "plain.hub.test", False),
              ("STARTTLS + BDAT", "tls.hub.test", True),
              ("implicit TLS + BDAT", "smtps.hub.test", True),
              ("STARTTLS, CHUNKING off (DATA)", "data.hub.test", True)]


@pytest.mark.parametrize("case,domain,tls", [
    pytest.param(*c, marks=pytest.mark.cell(S, "Exim (relay)", c[0]))
    for c in EXIM_CASES])
def test_exim_relay(hub, exim, cell, case, domain, tls):
    msg = Message("exim relay " + case, rcpt="alice@" + domain)
    smtplib_send("127.0.0.1", exim.port, msg, ehlo="injector.test")
    qid, session = check_hub(hub, msg, cell, tls=tls)
    eid, line = exim.delivered(msg.msgid)
    verbs = [re.search(r"command=(\w+)", l).group(1) for l in session
             if "command=" in l]
    if "CHUNKING off" in case:
        assert not re.search(r" K C=", line), line
        assert "DATA" in verbs and "BDAT" not in verbs, verbs
        cell.note("pinpostd got DATA")
    else:
        # Exim's K flag: the message went with CHUNKING; pinpostd saw BDAT
        assert re.search(r" K C=", line), line
        assert "BDAT" in verbs and "DATA" not in verbs, verbs
        cell.note("Exim flag K; pinpostd got BDAT")
    if tls:
        assert " X=TLS1." in line, line
        if case.startswith("implicit TLS"):
            assert "STARTTLS" not in verbs, verbs
    else:
        assert " X=" not in line, line
    # what Exim read in the EHLO reply (event smtp:ehlo)
    ehlos = [l for l in exim.lines_of(eid) if "EVENT smtp:ehlo" in l]
    assert ehlos, exim.lines_of(eid)
    last = ehlos[-1]
    if tls:
        assert "|250-PKP MAX-AGE=" in last and "STSEC MAX-AGE=" in last, last
        cell.note("Exim smtp:ehlo event shows PKP + STSEC inside TLS")
    else:
        assert "PKP" not in last and "STSEC" not in last, last


@pytest.mark.cell(S, "Exim (relay)", "TLS close after QUIT")
def test_exim_tls_close(hub, exim, cell):
    msg = Message("exim relay tls close", rcpt="alice@tls.hub.test")
    smtplib_send("127.0.0.1", exim.port, msg, ehlo="injector.test")
    check_hub(hub, msg, cell, tls=True)
    eid, line = exim.delivered(msg.msgid)
    bad = [l for l in exim.lines_of(eid) if "TLS error" in l]
    assert not bad, bad


OSMTPD_CASES = [("plain", "plain.hub.test", False),
                ("STARTTLS", "tls.hub.test", True),
                ("implicit TLS", "smtps.hub.test", True)]


@pytest.mark.parametrize("case,domain,tls", [
    pytest.param(*c, marks=pytest.mark.cell(S, "OpenSMTPD (relay)", c[0]))
    for c in OSMTPD_CASES])
def test_opensmtpd_relay(hub, opensmtpd, cell, case, domain, tls):
    msg = Message("opensmtpd relay " + case, rcpt="alice@" + domain)
    smtplib_send("127.0.0.1", opensmtpd.port_plain, msg, ehlo="injector.test")
    check_hub(hub, msg, cell, tls=tls, timeout=60)
    log = opensmtpd.log()
    port = hub.tls_port if case == "implicit TLS" else hub.port
    if tls:
        assert re.search(r"mta tls ciphers=TLSv1\.\d", log), log
        cell.finding("OpenSMTPD 6.8's client TLS works with OpenSSL 3 "
                     "(%s); only its server side fails" % case)
    assert "127.0.0.1:%d" % port in log, log
