"""The run's own guarantees, checked before the matrix: no DNS query can
leave loopback (interop/run bind-mounts a resolv.conf naming only a dead
loopback address over /etc/resolv.conf in a private mount namespace), and
the software under test is the real thing, where the run expects it."""
import importlib
import ipaddress
import os
import shutil

import pytest

import lib

S = "environment"


@pytest.mark.cell(S, "resolver", "loopback only")
def test_resolver_is_loopback(cell):
    servers = [l.split()[1] for l in lib.read_text("/etc/resolv.conf")
               .splitlines() if l.startswith("nameserver")]
    assert servers, "no nameserver line"
    for s in servers:
        assert ipaddress.ip_address(s).is_loopback, servers
    cell.note("nameserver %s (no DNS leaves loopback)" % ", ".join(servers))


@pytest.mark.cell(S, "software", "installed and unpacked")
def test_software_present(cell):
    for exe in ("postfix", "postconf", "smtp-source", "swaks", "msmtp"):
        assert shutil.which(exe), exe
    for exe in (os.path.join(lib.EXIM_ROOT, "usr/sbin/exim4"),
                os.path.join(lib.OPENSMTPD_ROOT, "usr/sbin/smtpd"),
                os.path.join(lib.BUILD, "pinpostd")):
        assert os.access(exe, os.X_OK), exe
    importlib.import_module("aiosmtpd")
    cell.note("Postfix, swaks, msmtp, aiosmtpd from Debian; Exim, OpenSMTPD "
              "unpacked in %s" % os.path.dirname(lib.EXIM_ROOT))
