"""Postfix 3.7 with pinpost's PKP / STSEC patches (ext/patches/postfix-3.7),
for the interop matrix.

ext/patches/postfix-3.7/build.sh fetches Debian's postfix source package,
applies the series and builds smtpd(8) and smtp(8) into a cache keyed by
the source version and the patches (a cached build costs nothing).  A
PatchedPostfix is lib.Postfix (a private instance on loopback high ports)
whose daemon_directory holds links to Debian's installed daemons of the
same version, except smtp and smtpd, which are the patched ones.
"""
import os
import re

import lib

ROOT = os.path.abspath(os.path.join(lib.HERE, ".."))
SERIES = os.path.join(ROOT, "ext", "patches", "postfix-3.7")
DEBIAN_DAEMONS = "/usr/lib/postfix/sbin"

_built = {}


def build():
    """The cache directory with the patched smtp and smtpd (built once per
    pytest run, and only when the cache has no build for this key)."""
    if "dir" not in _built:
        p = lib.run(["sh", os.path.join(SERIES, "build.sh"),
                     os.path.join(lib.BUILD, "libstsec.a")], timeout=1200)
        _built["dir"] = p.out.strip().splitlines()[-1]
        _built["log"] = p.err
    return _built["dir"]


class PatchedPostfix(lib.Postfix):
    """lib.Postfix with the patched smtp and smtpd.

    smtpd: PKP (served key + backup pin) and, with stsec, STSEC; no
    backup pin -> the self-check refuses PKP.  smtp: the store at
    self.store (smtp_tls_pkp_store)."""

    def __init__(self, d, relay=None, *, backup_pin=True, stsec=True,
                 pkp_format="single", store=None, extra=None):
        super().__init__(d, relay=relay)
        self.cache = build()
        self.daemons = os.path.join(d, "libexec")
        os.makedirs(self.daemons, exist_ok=True)
        for name in os.listdir(DEBIAN_DAEMONS):
            link = os.path.join(self.daemons, name)
            if name in ("smtp", "smtpd"):
                target = os.path.join(self.cache, name)
            else:
                target = os.path.join(DEBIAN_DAEMONS, name)
            if not os.path.lexists(link):
                os.symlink(target, link)
        self.backup_key = os.path.join(self.etc, "backup-key.pem")
        lib.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                 "ec_paramgen_curve:P-256", "-out", self.backup_key])
        self.pin = lib.spki_pin(self.cert)
        self.backup_pin = lib.run(
            ["bash", "-o", "pipefail", "-c",
             "openssl pkey -in '%s' -pubout -outform der | openssl dgst "
             "-sha256 -binary | base64" % self.backup_key]).out.strip()
        self.store = store or os.path.join(d, "pins.tdb")
        params = {
            "daemon_directory": self.daemons,
            "smtpd_tls_pkp_backup_pins":
                self.backup_pin if backup_pin else "",
            "smtpd_tls_pkp_max_age": "3600s",
            "smtpd_tls_stsec_max_age": "86400s" if stsec else "0s",
            "smtpd_tls_pkp_format": pkp_format,
            "smtp_tls_pkp_store": self.store,
            "smtp_tls_fingerprint_digest": "sha256",
            # one delivery per process: each test sees the store afresh
            "smtp_connection_cache_on_demand": "no",
        }
        params.update(extra or {})
        self.conf(**params)

    def conf(self, **params):
        lib.run(["postconf", "-c", self.etc, "-e",
                 *["%s = %s" % kv for kv in params.items()]])

    def swap_key(self):
        """A new server key and certificate (a key change); reload."""
        os.remove(self.cert)
        os.remove(self.key)
        self.cert, self.key = lib.make_cert(self.etc, "postfix.test")
        self.pin = lib.spki_pin(self.cert)
        if self.started:
            self.postfix("reload")

    def pins_show(self, key):
        return lib.run([os.path.join(lib.BUILD, "pinpost"), "-s",
                        self.store, "pins", "show", key], check=False)

    def smtpd_warnings(self):
        return [l for l in self.log().splitlines()
                if re.search(r"postfix/smtpd\[\d+\]: warning: PKP", l)]
