"""pinpost pin / pinpost pins: the CLI over real key files and real stores."""
import json
import os
import time

import pytest

import subprocess

from conftest import BUILD, openssl_pin, run

PIN_A = "d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM="
PIN_B = "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="


# ------------------------------------------------------------------ pin

@pytest.mark.parametrize("alg", ["ec", "rsa"])
@pytest.mark.parametrize("kind", ["cert", "key", "csr", "pub"])
def test_pin_matches_openssl(pinpost, keys, alg, kind):
    path = keys[alg][kind]
    p = pinpost("pin", path, check=0)
    assert p.stdout.strip() == openssl_pin(path, kind)
    assert p.stdout.strip() == keys[alg]["pin"]


def test_pin_several_files(pinpost, keys):
    p = pinpost("pin", keys["ec"]["cert"], keys["rsa"]["csr"], check=0)
    assert p.stdout.splitlines() == [
        f"{keys['ec']['cert']} {keys['ec']['pin']}",
        f"{keys['rsa']['csr']} {keys['rsa']['pin']}"]


def test_pin_errors_name_the_file(pinpost, tmp_path, keys):
    junk = tmp_path / "junk.pem"
    junk.write_text("not a pem file\n")
    p = pinpost("pin", str(junk), check=1)
    assert str(junk) in p.stderr and p.stderr.count("\n") == 1
    p = pinpost("pin", str(tmp_path / "missing.pem"), check=1)
    assert "missing.pem" in p.stderr
    # one bad file among good ones: the good ones still print, exit 1
    p = pinpost("pin", keys["ec"]["cert"], str(junk), check=1)
    assert keys["ec"]["pin"] in p.stdout
    pinpost("pin", check=2)


def test_pin_encrypted_key_refused(pinpost, tmp_path, keys):
    enc = tmp_path / "enc.key"
    run(["openssl", "pkey", "-in", keys["ec"]["key"], "-aes256", "-passout",
         "pass:secret", "-out", str(enc)], check=0)
    p = pinpost("pin", str(enc), check=1)
    assert "encrypted" in p.stderr


# ------------------------------------------------------------------ pins

@pytest.fixture
def store(tmp_path):
    return str(tmp_path / "pins.tdb")


def test_add_show_list(pinpost, store):
    pinpost("-s", store, "pins", "add", "MX.Example.NET.", "--pin", PIN_A,
            "--pin", PIN_B, "--max-age", "3600", "--stsec", "7200", check=0)
    show = pinpost("-s", store, "pins", "show", "mx.example.net",
                   check=0).stdout
    assert "host:           mx.example.net" in show
    assert f"pin-sha256:     {PIN_A}" in show
    assert f"pin-sha256:     {PIN_B}" in show
    assert "starttls-first: unknown" in show
    lines = pinpost("-s", store, "pins", "list", check=0).stdout.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("host mx.example.net pins=2 ")
    # -s also accepted after "pins"
    pinpost("pins", "-s", store, "show", "mx.example.net", check=0)


def test_add_stsec_only_keeps_pins(pinpost, store):
    pinpost("-s", store, "pins", "add", "mx.example.net", "--pin", PIN_A,
            "--max-age", "3600", check=0)
    pinpost("-s", store, "pins", "add", "mx.example.net", "--stsec", "60",
            check=0)
    show = pinpost("-s", store, "pins", "show", "mx.example.net").stdout
    assert PIN_A in show
    assert "stsec:          none" not in show


def export(pinpost, store):
    return json.loads(pinpost("-s", store, "pins", "export", check=0).stdout)


def test_export_import_round_trip(pinpost, store, tmp_path):
    now = int(time.time())
    pinpost("-s", store, "pins", "add", "mx1.example.net", "--pin", PIN_A,
            "--pin", PIN_B, "--max-age", "3600", "--stsec", "7200", check=0)
    pinpost("-s", store, "pins", "add", "mx2.example.net", "--stsec", "99",
            check=0)
    doc = export(pinpost, store)
    assert doc["format"] == "pinpost-pins" and doc["version"] == 1
    h = doc["hosts"]["mx1.example.net"]
    assert sorted(h["pins"]) == sorted([PIN_A, PIN_B])
    assert now + 3600 <= h["pkp_expires"] <= now + 3600 + 5
    assert now + 7200 <= h["stsec_expires"] <= now + 7200 + 5
    assert doc["hosts"]["mx2.example.net"]["pins"] == []

    # add a domain record by import, then re-import everything elsewhere
    doc["domains"]["example.net"] = {"stsec_expires": now + 50,
                                     "noted": now, "via": "mx1.example.net"}
    dump = tmp_path / "dump.json"
    dump.write_text(json.dumps(doc))
    other = str(tmp_path / "other.tdb")
    p = pinpost("-s", other, "pins", "import", str(dump), check=0)
    assert "imported 2 hosts, 1 domains" in p.stdout
    assert export(pinpost, other) == doc
    show = pinpost("-s", other, "pins", "show", "example.net",
                   check=0).stdout
    assert "via:            mx1.example.net" in show
    # and from standard input
    third = str(tmp_path / "third.tdb")
    pinpost("-s", third, "pins", "import", input=json.dumps(doc), check=0)
    assert export(pinpost, third) == doc


