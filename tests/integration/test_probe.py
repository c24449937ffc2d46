"""pinpost probe against real pinpostd servers on loopback."""
import json
import os
import subprocess

import pytest

from conftest import BUILD, free_port, openssl_pin


def probe(*args, check=None):
    p = subprocess.run([os.path.join(BUILD, "pinpost"), "probe",
                        "--timeout", "10", *args],
                       capture_output=True, text=True, timeout=60)
    if check is not None:
        assert p.returncode == check, (args, p.returncode, p.stdout,
                                       p.stderr)
    return p


def probe_json(*args, check=0):
    p = probe("--json", *args, check=check)
    return [json.loads(line) for line in p.stdout.splitlines() if line]


def dest(srv):
    return "[127.0.0.1]:%d" % srv.port


@pytest.mark.parametrize("form", ["single", "multi"])
def test_probe_pinpostd(smtpd, tmp_path, form):
    srv = smtpd(pkp_format=form)
    store = str(tmp_path / "probe.tdb")
    [r] = probe_json("-s", store, dest(srv))
    assert r["greeting"].startswith("220 ")
    assert "STARTTLS" in r["ehlo_plain"]
    assert not any(l.startswith(("PKP", "STSEC")) for l in r["ehlo_plain"])
    assert r["starttls_code"] == 220 and r["tls"] is True
    assert r["tls_info"]["version"] in ("TLSv1.2", "TLSv1.3")
    served = openssl_pin(srv.keys["cert"], "cert")
    backup = openssl_pin(srv.keys["backup_pub"], "pub")
    assert [c["pin"] for c in r["chain"]] == [served]
    pkp_lines = [l for l in r["ehlo_tls"] if l.startswith("PKP")]
    assert len(pkp_lines) == (1 if form == "single" else 3)
    assert r["pkp"]["state"] == "valid" and r["pkp"]["backup"] is True
    got = {p["pin"]: p["matches_cert"] for p in r["pkp"]["pins"]}
    assert got == {served: 0, backup: -1}
    assert r["pkp"]["max_age"] == 259200
    assert r["stsec"] == {"state": "valid", "why": "",
                          "max_age": 31536000}
    assert r["store"]["found"] is False
    assert r["verdict"] == "deliver over TLS"
    assert r["error"] == ""
    # without --learn the store is neither written nor created
    assert not os.path.exists(store)


def test_probe_text_and_learn(smtpd, tmp_path, pinpost):
    srv = smtpd()
    store = str(tmp_path / "learn.tdb")
    p = probe("-s", store, "--learn", dest(srv), check=0)
    served = openssl_pin(srv.keys["cert"], "cert")
    assert "pin-sha256=%s matches cert 0" % served in p.stdout
    assert "matches no cert (backup)" in p.stdout
    assert "verdict: deliver over TLS" in p.stdout
    show = pinpost("-s", store, "pins", "show", dest(srv), check=0).stdout
    assert served in show and "stsec:          20" in show
    # the next probe sees the learned policy and the plan it implies
    [r] = probe_json("-s", store, dest(srv))
    assert r["store"]["found"] is True
    assert r["plan"] == {"level": "encrypt", "why": "host-stsec",
                         "starttls_first": True, "pinned": True}
    assert r["early_code"] == 220
    assert r["verdict"] == "deliver over TLS (key matches a pin)"


def test_probe_early(smtpd):
    srv = smtpd()
    [r] = probe_json("--early", dest(srv))
    assert r["early_code"] == 220 and r["tls"] is True
    assert r["ehlo_plain"] == []        # nothing said in plaintext


def test_probe_no_starttls(smtpd):
    srv = smtpd(starttls_enable="no")
    [r] = probe_json(dest(srv))
    assert r["tls"] is False and r["starttls_code"] == 0
    assert "STARTTLS" not in r["ehlo_plain"]
    assert r["verdict"] == "deliver in plaintext"


def test_probe_stripped_known_peer_would_defer(smtpd, tmp_path, pinpost):
    srv = smtpd(starttls_enable="no")
    store = str(tmp_path / "known.tdb")
    pinpost("-s", store, "pins", "add", dest(srv), "--stsec", "3600",
            check=0)
    [r] = probe_json("-s", store, dest(srv))
    assert r["plan"]["level"] == "encrypt"
    assert r["verdict"].startswith("defer 4.7.4")


def test_probe_implicit_tls(smtpd):
    tls_port = free_port()
    smtpd(listen_tls="127.0.0.1:%d" % tls_port)
    [r] = probe_json("--implicit", "[127.0.0.1]:%d" % tls_port)
    assert r["tls"] is True and r["greeting"].startswith("220 ")
    assert any(l.startswith("PKP ") for l in r["ehlo_tls"])


def test_probe_errors(tmp_path):
    port = free_port()          # nothing listens there
    p = probe("[127.0.0.1]:%d" % port, check=1)
    assert "connection refused" in p.stderr
    p = probe("bad..name", check=1)
    assert "bad..name" in p.stderr
    probe("[127.0.0.1]:0", check=1)
    probe(check=2)
    probe("--port", "x", "a.test", check=2)


def test_probe_pin_set_without_backup(fake_smtp):
    """A server whose PKP set holds only its served key: the probe says
    there is no backup pin, and noting would refuse such a set."""
    fake = fake_smtp(backup_pins=[])
    [r] = probe_json("[127.0.0.1]:%d" % fake.port)
    served = openssl_pin(fake.keys["cert"], "cert")
    assert r["pkp"]["state"] == "valid"
    assert r["pkp"]["pins"] == [{"pin": served, "matches_cert": 0}]
    assert r["pkp"]["backup"] is False
    p = probe("[127.0.0.1]:%d" % fake.port, check=0)
    assert "backup=no" in p.stdout


def test_probe_early_refused(fake_smtp):
    """A server that answers 503 to STARTTLS before EHLO (as Exim and
    OpenSMTPD do): --early shows the refusal, and the probe still gets
    to TLS through EHLO first."""
    fake = fake_smtp(replies={"STARTTLS@early": "503 5.5.1 EHLO first"})
    [r] = probe_json("--early", "[127.0.0.1]:%d" % fake.port)
    assert r["early_code"] == 503
    assert r["tls"] is True and "STARTTLS" in r["ehlo_plain"]
