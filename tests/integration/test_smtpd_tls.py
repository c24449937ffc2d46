"""pinpostd and TLS: the EHLO keywords before and after STARTTLS, the PKP
pin set against the openssl oracle, both PKP forms and what Python's
smtplib makes of them, the PKP self-check, STARTTLS before EHLO, the
STARTTLS injection defence (CVE-2011-0411), SIGHUP reload, implicit TLS
and the `make run` configuration.
"""
import os
import re
import signal
import smtplib
import ssl
import time

import pytest

from conftest import (BUILD, Client, client_ssl_context, ehlo_keywords,
                      free_port, make_message, openssl_pin, run,
                      smtplib_send)

PLAIN_KEYWORDS = ["PIPELINING", "SIZE", "8BITMIME", "ENHANCEDSTATUSCODES",
                  "CHUNKING", "SMTPUTF8", "STARTTLS"]
REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def pinpostd(*args):
    return run([os.path.join(BUILD, "pinpostd"), *args])


def tls_ehlo(srv, name="client.example.test"):
    """A fresh session: greeting, EHLO, STARTTLS, EHLO; returns (client,
    plaintext EHLO reply, TLS EHLO reply)."""
    c = srv.client()
    c.greeting()
    plain = c.ehlo(name)
    c.starttls()
    return c, plain, c.ehlo(name)


def pkp_params(keywords):
    """All PKP parameters of one EHLO reply, over every PKP line."""
    params = []
    for kw, p in keywords:
        if kw == "PKP":
            params += p.split()
    return params


# ------------------------------------------------------------------ 2

def test_ehlo_keywords_plain_and_tls(smtpd):
    srv = smtpd(pkp_max_age="3600", stsec_max_age="7200")
    c, plain, tls = tls_ehlo(srv)
    kws = ehlo_keywords(plain)
    assert [k for k, _ in kws] == PLAIN_KEYWORDS, plain
    assert dict(kws)["SIZE"] == "10240000"
    assert plain.lines[0] == "mx.example.test Hello client.example.test"

    kws = ehlo_keywords(tls)
    names = [k for k, _ in kws]
    assert "STARTTLS" not in names, tls
    assert names.count("PKP") == 1 and names.count("STSEC") == 1, tls
    assert set(names) == set(PLAIN_KEYWORDS) - {"STARTTLS"} | {"PKP",
                                                                "STSEC"}
    params = pkp_params(kws)
    pins = [p[len("PIN-SHA256="):] for p in params
            if p.startswith("PIN-SHA256=")]
    ages = [p for p in params if p.startswith("MAX-AGE=")]
    assert ages == ["MAX-AGE=3600"], params
    assert len(pins) == 2 and len(params) == 3, params
    served = openssl_pin(srv.keys["cert"], "cert")
    backup = openssl_pin(srv.keys["backup_key"], "key")
    assert served != backup
    assert pins == [served, backup], (pins, served, backup)
    assert dict(kws)["STSEC"] == "MAX-AGE=7200"
    c.close()


def test_pin_of_handshake_certificate(smtpd, tmp_path):
    """The advertised served pin is the pin of the certificate actually
    presented in the handshake (fetched with the openssl client)."""
    srv = smtpd()
    c, _, tls = tls_ehlo(srv)
    der = c.sock.getpeercert(binary_form=True)
    c.close()
    pem = tmp_path / "peer.pem"
    pem.write_text(ssl.DER_cert_to_PEM_cert(der))
    pins = [p.split("=", 1)[1] for p in pkp_params(ehlo_keywords(tls))
            if p.startswith("PIN-SHA256=")]
    assert pins[0] == openssl_pin(str(pem), "cert"), pins


def test_backup_pin_as_base64(smtpd, tmp_path):
    from conftest import make_keys
    other = make_keys(tmp_path / "other")
    pin = openssl_pin(other["backup_pub"], "pub")
    srv = smtpd(pkp_backup_pins=pin)
    c, _, tls = tls_ehlo(srv)
    params = pkp_params(ehlo_keywords(tls))
    assert "PIN-SHA256=" + pin in params
    assert "PIN-SHA256=" + openssl_pin(srv.keys["cert"], "cert") in params
    c.close()