def test_forget(pinpost, store):
    pinpost("-s", store, "pins", "add", "mx.example.net", "--stsec", "60",
            check=0)
    p = pinpost("-s", store, "pins", "forget", "mx.example.net", check=0)
    assert "forgot host mx.example.net" in p.stdout
    p = pinpost("-s", store, "pins", "show", "mx.example.net", check=1)
    assert "no record for mx.example.net" in p.stderr
    pinpost("-s", store, "pins", "forget", "mx.example.net", check=1)


ADD_ERRORS = [
    (["--pin", "short"], "--pin short"),
    (["--pin", PIN_A], "needs --max-age"),
    (["--pin", PIN_A, "--max-age", "-5"], "--max-age -5"),
    (["--pin", PIN_A, "--max-age", "12345678901"], "--max-age 12345678901"),
    (["--max-age", "60"], "needs --pin"),
    ([], "give --pin"),
    (["--stsec"], "missing value"),
    (["--bogus", "1"], "unknown option --bogus"),
]


@pytest.mark.parametrize("args,msg", ADD_ERRORS)
def test_add_errors(pinpost, store, args, msg):
    p = pinpost("-s", store, "pins", "add", "mx.example.net", *args)
    assert p.returncode in (1, 2)
    assert msg in p.stderr
    assert not os.path.exists(store)


def test_bad_host_name(pinpost, store):
    p = pinpost("-s", store, "pins", "add", "bad host!", "--stsec", "1")
    assert p.returncode == 1 and "bad host!" in p.stderr


IMPORT_ERRORS = [
    ('{"format": "pinpost-pins", "version": 1,', "dump.json:1:"),
    ('[]', "not a JSON object"),
    ('{"format": "x", "version": 1}', "format"),
    ('{"format": "pinpost-pins", "version": 2}', "unknown version"),
    ('{"format": "pinpost-pins", "version": 1, "extra": 1}', "unknown field"),
    ('{"format": "pinpost-pins", "version": 1, "hosts": {"mx.example.net":'
     ' {"pins": ["AAAA"], "pkp_expires": 5}}}',
     'hosts["mx.example.net"]: pins[0]'),
    ('{"format": "pinpost-pins", "version": 1, "hosts": {"mx.example.net":'
     ' {"pins": ["%s"]}}}' % PIN_A, "pins without pkp_expires"),
    ('{"format": "pinpost-pins", "version": 1, "hosts": {"mx.example.net":'
     ' {"stsec_expires": -1}}}', "integers"),
    ('{"format": "pinpost-pins", "version": 1, "hosts": {"mx.example.net":'
     ' {"starttls_first": "maybe"}}}', "starttls_first"),
    ('{"format": "pinpost-pins", "version": 1, "hosts": {"a b": {}}}',
     'hosts["a b"]'),
    ('{"format": "pinpost-pins", "version": 1, "domains": {"example.net":'
     ' {"noted": 1}}}', 'domains["example.net"]'),
]


@pytest.mark.parametrize("text,msg", IMPORT_ERRORS)
def test_import_errors(pinpost, store, tmp_path, text, msg):
    pinpost("-s", store, "pins", "add", "keep.example.net", "--stsec", "60",
            check=0)
    before = export(pinpost, store)
    dump = tmp_path / "dump.json"
    dump.write_text(text)
    p = pinpost("-s", store, "pins", "import", str(dump), check=1)
    assert msg in p.stderr, p.stderr
    assert str(dump) in p.stderr
    assert export(pinpost, store) == before


def test_import_is_all_or_nothing(pinpost, store, tmp_path):
    pinpost("-s", store, "pins", "add", "keep.example.net", "--stsec", "60",
            check=0)
    before = export(pinpost, store)
    dump = tmp_path / "dump.json"
    dump.write_text(json.dumps({
        "format": "pinpost-pins", "version": 1,
        "hosts": {"a.example.net": {"stsec_expires": 10},
                  "b.example.net": {"pins": ["AAAA"], "pkp_expires": 5}},
        "domains": {"example.net": {"stsec_expires": 10}}}))
    p = pinpost("-s", store, "pins", "import", str(dump), check=1)
    assert 'hosts["b.example.net"]' in p.stderr
    assert export(pinpost, store) == before


def test_missing_store_is_an_error(pinpost, tmp_path):
    path = str(tmp_path / "none.tdb")
    for cmd in (["list"], ["show", "x.example"], ["export"]):
        p = pinpost("-s", path, "pins", *cmd, check=1)
        assert path in p.stderr
    assert not os.path.exists(path)


def test_damaged_store_is_reported(pinpost, store, tmp_path):
    pinpost("-s", store, "pins", "add", "mx.example.net", "--stsec", "60",
            check=0)
    with open(store, "r+b") as f:
        f.write(b"\0" * 64)        # the tdb header
    for cmd in (["list"], ["add", "x.example", "--stsec", "1"]):
        p = pinpost("-s", store, "pins", *cmd, check=1)
        assert store in p.stderr and p.stderr.count("\n") == 1


def test_store_from_environment(pinpost, store):
    env = dict(os.environ, PINPOST_STORE=store)
    exe = os.path.join(BUILD, "pinpost")
    subprocess.run([exe, "pins", "add", "env.example.net", "--stsec", "5"],
                   env=env, check=True)
    assert "env.example.net" in export(pinpost, store)["hosts"]


def test_usage(pinpost):
    assert pinpost(check=2).stderr.startswith("usage:")
    pinpost("frobnicate", check=2)
    pinpost("pins", check=2)
    pinpost("pins", "nope", check=2)
