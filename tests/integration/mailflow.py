"""Helpers for the delivery tests: a sending pinpostd A, receiving
pinpostd B, submission, the pin store as `pinpost pins show` prints it,
pinpostd's logs read as sessions and decisions, and DSNs parsed with
Python's email package.
"""
import calendar
import email
import email.policy
import os
import re
import smtplib
import time

import pytest

from conftest import make_keys, make_message, openssl_pin, run, smtplib_send

A_DOMAIN = "a.test"
B_DOMAIN = "b.test"
SENDER = "alice@a.test"
RCPT = "bob@b.test"

# fast queue runs and retries for the sender
FAST = {"queue_run_interval": "1s", "retry_min": "1s", "retry_max": "2s"}


def receiver(smtpd, domain=B_DOMAIN, **kw):
    """A pinpostd that takes mail for bob@DOMAIN, with -v (it logs every
    command it receives)."""
    conf = {"local_domains": domain, "mailboxes": "bob@" + domain,
            "myhostname": "mx." + domain, "_verbose": True}
    conf.update(kw)
    return smtpd(**conf)


def sender(smtpd, route=None, **kw):
    """A pinpostd with the local mailbox alice@a.test that relays by
    route (a static route string, or None for the fixture's default)."""
    conf = {"local_domains": A_DOMAIN, "mailboxes": SENDER,
            "myhostname": "mx." + A_DOMAIN, "_verbose": True}
    conf.update(FAST)
    if route is not None:
        conf["route"] = route
    conf.update(kw)
    return smtpd(**conf)


def route_to(srv, domain=B_DOMAIN):
    return "%s [%s]:%d" % (domain, srv.host, srv.port)


def store_key(srv):
    """The store's name for a next hop given as [ADDR]:PORT."""
    return "[%s]:%d" % (srv.host, srv.port)


def submit(a, subject, rcpt=RCPT, sender_addr=SENDER, body="Hello.\r\n"):
    """Hands one message to pinpostd a over SMTP (rcpt: an address or a
    list of them; sender_addr "" is the null sender); its queue id."""
    rcpts = [rcpt] if isinstance(rcpt, str) else list(rcpt)
    with smtplib.SMTP(a.host, a.port, timeout=10) as s:
        s.ehlo("submit.test")
        return smtplib_send(s, make_message(subject, body=body,
                                            sender=sender_addr or
                                            "mailer-daemon@a.test",
                                            to=rcpts[0]),
                            sender=sender_addr, rcpts=rcpts)


def pins_of(keys):
    """The pins B advertises: its certificate's and its backup key's,
    computed by the openssl command line."""
    return {openssl_pin(keys["cert"], "cert"),
            openssl_pin(keys["backup_pub"], "pub")}


def keys_conf(k):
    """The conf parameters that make a pinpostd serve keys k."""
    return {"tls_cert_file": k["cert"], "tls_key_file": k["key"],
            "pkp_backup_pins": k["backup_pub"]}


def new_keys(srv, name):
    """A fresh certificate, key and backup key for srv (outside any pins
    it had), and the conf changes that make srv use them."""
    k = make_keys(os.path.join(srv.dir, name))
    return k, keys_conf(k)


def rotate_to_backup(srv, name):
    """Keys that serve srv's current BACKUP key (in a new self-signed
    certificate) with a fresh backup key: the rotation PKP plans for."""
    d = os.path.join(srv.dir, name)
    os.makedirs(d)
    k = {"key": srv.keys["backup_key"],
         "cert": os.path.join(d, "cert.pem"),
         "backup_key": os.path.join(d, "backup-key.pem"),
         "backup_pub": os.path.join(d, "backup-pub.pem")}
    run(["openssl", "req", "-x509", "-new", "-key", k["key"], "-out",
         k["cert"], "-days", "2", "-subj", "/CN=mx.example.test"], check=0)
    run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-out", k["backup_key"]], check=0)
    run(["openssl", "pkey", "-in", k["backup_key"], "-pubout", "-out",
         k["backup_pub"]], check=0)
    return k, keys_conf(k)


# --------------------------------------------------------------------
# the store

def parse_time(s):
    """'2026-11-25T15:53:07Z' -> epoch seconds."""
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))


class StoreHost:
    """One host record as `pinpost pins show NAME` prints it."""

    def __init__(self, text):
        self.text = text
        self.pins = []
        self.fields = {}
        for line in text.splitlines():
            k, sep, v = line.partition(":")
            if not sep:
                continue
            k, v = k.strip(), v.strip()
            if k == "pin-sha256":
                self.pins.append(v)
            else:
                self.fields.setdefault(k, v)

    def _until(self, name):
        v = self.fields.get(name, "none")
        if v == "none" or v.startswith("expired:"):
            return None
        return parse_time(v)

    @property
    def pkp_until(self):
        """Expiry time of live pins, else None."""
        return self._until("pkp")

    @property
    def stsec_until(self):
        return self._until("stsec")

    @property
    def early(self):
        return self.fields.get("starttls-first")

    def __repr__(self):
        return "StoreHost(%r)" % self.text