def test_helo_has_no_extensions(smtpd):
    srv = smtpd()
    c = srv.client()
    c.greeting()
    c.starttls()
    r = c.cmd("HELO old.client.test")
    assert r.code == 250 and len(r.lines) == 1, r
    c.close()


# ------------------------------------------------------------------ 3

def test_pkp_multi_form(smtpd):
    srv = smtpd(pkp_format="multi", pkp_max_age="4000")
    c, _, tls = tls_ehlo(srv)
    pkp_lines = [p for k, p in ehlo_keywords(tls) if k == "PKP"]
    served = openssl_pin(srv.keys["cert"], "cert")
    backup = openssl_pin(srv.keys["backup_pub"], "pub")
    assert pkp_lines == ["PIN-SHA256=" + served, "PIN-SHA256=" + backup,
                         "MAX-AGE=4000"], tls
    c.close()


@pytest.mark.parametrize("form", ["single", "multi"])
def test_smtplib_keeps_only_the_last_pkp_line(smtpd, form):
    """The interop finding the design cites: smtplib's esmtp_features
    keeps one value per keyword, the last line's.  With the single-line
    form it holds the whole set; with the multi-line form only MAX-AGE
    survives and both pins are lost."""
    srv = smtpd(pkp_format=form)
    served = openssl_pin(srv.keys["cert"], "cert")
    backup = openssl_pin(srv.keys["backup_pub"], "pub")
    with smtplib.SMTP(srv.host, srv.port, timeout=10) as s:
        s.ehlo()
        assert "pkp" not in s.esmtp_features
        assert "stsec" not in s.esmtp_features
        assert "starttls" in s.esmtp_features
        s.starttls(context=client_ssl_context())
        s.ehlo()
        got = s.esmtp_features.get("pkp")
        assert s.esmtp_features.get("stsec") == "MAX-AGE=31536000"
        assert "starttls" not in s.esmtp_features
    if form == "single":
        assert got == "MAX-AGE=259200 PIN-SHA256=%s PIN-SHA256=%s" % (
            served, backup)
    else:
        assert got == "MAX-AGE=259200"
        assert served not in got and backup not in got


# ------------------------------------------------------------------ 4

def write_conf_only(smtpd, **kw):
    return smtpd(_start=False, **kw)


def test_selfcheck_no_backup_pin(smtpd):
    srv = smtpd(pkp_backup_pins="")
    assert re.search(r'started pkp=not-advertised reason="no backup pin',
                     srv.log()), srv.log()
    assert "warning: pkp=not-advertised" in srv.log()
    c, _, tls = tls_ehlo(srv)
    names = [k for k, _ in ehlo_keywords(tls)]
    assert "PKP" not in names and "STSEC" in names, tls
    c.close()
    p = pinpostd("-n", "-f", srv.conf_path)
    assert p.returncode == 0, p
    assert 'pkp=not-advertised reason="no backup pin' in p.stdout
    assert "stsec=STSEC MAX-AGE=31536000" in p.stdout


def test_selfcheck_backup_equal_to_served_is_no_backup(smtpd):
    srv = smtpd(_start=False)
    srv.conf["pkp_backup_pins"] = openssl_pin(srv.keys["cert"], "cert")
    srv.write_conf()
    p = pinpostd("-n", "-f", srv.conf_path)
    assert p.returncode == 0
    assert 'pkp=not-advertised reason="no backup pin' in p.stdout, p.stdout


def test_selfcheck_malformed_backup(smtpd):
    srv = smtpd(pkp_backup_pins="notapin")
    log = srv.log()
    assert "pkp=not-advertised" in log and "notapin" in log, log
    c, _, tls = tls_ehlo(srv)
    names = [k for k, _ in ehlo_keywords(tls)]
    assert "PKP" not in names and "STSEC" in names, tls
    c.close()
    p = pinpostd("-n", "-f", srv.conf_path)
    assert p.returncode == 0, p
    assert "pkp=not-advertised" in p.stdout and "notapin" in p.stdout


@pytest.mark.parametrize("entry,why", [
    ("/nonexistent/backup.pem", "cannot open"),
    ("AAAA", "neither a base64 pin nor a file path"),
])
def test_selfcheck_other_bad_backups(smtpd, entry, why):
    srv = write_conf_only(smtpd, pkp_backup_pins=entry)
    p = pinpostd("-n", "-f", srv.conf_path)
    assert p.returncode == 0, p
    assert "pkp=not-advertised" in p.stdout and why in p.stdout, p.stdout


