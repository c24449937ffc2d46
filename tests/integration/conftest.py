"""Shared fixtures for pinpost's integration tests (Debian's python3 + pytest).

PINPOST_BUILD names the build directory (the Makefile sets it); the tests
run the real binaries built there, with real files in pytest's tmp_path.
"""
import os
import subprocess

import pytest

BUILD = os.environ.get("PINPOST_BUILD",
                       os.path.join(os.path.dirname(__file__), "..", "..",
                                    "build"))


def run(args, *, input=None, check=None):
    """Run a command; returns CompletedProcess with text stdout/stderr.

    check=0 (or any int) asserts that exit status."""
    p = subprocess.run(args, input=input, capture_output=True, text=True,
                       timeout=60)
    if check is not None:
        assert p.returncode == check, (args, p.returncode, p.stdout, p.stderr)
    return p


@pytest.fixture
def pinpost():
    exe = os.path.join(BUILD, "pinpost")
    assert os.access(exe, os.X_OK), f"{exe} not built"

    def call(*args, input=None, check=None):
        return run([exe, *args], input=input, check=check)
    return call


def openssl_pin(path, kind):
    """The oracle: the SPKI pin computed by the openssl command line."""
    if kind == "cert":
        spki = "openssl x509 -in '%s' -pubkey -noout" % path
    elif kind == "csr":
        spki = "openssl req -in '%s' -pubkey -noout" % path
    elif kind == "key":
        spki = "openssl pkey -in '%s' -pubout" % path
    else:
        spki = "cat '%s'" % path
    cmd = (spki + " | openssl pkey -pubin -outform der"
           " | openssl dgst -sha256 -binary | base64")
    out = subprocess.run(["bash", "-o", "pipefail", "-c", cmd],
                         capture_output=True, text=True, check=True).stdout
    pin = out.strip()
    assert len(pin) == 44, out
    return pin


@pytest.fixture(scope="session")
def keys(tmp_path_factory):
    """A P-256 and an RSA key pair, certificate, public key and CSR each."""
    d = tmp_path_factory.mktemp("keys")
    out = {}
    for name, alg in (("ec", ["-newkey", "ec", "-pkeyopt",
                              "ec_paramgen_curve:P-256"]),
                      ("rsa", ["-newkey", "rsa:2048"])):
        key, cert, csr, pub = (str(d / f"{name}.{x}")
                               for x in ("key", "crt", "csr", "pub"))
        run(["openssl", "req", "-x509", *alg, "-nodes", "-keyout", key,
             "-out", cert, "-days", "2", "-subj", f"/CN={name}.test"],
            check=0)
        run(["openssl", "req", "-new", "-key", key, "-out", csr,
             "-subj", f"/CN={name}.test"], check=0)
        run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub], check=0)
        out[name] = {"key": key, "cert": cert, "csr": csr, "pub": pub,
                     "pin": openssl_pin(cert, "cert")}
    return out