def store_show(pinpost, srv, name):
    """srv's store record for name (a StoreHost), or None when there is
    none."""
    p = pinpost("-s", srv.conf["store"], "pins", "show", name)
    if p.returncode != 0:
        assert "no record" in p.stderr, (p.returncode, p.stdout, p.stderr)
        return None
    return StoreHost(p.stdout)


def store_list(pinpost, srv):
    p = pinpost("-s", srv.conf["store"], "pins", "list", check=0)
    return p.stdout


def wait_store(pinpost, srv, name, pred, timeout=10):
    """Polls `pins show` until pred(record or None) holds; the record."""
    deadline = time.monotonic() + timeout
    while True:
        rec = store_show(pinpost, srv, name)
        if pred(rec):
            return rec
        if time.monotonic() > deadline:
            pytest.fail("store of %s: %r never satisfied the test; log:\n%s"
                        % (srv.dir, rec, srv.log()))
        time.sleep(0.05)


# --------------------------------------------------------------------
# logs

def wait_log_re(srv, pattern, start=0, timeout=10):
    """Polls srv's log (from offset start) until the regex matches; the
    match."""
    rx = re.compile(pattern)
    deadline = time.monotonic() + timeout
    while True:
        log = srv.log()
        m = rx.search(log, start)
        if m:
            return m
        if time.monotonic() > deadline:
            pytest.fail("/%s/ not in the log of %s after %ss:\n%s"
                        % (pattern, srv.dir, timeout, log[start:]))
        time.sleep(0.02)


def status_re(qid, status, dsn=None, rcpt=RCPT):
    """The runner's line for one recipient's result."""
    return (r"id=%s to=<%s> relay=\S+ status=%s%s" %
            (qid, re.escape(rcpt), status,
             (" dsn=" + re.escape(dsn)) if dsn else ""))


class ServerSession:
    """One SMTP session as pinpostd -v logs it (the receiving side)."""

    def __init__(self, gen, sid):
        self.gen, self.sid = gen, sid
        self.commands = []      # (VERB, inside TLS)
        self.tls = False
        self.peer = None

    @property
    def verbs(self):
        return [v for v, _ in self.commands]

    def __repr__(self):
        return "ServerSession(%s, %r)" % (self.sid, self.commands)


SESSION_LINE = re.compile(
    r"^\S+ pinpostd\[\d+\]: (?:debug: )?([0-9a-f]{16}) (.*)$")


def server_sessions(log, start=0):
    """The sessions in a pinpostd -v log (from offset start), in order.
    Session ids restart with the process: a "listening on" line begins
    a new generation."""
    out, cur, gen = [], {}, 0
    for line in log[start:].splitlines():
        if "]: listening on " in line:
            gen += 1
            cur = {}
            continue
        m = SESSION_LINE.match(line)
        if not m:
            continue
        sid, rest = m.groups()
        s = cur.get(sid)
        if s is None:
            s = cur[sid] = ServerSession(gen, sid)
            out.append(s)
        if rest.startswith("connect from="):
            s.peer = rest.split("=", 1)[1]
        elif rest.startswith("tls="):
            s.tls = True
        elif rest.startswith("command="):
            s.commands.append((rest.split("=", 1)[1].split()[0], s.tls))
    return out


def mail_sessions(log, start=0):
    """Sessions that got as far as MAIL (deliveries, not probes)."""
    return [s for s in server_sessions(log, start) if "MAIL" in s.verbs]


# --------------------------------------------------------------------
# messages and DSNs

def read_mail(path):
    with open(path, "rb") as f:
        return f.read()


def parse_mail(data):
    return email.message_from_bytes(data, policy=email.policy.compat32)


def one_line(s):
    """Text with every run of white space made one space (our DSN text
    is wrapped)."""
    return " ".join(s.split())


class DSN:
    """A delivery status notification (RFC 3464) as Python's email
    package parses it."""

    def __init__(self, data):
        self.raw = data
        self.msg = parse_mail(data)
        assert self.msg.get_content_type() == "multipart/report", \
            self.msg.get_content_type()
        assert self.msg.get_param("report-type") == "delivery-status"
        self.parts = self.msg.get_payload()
        assert [p.get_content_type() for p in self.parts] == [
            "text/plain", "message/delivery-status",
            "text/rfc822-headers"], [p.get_content_type()
                                     for p in self.parts]
        self.text = self.parts[0].get_payload(decode=True).decode()
        blocks = self.parts[1].get_payload()
        self.per_message = blocks[0]
        self.recipients = blocks[1:]
        self.headers = self.parts[2].get_payload(decode=True).decode()

    def rcpt(self, addr):
        for r in self.recipients:
            if r["Final-Recipient"].split(";", 1)[1].strip() == addr:
                return r
        raise AssertionError("no report for %s in %r" % (addr, self.raw))