def test_selfcheck_one_bad_entry_among_good_ones(smtpd):
    """A malformed entry next to a good backup: the whole set is refused
    (never partly applied)."""
    srv = write_conf_only(smtpd)
    srv.conf["pkp_backup_pins"] = srv.keys["backup_pub"] + ", notapin"
    srv.write_conf()
    p = pinpostd("-n", "-f", srv.conf_path)
    assert "pkp=not-advertised" in p.stdout, p.stdout


def test_check_verdict_advertised(smtpd):
    srv = write_conf_only(smtpd)
    p = pinpostd("-n", "-f", srv.conf_path)
    assert p.returncode == 0, p
    served = openssl_pin(srv.keys["cert"], "cert")
    assert ("pkp=advertised pins=2 served=%s max-age=259200 form=single"
            % served) in p.stdout, p.stdout
    assert "%s: configuration ok" % srv.conf_path in p.stdout


def test_check_config_error(smtpd):
    srv = write_conf_only(smtpd)
    srv.write_conf(extra="recipient_limit = 5\n")
    nlines = len(open(srv.conf_path).read().splitlines())
    p = pinpostd("-n", "-f", srv.conf_path)
    assert p.returncode == 1, p
    assert "%s:%d: recipient_limit: 5 is below the minimum 100" % (
        srv.conf_path, nlines) in p.stderr, p.stderr
    # and the server does not start with it
    p = pinpostd("-d", "-f", srv.conf_path)
    assert p.returncode == 1 and "%s:%d:" % (srv.conf_path, nlines) \
        in p.stderr


def test_check_key_mismatch_is_an_error(smtpd):
    srv = write_conf_only(smtpd)
    srv.conf["tls_key_file"] = srv.keys["backup_key"]
    srv.write_conf()
    p = pinpostd("-n", "-f", srv.conf_path)
    assert p.returncode == 1, p
    assert srv.keys["backup_key"] in p.stderr, p.stderr


def test_pkp_disabled(smtpd):
    srv = smtpd(pkp_enable="no")
    c, _, tls = tls_ehlo(srv)
    names = [k for k, _ in ehlo_keywords(tls)]
    assert "PKP" not in names and "STSEC" in names, tls
    c.close()
    p = pinpostd("-n", "-f", srv.conf_path)
    assert p.returncode == 0 and "pkp=off" in p.stdout, p.stdout


def test_stsec_disabled(smtpd):
    srv = smtpd(stsec_enable="no")
    c, _, tls = tls_ehlo(srv)
    names = [k for k, _ in ehlo_keywords(tls)]
    assert "PKP" in names and "STSEC" not in names, tls
    c.close()


# ------------------------------------------------------------------ 5

def test_starttls_before_ehlo(smtpd):
    srv = smtpd()
    c = srv.client()
    c.greeting()
    r = c.cmd("STARTTLS")
    assert (r.code, r.text) == (220, "2.0.0 Ready to start TLS"), r
    c.wrap_tls()
    tls = c.ehlo()
    names = [k for k, _ in ehlo_keywords(tls)]
    assert "PKP" in names and "STSEC" in names and "STARTTLS" not in names
    # and mail flows on it
    msg = make_message("starttls first")
    c.send("MAIL FROM:<s@client.test>\r\nRCPT TO:<bob@example.test>\r\n"
           "DATA\r\n")
    assert [x.code for x in c.replies(3)] == [250, 250, 354]
    r = c.cmd(msg.decode() + ".")
    assert r.code == 250, r
    srv.wait_maildir(1, "bob")
    # a second STARTTLS inside TLS is refused
    r = c.cmd("STARTTLS")
    assert (r.code, r.text[:5]) == (503, "5.5.1"), r
    # QUIT inside TLS: 221, then the server closes
    assert c.cmd("QUIT").code == 221
    assert c.at_eof()
    c.close()


# ------------------------------------------------------------------ 6

def test_starttls_injection_discarded(smtpd):
    srv = smtpd()
    c = srv.client()
    c.greeting()
    c.ehlo("plain.client.test")
    c.send(b"STARTTLS\r\nEHLO evil\r\n")
    r = c.reply()
    assert r.code == 220, r
    assert c.buf == b"", "a reply to the injected EHLO: %r" % c.buf
    c.wrap_tls()
    # nothing was executed: no reply arrives inside TLS
    assert c.expect_silence(1.0) is None
    srv.wait_log("discarded=11 reason=")
    assert "evil" not in srv.log()
    # the plaintext EHLO is forgotten: MAIL needs a new EHLO
    r = c.cmd("MAIL FROM:<s@client.test>")
    assert (r.code, r.text[:5]) == (503, "5.5.1"), r
    tls = c.ehlo("real.client.test")
    assert "PKP" in [k for k, _ in ehlo_keywords(tls)]
    msg = make_message("after injection")
    c.send("MAIL FROM:<s@client.test>\r\nRCPT TO:<alice@example.test>\r\n"
           "DATA\r\n")
    assert [x.code for x in c.replies(3)] == [250, 250, 354]
    r = c.cmd(msg.decode() + ".")
    assert r.code == 250, r
    paths = srv.wait_maildir(1)
    with open(paths[0], "rb") as f:
        data = f.read()
    assert b"Received: from real.client.test (" in data
    assert b"plain.client.test" not in data and b"evil" not in data
    c.close()


def test_starttls_injection_of_a_transaction(smtpd):
    """A whole pipelined transaction after STARTTLS: none of it runs."""
    srv = smtpd()
    c = srv.client()
    c.greeting()
    c.ehlo()
    c.send(b"STARTTLS\r\nMAIL FROM:<evil@x.test>\r\nRCPT TO:"
           b"<alice@example.test>\r\nDATA\r\nSubject: injected\r\n\r\n"
           b"x\r\n.\r\n")
    assert c.reply().code == 220
    assert c.buf == b""
    c.wrap_tls()
    assert c.expect_silence(1.0) is None
    c.ehlo()
    assert c.cmd("QUIT").code == 221
    time.sleep(0.2)
    assert srv.maildir() == [] and srv.queue_files() == []
    assert "evil@x.test" not in srv.log()


def test_plaintext_between_220_and_handshake(smtpd):
    """Bytes sent after the 220 arrived but before the handshake: the
    handshake fails or they are dropped; never a 250 answer to them."""
    srv = smtpd()
    c = srv.client()
    c.greeting()
    c.ehlo()
    assert c.cmd("STARTTLS").code == 220
    c.send(b"EHLO x\r\n")
    got = b""
    handshake_ok = False
    try:
        c.wrap_tls()
        handshake_ok = True
    except (ssl.SSLError, OSError):
        pass
    if handshake_ok:
        # the bytes were discarded: the server must be silent, and a real
        # EHLO inside TLS gets exactly one reply
        extra = c.expect_silence(1.0)
        assert extra is None, extra
        r = c.ehlo("real.client.test")
        assert "PKP" in [k for k, _ in ehlo_keywords(r)]
    else:
        try:
            c.sock.settimeout(2)
            while True:
                d = c.sock.recv(4096)
                if not d:
                    break
                got += d
        except OSError:
            pass
        assert b"250" not in got, got
        log = srv.wait_log("tls-error=")
        assert "close reason=" in log
    c.close()
    assert "Hello x" not in srv.log()


def test_starttls_refused_inside_transaction(smtpd):
    srv = smtpd()
    c = srv.client()
    c.greeting()
    c.ehlo()
    assert c.cmd("MAIL FROM:<s@client.test>").code == 250
    r = c.cmd("STARTTLS")
    assert r.code == 503, r
    c.close()


# ------------------------------------------------------------------ 12

def test_sighup_reload(smtpd):
    srv = smtpd()
    c, _, tls = tls_ehlo(srv)
    assert len([k for k, _ in ehlo_keywords(tls) if k == "PKP"]) == 1
    c.close()

    srv.conf["pkp_format"] = "multi"
    srv.write_conf()
    mark = len(srv.log())
    srv.signal(signal.SIGHUP)
    srv.wait_log("reloaded %s pkp=advertised" % srv.conf_path, start=mark)
    assert "form=multi" in srv.log()[mark:]
    c, _, tls = tls_ehlo(srv)
    pkp = [p for k, p in ehlo_keywords(tls) if k == "PKP"]
    assert len(pkp) == 3 and pkp[-1] == "MAX-AGE=259200", tls
    c.close()

    # a broken config: the server keeps running with the old one
    srv.write_conf(extra="no_such_parameter = 1\n")
    nlines = len(open(srv.conf_path).read().splitlines())
    mark = len(srv.log())
    srv.signal(signal.SIGHUP)
    log = srv.wait_log("keeping the running configuration", start=mark)
    assert ('reload: %s:%d: unknown parameter "no_such_parameter"'
            % (srv.conf_path, nlines)) in log[mark:], log[mark:]
    assert srv.proc.poll() is None
    c, _, tls = tls_ehlo(srv)
    pkp = [p for k, p in ehlo_keywords(tls) if k == "PKP"]
    assert len(pkp) == 3, tls           # still the multi form
    c.close()

    # a certificate that does not load: also kept
    srv.conf["tls_cert_file"] = srv.keys["backup_pub"]
    srv.write_conf()
    mark = len(srv.log())
    srv.signal(signal.SIGHUP)
    srv.wait_log("keeping the running configuration", start=mark)
    c, _, tls = tls_ehlo(srv)
    assert len([1 for k, _ in ehlo_keywords(tls) if k == "PKP"]) == 3
    c.close()


def test_sighup_picks_up_new_key(smtpd, tmp_path):
    """A reload loads a new certificate and key: the served pin follows."""
    from conftest import make_keys
    srv = smtpd()
    old = openssl_pin(srv.keys["cert"], "cert")
    new = make_keys(tmp_path / "new")
    srv.conf["tls_cert_file"] = new["cert"]
    srv.conf["tls_key_file"] = new["key"]
    srv.write_conf()
    mark = len(srv.log())
    srv.signal(signal.SIGHUP)
    srv.wait_log("reloaded", start=mark)
    c, _, tls = tls_ehlo(srv)
    params = pkp_params(ehlo_keywords(tls))
    assert "PIN-SHA256=" + openssl_pin(new["cert"], "cert") in params
    assert "PIN-SHA256=" + old not in params
    c.close()


# ------------------------------------------------------------------ 13

def test_implicit_tls_listener(smtpd):
    tls_port = free_port()
    srv = smtpd(listen_tls="127.0.0.1:%d" % tls_port)
    assert "listening on 127.0.0.1:%d tls=implicit" % tls_port in srv.log()
    msg = make_message("implicit tls")
    with smtplib.SMTP_SSL(srv.host, tls_port, local_hostname="c.test",
                          context=client_ssl_context(), timeout=10) as s:
        code, _ = s.ehlo()
        assert code == 250
        assert "pkp" in s.esmtp_features and "stsec" in s.esmtp_features
        assert "starttls" not in s.esmtp_features
        assert openssl_pin(srv.keys["cert"], "cert") in \
            s.esmtp_features["pkp"]
        qid = smtplib_send(s, msg)
    paths = srv.wait_maildir(1)
    with open(paths[0], "rb") as f:
        data = f.read()
    assert ("with ESMTPS id %s\n\t(TLSv1." % qid).encode() in data, data


def test_implicit_tls_plaintext_client_gets_nothing(smtpd):
    """A plaintext client on the implicit-TLS port gets no SMTP greeting."""
    tls_port = free_port()
    srv = smtpd(listen_tls="127.0.0.1:%d" % tls_port)
    c = Client(srv.host, tls_port)
    c.send(b"EHLO x\r\n")
    got = b""
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        try:
            d = c.recv_some(0.5)
        except OSError:
            break
        if not d:
            break
        got += d
    assert b"220" not in got and b"250" not in got, got
    c.close()


# ------------------------------------------------------------------ 16

def test_setup_run_config(tmp_path):
    d = tmp_path / "run"
    p = run(["sh", os.path.join(REPO, "mta", "setup-run.sh"), str(d)])
    assert p.returncode == 0, p
    conf = d / "etc" / "pinpost.conf"
    assert conf.exists()
    p = pinpostd("-n", "-f", str(conf))
    assert p.returncode == 0, p
    assert "pkp=advertised" in p.stdout, p.stdout
    served = openssl_pin(str(d / "etc" / "cert.pem"), "cert")
    assert "served=%s" % served in p.stdout
    # running it again leaves the configuration as it is
    before = conf.read_text()
    run(["sh", os.path.join(REPO, "mta", "setup-run.sh"), str(d)], check=0)
    assert conf.read_text() == before
