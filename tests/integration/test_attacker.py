"""An attacker on the path against pinpost as the CLIENT (issue 5, item 1).

One sending pinpostd A relays every case's message through its own static
route ("[127.0.0.1]:PORT") to its own attacker: a FakeSMTP (fakesmtp.py)
that records every command with its TLS state.  A peer is either UNKNOWN
to A, or KNOWN: its store record is pre-seeded with the genuine server's
pins (its key and a backup) and STSEC, both live for an hour, with
`pinpost -s STORE pins add "[127.0.0.1]:PORT" --pin .. --max-age --stsec`.

Every cell runs at once on the shared A (a module fixture), in two phases:

  attack   each message meets its attacker; A retries (queue run 1 s,
           retry 1-2 s); the phase ends once every cell settled (sent, or
           deferred twice -- once for the stalled handshake, which costs
           smtp_timeout = 5 s per try)
  restore  the attackers of deferred cells are stopped and a GENUINE
           server takes the same port (CA-issued certificate for the
           pinned key, STARTTLS, PKP + STSEC inside TLS); `pinpost queue
           flush`; every deferred message must now arrive, inside TLS

and then each cell's test checks what was recorded:

  - known peer: no MAIL/RCPT/DATA/BDAT/HELO ever in plaintext (to the
    attacker or to anyone); STARTTLS (or QUIT, after a bad greeting) is
    the first command of every connection; what it expects (defer with
    4.7.4 / 4.7.5 / 4.4.0 and the policy line that says why, or -- for
    the pinned key in a bad certificate -- delivery in TLS);
  - unknown peer: what happens matches DESIGN 1.3 (tls_level = may):
    plaintext on the same connection after a refused STARTTLS, but
    nothing more on it after 221 or 421 (the server is closing: deferred
    with 4.4.2 or the 421's own code), plaintext
    on a new connection after a failed handshake, HELO after a refused
    EHLO, TLS whatever the PKIX result (which is logged); never a note;
  - the store's policy (pins, PKP and STSEC expiry) is the same after
    the attack phase as before it (nothing noted from plaintext or
    injected bytes, no forgetting by forged MAX-AGE=0);
  - a deferred message is still in A's queue (`pinpost queue show`:
    deferred, the status) and reaches the genuine server once;
  - nothing lost, nothing doubled: each message arrives exactly once in
    all (attacker + genuine), and leaves A's queue.

Cells not run here because another test covers them exactly:

  STARTTLS stripped, unknown     test_delivery_fake::test_pkp_stsec_in_
                                 plaintext_are_never_noted
  STARTTLS stripped, known       test_delivery::test_stsec_peer_without_
                                 starttls_defers_4_7_4, test_delivery_
                                 fake::test_503_fallback_still_refuses_
                                 plaintext (and forged-plaintext-ehlo here)
  220 + plaintext line + close   test_delivery_fake::test_failed_handshake
  (broken_tls), both             (both peers)
  EHLO 502, unknown              test_delivery_fake::test_helo_fallback_
                                 for_an_unknown_peer
  self-signed other key, known   test_delivery::test_key_outside_pins_
                                 defers_4_7_5_until_restored
  forged PKP/STSEC in the        test_delivery_fake::test_pkp_stsec_in_
  plaintext EHLO, unknown        plaintext_are_never_noted
  injection after 220, then TLS  test_delivery_fake::test_response_
                                 injection_is_discarded (unknown),
                                 test_injection_after_early_starttls_is_
                                 discarded (known)
  primary MX blocked, never-seen test_delivery_dns::test_stsec_is_
  secondary (inheritance)        inherited_by_other_mx_hosts
  "pinned key" cells, unknown    n/a: nothing is pinned
"""
import base64
import hashlib
import os
import re
import smtplib
import time

import pytest

from conftest import (BUILD, SANITIZER_MARKS, Server, make_keys,
                      make_message, openssl_pin, queued_id, run)
from fakesmtp import FakeSMTP
from mailflow import FAST, SENDER, StoreHost

PHASE1_DEADLINE = 30        # seconds for every cell to settle
PHASE2_DEADLINE = 25        # for every deferred message to arrive
SMTP_TIMEOUT = 5            # A's smtp_timeout (the stalled handshake)

MAX_AGE = 3600              # the pre-seeded pins and STSEC
FORGED_PIN = base64.b64encode(hashlib.sha256(b"forged").digest()).decode()
TXN_VERBS = ("MAIL", "RCPT", "DATA", "BDAT")

# Expected results.  Delivered to the attacker: PLAIN (on the connection
# where STARTTLS/EHLO was refused), PLAIN_RETRY (on a new connection after
# the failed handshake), TLS.  Deferred: the status.
PLAIN, PLAIN_RETRY, TLS = "plain", "plain-retry", "tls"
DEFERRED = ("4.7.4", "4.7.5", "4.4.0", "4.4.2", "4.3.2")
SKIP = None


# ====================================================================
# the table: attack -> how the attacker behaves, and what A must do
# ====================================================================

def forged_plain_lines(peer):
    """PKP/STSEC lines an attacker forges in plaintext: a pin set of its
    own key plus one (unknown: poisoning), or MAX-AGE=0 (known:
    forgetting)."""
    if peer == "unknown":
        return ["PKP MAX-AGE=999 PIN-SHA256=%s PIN-SHA256=%s"
                % (CERTS["pin_other"], FORGED_PIN), "STSEC MAX-AGE=999"]
    return ["PKP MAX-AGE=0", "STSEC MAX-AGE=0"]


def injected_ehlo(peer):
    lines = ["fake.test"] + forged_plain_lines(peer)
    return "".join("250%s%s\r\n" % ("-" if i < len(lines) - 1 else " ", l)
                   for i, l in enumerate(lines))


def starttls_code(code, text):
    return {"replies": {"STARTTLS": "%d %s" % (code, text)}}


EARLY_500 = "500 5.5.1 command unrecognized"

# name: (what the attacker does, FakeSMTP settings, expected for an
# unknown peer, expected for a known one).  Settings: replies, tls_cut,
# cert (the certificate it serves: "other" is a CA-issued certificate of
# the attacker's own key), ehlo_plain(peer) and inject(peer) callables.
ATTACKS = {
    "starttls-454": (
        "STARTTLS answered 454", starttls_code(
            454, "4.7.0 TLS not available due to temporary reason"),
        PLAIN, "4.7.4"),
    "starttls-502": (
        "STARTTLS answered 502", starttls_code(
            502, "5.5.1 command not implemented"), PLAIN, "4.7.4"),
    "starttls-501": (
        "STARTTLS answered 501", starttls_code(
            501, "5.5.4 syntax error"), PLAIN, "4.7.4"),
    "starttls-530": (
        "STARTTLS answered 530", starttls_code(
            530, "5.7.0 must issue a STARTTLS command first"),
        PLAIN, "4.7.4"),
    "starttls-354": (
        "STARTTLS answered 354", starttls_code(354, "go ahead"),
        PLAIN, "4.7.4"),
    # the server is closing (RFC 5321 3.8): nothing more on that
    # connection, even where the attacker keeps it open
    "starttls-221": (
        "STARTTLS answered 221 (connection kept)", starttls_code(
            221, "2.0.0 bye"), "4.4.2", "4.7.4"),
    "starttls-421": (
        "STARTTLS answered 421 (connection kept)", starttls_code(
            421, "4.3.2 service not available"), "4.3.2", "4.7.4"),
    "starttls-220-close": (
        "220, then the connection closes", {"tls_cut": "close"},
        PLAIN_RETRY, "4.7.4"),
    "starttls-220-plaintext": (
        "220, then a plaintext 250 and plaintext on", {
            "tls_cut": "plaintext"}, PLAIN_RETRY, "4.7.4"),
    "starttls-220-stall": (
        "220, then silence (handshake times out)", {"tls_cut": "stall"},
        PLAIN_RETRY, "4.7.4"),
    "tls-cut-after-clienthello": (
        "handshake cut: close after the ClientHello", {
            "tls_cut": "after-hello"}, PLAIN_RETRY, "4.7.4"),
    "tls-cut-mid-flight": (
        "handshake cut: half the server flight, then close", {
            "tls_cut": "mid-flight"}, PLAIN_RETRY, "4.7.4"),
    "inject-after-220-no-tls": (
        "forged EHLO lines after 220 (same write), then the handshake "
        "is cut after the ClientHello", {
            "inject": lambda peer: {"STARTTLS": injected_ehlo(peer)},
            "tls_cut": "after-hello"}, PLAIN_RETRY, "4.7.4"),
    "ehlo-500": (
        "EHLO (and STARTTLS first) answered 500", {"replies": {
            "STARTTLS@early": EARLY_500, "EHLO@plain": EARLY_500}},
        PLAIN, "4.7.4"),
    "ehlo-502": (
        "EHLO (and STARTTLS first) answered 502", {"replies": {
            "STARTTLS@early": EARLY_500,
            "EHLO@plain": "502 5.5.2 command not implemented"}},
        SKIP, "4.7.4"),
    "greeting-554": (
        "greeting 554", {"replies": {
            "GREETING": "554 5.3.2 no SMTP service here"}},
        "4.4.0", "4.4.0"),
    "greeting-421": (
        "greeting 421", {"replies": {
            "GREETING": "421 4.3.2 service not available"}},
        "4.4.0", "4.4.0"),
    "key-other-pkix-valid": (
        "a different key in a CA-valid certificate", {"cert": "other"},
        TLS, "4.7.5"),
    "cert-expired-pinned-key": (
        "the pinned key in an expired certificate", {
            "cert": "expired_k"}, SKIP, TLS),
    "cert-expired-other-key": (
        "a different key in an expired certificate", {
            "cert": "expired_other"}, TLS, "4.7.5"),
    "cert-selfsigned-pinned-key": (
        "the pinned key in a self-signed certificate", {
            "cert": "selfsigned_k"}, SKIP, TLS),
    "cert-selfsigned-other-key": (
        "a different key in a self-signed certificate", {
            "cert": "selfsigned_other"}, TLS, SKIP),
    "forged-plaintext-ehlo": (
        "STARTTLS stripped (early STARTTLS 502) and PKP/STSEC MAX-AGE=0 "
        "forged in the plaintext EHLO", {
            "ehlo_plain": lambda peer: BASE_EHLO + forged_plain_lines(peer)},
        SKIP, "4.7.4"),
}

# what A's log must say about the certificate (pkix=...) where TLS is had
PKIX = {"other": "verified", "expired_k": "certificate has expired",
        "expired_other": "certificate has expired",
        "selfsigned_k": "self-signed certificate",
        "selfsigned_other": "self-signed certificate"}

BASE_EHLO = ["PIPELINING", "SIZE 10240000", "8BITMIME",
             "ENHANCEDSTATUSCODES"]

CELLS = [(a, p) for a, spec in ATTACKS.items()
         for p, exp in (("unknown", spec[2]), ("known", spec[3]))
         if exp is not SKIP]

CERTS = {}          # filled by the fixture (certificates, keys, pins)


# ====================================================================
# certificates: a test CA, the genuine key, the attacker's key
# ====================================================================

def make_certs(d):
    d = str(d)
    os.makedirs(d, exist_ok=True)
    p = lambda n: os.path.join(d, n)    # noqa: E731
    ec = ["-pkeyopt", "ec_paramgen_curve:P-256"]
    run(["openssl", "req", "-x509", "-newkey", "ec", *ec, "-nodes",
         "-keyout", p("ca.key"), "-out", p("ca.crt"), "-days", "2",
         "-subj", "/CN=pinpost attack test CA"], check=0)
    for k in ("k", "backup", "other"):
        run(["openssl", "genpkey", "-algorithm", "EC", *ec, "-out",
             p(k + ".key")], check=0)
        run(["openssl", "pkey", "-in", p(k + ".key"), "-pubout", "-out",
             p(k + ".pub")], check=0)
    out = {"ca": p("ca.crt"), "k_key": p("k.key"),
           "other_key": p("other.key")}
    for k in ("k", "other"):
        run(["openssl", "req", "-new", "-key", p(k + ".key"), "-out",
             p(k + ".csr"), "-subj", "/CN=mx.attack.test"], check=0)
        for name, days in (("valid", "2"), ("expired", "-1")):
            run(["openssl", "x509", "-req", "-in", p(k + ".csr"), "-CA",
                 p("ca.crt"), "-CAkey", p("ca.key"), "-set_serial",
                 str(int(time.time() * 1000) % 10 ** 9), "-days", days,
                 "-out", p("%s-%s.crt" % (k, name))], check=0)
        run(["openssl", "req", "-x509", "-key", p(k + ".key"), "-days", "2",
             "-subj", "/CN=mx.attack.test", "-out",
             p(k + "-selfsigned.crt")], check=0)
        out["pin_" + k] = openssl_pin(p(k + ".pub"), "pub")
    out["pin_backup"] = openssl_pin(p("backup.pub"), "pub")
    out["genuine"] = p("k-valid.crt")
    out["certs"] = {
        "other": (p("other-valid.crt"), p("other.key"), out["pin_other"]),
        "expired_k": (p("k-expired.crt"), p("k.key"), out["pin_k"]),
        "expired_other": (p("other-expired.crt"), p("other.key"),
                          out["pin_other"]),
        "selfsigned_k": (p("k-selfsigned.crt"), p("k.key"), out["pin_k"]),
        "selfsigned_other": (p("other-selfsigned.crt"), p("other.key"),
                             out["pin_other"]),
    }
    return out


# ====================================================================
# one cell
# ====================================================================

class Cell:
    def __init__(self, attack, peer):
        self.attack, self.peer = attack, peer
        self.what, self.spec, exp_u, exp_k = ATTACKS[attack]
        self.expect = exp_u if peer == "unknown" else exp_k
        self.id = "%s-%s" % (attack, peer)
        self.domain = "%s.%s.test" % (attack, peer)
        self.rcpt = "bob@" + self.domain
        self.token = "token-%s" % self.id
        self.cert = self.spec.get("cert", "other")
        self.attacker = None
        self.genuine = None
        self.qid = None
        self.store_before = self.store_after = None
        self.queue_show = None
        self.attack_commands = []
        self.attack_messages = []
        self.settled = None         # what ended the attack phase

    @property
    def key(self):
        return "[127.0.0.1]:%d" % self.port

    @property
    def deferred(self):
        return self.expect in DEFERRED

    def start_attacker(self):
        cert, key, pin = CERTS["certs"][self.cert]
        kw = {"backup_pins": [], "served_pin": pin,
              "ehlo_tls": list(BASE_EHLO),      # no PKP, no STSEC
              "replies": dict(self.spec.get("replies", {})),
              "tls_cut": self.spec.get("tls_cut")}
        if "ehlo_plain" in self.spec:
            kw["ehlo_plain"] = self.spec["ehlo_plain"](self.peer)
        if "inject" in self.spec:
            kw["inject"] = self.spec["inject"](self.peer)
        self.attacker = FakeSMTP(cert, key, **kw).start()
        self.port = self.attacker.port

    def start_genuine(self):
        self.genuine = FakeSMTP(
            CERTS["genuine"], CERTS["k_key"], port=self.port,
            served_pin=CERTS["pin_k"],
            backup_pins=[CERTS["pin_backup"]], pkp_max_age=MAX_AGE,
            stsec_max_age=MAX_AGE).start()

    def all_commands(self):
        out = list(self.attack_commands)
        if self.genuine is not None:
            out += list(self.genuine.commands)
        return out

    def deliveries(self):
        """(who, Message) of every copy of this cell's message."""
        out = [("attacker", m) for m in self.attacker.messages]
        if self.genuine is not None:
            out += [("genuine", m) for m in self.genuine.messages]
        return [(w, m) for w, m in out if self.token.encode() in m.data]


def policy(rec):
    """What a store record says about policy: pins and live expiries
    (first-seen / last-seen and starttls-first are audit, not policy)."""
    if rec is None:
        return None
    out = (tuple(sorted(rec.pins)), rec.fields.get("pkp"),
           rec.fields.get("stsec"))
    return None if out == ((), "none", "none") else out


def store_show(store, name):
    p = run([os.path.join(BUILD, "pinpost"), "-s", store, "pins", "show",
             name])
    if p.returncode != 0:
        assert "no record" in p.stderr, (p.returncode, p.stdout, p.stderr)
        return None
    return StoreHost(p.stdout)


STATUS_LINE = re.compile(r"id=(\w+) to=<([^>]+)> relay=(\S+) status=(\w+) "
                         r"dsn=(\S+) reply=\"([^\"]*)\"")


def statuses(log):
    """{qid: [(status, dsn, reply, offset)]} from A's log."""
    out = {}
    for m in STATUS_LINE.finditer(log):
        out.setdefault(m.group(1), []).append(
            (m.group(4), m.group(5), m.group(6), m.start()))
    return out


def stop_all(fakes):
    """Stops FakeSMTPs together (each acceptor polls every 0.2 s)."""
    fakes = [f for f in fakes if f is not None]
    for f in fakes:
        f.stopping = True
        try:
            f.lsock.close()
        except OSError:
            pass
    for f in fakes:
        f.stop()


# ====================================================================
# the run: every cell at once on one sending pinpostd
# ====================================================================

class Run:
    pass


@pytest.fixture(scope="module")
def attack_run(tmp_path_factory):
    build = os.path.abspath(BUILD)
    assert os.access(os.path.join(build, "pinpostd"), os.X_OK), \
        "%s/pinpostd not built" % build
    t0 = time.monotonic()
    tmp = tmp_path_factory.mktemp("attacker")
    CERTS.clear()
    CERTS.update(make_certs(tmp / "certs"))
    R = Run()
    R.cells = {c.id: c for c in (Cell(a, p) for a, p in CELLS)}
    R.A = None
    try:
        for c in R.cells.values():
            c.start_attacker()

        d = str(tmp / "A")
        os.makedirs(d)
        conf = {"myhostname": "mx.a.test", "local_domains": "a.test",
                "mailboxes": SENDER, "_verbose": True,
                "route": ", ".join("%s [127.0.0.1]:%d" % (c.domain, c.port)
                                   for c in R.cells.values()),
                "tls_ca_file": CERTS["ca"],
                "smtp_timeout": "%ds" % SMTP_TIMEOUT,
                "connect_timeout": "5s", "delivery_concurrency": "200",
                "delay_warning": "0"}
        conf.update(FAST)
        R.A = A = Server(build, d, make_keys(d), conf, name="attacker")
        R.store = A.conf["store"]

        # known peers: the genuine server's pins and STSEC, pre-seeded
        for c in R.cells.values():
            if c.peer == "known":
                run([os.path.join(build, "pinpost"), "-s", R.store, "pins",
                     "add", c.key, "--pin", CERTS["pin_k"], "--pin",
                     CERTS["pin_backup"], "--max-age", str(MAX_AGE),
                     "--stsec", str(MAX_AGE)], check=0)
        for c in R.cells.values():
            c.store_before = store_show(R.store, c.key)
        A.start()
        R.t_setup = time.monotonic() - t0

        # phase 1: every message at once, each to its attacker
        with smtplib.SMTP(A.host, A.port, timeout=20) as s:
            s.ehlo("submit.test")
            for c in R.cells.values():
                msg = make_message(c.id, body="%s\r\n" % c.token,
                                   sender=SENDER, to=c.rcpt)
                code, resp = s.mail(SENDER)
                assert code == 250, (code, resp)
                code, resp = s.rcpt(c.rcpt)
                assert code == 250, (c.rcpt, code, resp)
                code, resp = s.data(msg)
                assert code == 250, (code, resp)
                c.qid = queued_id(resp)
        R.by_qid = {c.qid: c for c in R.cells.values()}

        deadline = time.monotonic() + PHASE1_DEADLINE
        pending = set(R.cells)
        while pending and time.monotonic() < deadline:
            st = statuses(A.log())
            for cid in list(pending):
                c = R.cells[cid]
                lines = st.get(c.qid, [])
                final = [x for x in lines if x[0] != "deferred"]
                need = 1 if c.spec.get("tls_cut") == "stall" else 2
                if final:
                    c.settled = final[0][0]
                elif (c.deferred and
                      sum(x[0] == "deferred" for x in lines) >= need):
                    c.settled = "deferred"
                else:
                    continue
                pending.discard(cid)
            time.sleep(0.1)
        R.unsettled = sorted(pending)

        # the attack phase's record
        R.log1 = A.log()
        R.queue1 = A.queue_files()
        for c in R.cells.values():
            c.store_after = store_show(R.store, c.key)
            with c.attacker.lock:
                c.attack_commands = list(c.attacker.commands)
                c.attack_messages = list(c.attacker.messages)
            if c.deferred:
                p = run([os.path.join(build, "pinpost"), "queue", "-f",
                         A.conf_path, "show", c.qid])
                c.queue_show = p.stdout if p.returncode == 0 else None
        R.t_phase1 = time.monotonic() - t0

        # phase 2: the attackers of deferred cells go; genuine servers
        # take their ports
        gone = [c for c in R.cells.values() if c.deferred]
        stop_all([c.attacker for c in gone])
        for c in gone:
            c.start_genuine()
        run([os.path.join(build, "pinpost"), "queue", "-f", A.conf_path,
             "flush"])
        deadline = time.monotonic() + PHASE2_DEADLINE
        pending = {c.qid for c in gone}
        while pending and time.monotonic() < deadline:
            log = A.log()
            pending = {q for q in pending
                       if not re.search(r"id=%s removed" % q, log)}
            time.sleep(0.1)
        for c in gone:
            c.genuine.wait_quiet(5)
        R.log = A.log()
        R.log2_start = len(R.log1)
        R.queue2 = A.queue_files()
        R.t_total = time.monotonic() - t0
        yield R
    finally:
        stop_all([c.attacker for c in R.cells.values()] +
                 [c.genuine for c in R.cells.values()])
        if R.A is not None and R.A.proc is not None:
            rc = R.A.stop()
            log = R.A.log()
            problems = [m for m in SANITIZER_MARKS if m in log]
            if problems or rc != 0:
                pytest.fail("sending pinpostd: exit %r, sanitizer %r; "
                            "log tail:\n%s" % (rc, problems, log[-20000:]),
                            pytrace=False)


# ====================================================================
# the checks
# ====================================================================

def qid_lines(log, qid, start=0, end=None):
    return [l for l in log[start:end].splitlines()
            if "id=%s " % qid in l]


def smtp_like(cmds):
    """Commands that are SMTP words: a failed handshake's ClientHello
    read as a "line" by a plaintext attacker is none."""
    return [x for x in cmds if x.verb.isascii() and x.verb.isalpha()]


def connections(cmds):
    """{conn: [Command]} in order."""
    out = {}
    for cmd in cmds:
        out.setdefault(cmd.conn, []).append(cmd)
    return out


@pytest.mark.parametrize("attack,peer", CELLS,
                         ids=["%s-%s" % c for c in CELLS])
def test_attack(attack_run, attack, peer):
    R = attack_run
    c = R.cells["%s-%s" % (attack, peer)]
    key = re.escape(c.key)
    log1, log = R.log1, R.log
    st1 = [x for x in statuses(log1).get(c.qid, [])]
    ctx = "\n".join(["cell %s (%s), expect %s, settled %r" % (
        c.id, c.what, c.expect, c.settled),
        "attacker commands: %r" % c.attack_commands,
        "genuine commands: %r" % (c.genuine.commands if c.genuine else None),
        "A's log of %s:" % c.qid] + qid_lines(log, c.qid))

    # ---- no plaintext to a peer that requires TLS ----------------------
    plain = [x for x in c.all_commands() if not x.tls]
    if peer == "known":
        bad = [x for x in plain if x.verb in TXN_VERBS + ("HELO",)]
        assert not bad, "transaction in plaintext to a known peer: %r\n%s" \
            % (bad, ctx)
        assert {x.verb for x in smtp_like(plain)} <= {
            "STARTTLS", "EHLO", "QUIT"}, ctx
        for n, cmds in connections(smtp_like(c.all_commands())).items():
            assert cmds[0].verb in ("STARTTLS", "QUIT") and \
                not cmds[0].tls, "conn %d of a known peer began %r\n%s" % (
                    n, cmds[0], ctx)
        assert not any(m.tls is False for _, m in c.deliveries()), ctx

    # ---- nothing noted from plaintext or injected bytes ----------------
    assert policy(c.store_after) == policy(c.store_before), \
        "store changed in the attack phase:\nbefore %r\nafter  %r\n%s" % (
            c.store_before, c.store_after, ctx)
    if peer == "unknown":
        assert c.store_after is None or (
            not c.store_after.pins and c.store_after.pkp_until is None and
            c.store_after.stsec_until is None), ctx
    else:
        assert c.store_after.early != "refused", ctx
    assert not re.search(r"id=%s host=%s noted=" % (c.qid, key), log1), ctx

    # ---- the attack phase's outcome ------------------------------------
    assert c.id not in R.unsettled, "never settled in %ds\n%s" % (
        PHASE1_DEADLINE, ctx)
    delivered = c.deliveries()
    if c.deferred:
        assert c.settled == "deferred", ctx
        assert st1 and all(s == "deferred" and dsn == c.expect
                           for s, dsn, _, _ in st1), \
            "attack phase results %r, want deferred %s\n%s" % (
                st1, c.expect, ctx)
        assert c.attack_messages == [], ctx
        assert not any(x.verb in TXN_VERBS for x in c.attack_commands), ctx
        # still queued, and the queue says why
        assert any(c.qid in p for p in R.queue1), ctx
        assert c.queue_show is not None, ctx
        assert re.search(r"rcpt:\s+<%s>\n\s+state:\s+pending\n" % (
            re.escape(c.rcpt)), c.queue_show), c.queue_show
        assert re.search(r"attempts:\s+[1-9]", c.queue_show), c.queue_show
        assert re.search(r"status:\s+%s\n" % re.escape(c.expect),
                         c.queue_show), c.queue_show
        # why, in A's decision line
        if c.expect == "4.7.4":
            assert re.search(r"id=%s host=%s stage=no-tls "
                             r"policy=host-stsec level=encrypt .*"
                             r"verdict=defer status=4\.7\.4" % (c.qid, key),
                             log1), ctx
            assert not re.search(r"id=%s host=%s stage=no-tls .*"
                                 r"verdict=proceed" % (c.qid, key), log1), ctx
        elif c.expect == "4.7.5":
            pin = CERTS["certs"][c.cert][2]
            assert re.search(r"id=%s host=%s stage=pins policy=host-stsec "
                             r"level=encrypt pins-known=2 chain=%s(,\S+)? "
                             r"verdict=defer status=4\.7\.5" % (
                                 c.qid, key, re.escape(pin)), log1), ctx
            # no command at all inside TLS with a key outside the pins
            assert not any(x.tls for x in c.attack_commands), ctx
        elif c.expect == "4.4.0":
            assert re.search(r"id=%s to=<[^>]+> relay=\S+ status=deferred "
                             r"dsn=4\.4\.0 reply=\"451 4\.4\.0 %s greeted "
                             r"with: %s" % (c.qid, key,
                                            c.spec["replies"]["GREETING"][:3]),
                             log1), ctx
            assert [x.verb for x in c.attack_commands] and \
                {x.verb for x in c.attack_commands} == {"QUIT"}, ctx
        elif c.expect in ("4.4.2", "4.3.2"):
            # 221/421 to STARTTLS: the last word on every connection
            assert re.search(r"id=%s host=%s starttls=closing" % (
                c.qid, key), log1), ctx
            for cmds in connections(c.attack_commands).values():
                assert cmds[-1].verb == "STARTTLS", ctx
        # delivered once the attacker is gone: to the genuine server, in TLS
        assert [w for w, _ in delivered] == ["genuine"], \
            "deliveries %r\n%s" % (delivered, ctx)
        assert delivered[0][1].tls, ctx
        if peer == "known":
            assert re.search(r"id=%s host=%s stage=pins policy=host-stsec "
                             r"level=encrypt pins-known=2 chain=\S+ "
                             r"verdict=proceed" % (c.qid, key),
                             log[R.log2_start:]), ctx
    else:
        assert c.settled == "sent", ctx
        assert len(delivered) == 1 and delivered[0][0] == "attacker", \
            "deliveries %r\n%s" % (delivered, ctx)
        m = delivered[0][1]
        conns = connections(c.attack_commands)
        if c.expect == TLS:
            assert m.tls, ctx
            pkix = PKIX[c.cert]
            assert re.search(r"id=%s host=%s tls=\S+ cipher=\S+ pkix=%s resumed=(?:yes|no)$" % (
                c.qid, key, re.escape(pkix)), log1, re.M), ctx
            if peer == "known":
                # the pin authenticates whatever the PKIX status
                assert re.search(
                    r"id=%s host=%s stage=pins policy=host-stsec "
                    r"level=encrypt pins-known=2 chain=%s verdict=proceed "
                    r"status=- reason=\"chain matches a pin\"" % (
                        c.qid, key, re.escape(CERTS["pin_k"])), log1), ctx
            else:
                assert re.search(
                    r"id=%s host=%s stage=pins policy=none level=may "
                    r"pins-known=0 chain=%s(,\S+)? verdict=proceed" % (
                        c.qid, key, re.escape(CERTS["pin_other"])),
                    log1), ctx
        else:
            # opportunistic plaintext: only for an unknown peer, and only
            # as DESIGN 1.3 says (tls_level = may)
            assert peer == "unknown" and not m.tls, ctx
            verbs = [x.verb for x in conns[m.conn]]
            if attack.startswith("ehlo-"):
                assert verbs[:3] == ["EHLO", "HELO", "MAIL"], ctx
                assert "STARTTLS" not in verbs, ctx
            elif c.expect == PLAIN:
                assert m.conn == 1, ctx
                assert verbs[:3] == ["EHLO", "STARTTLS", "MAIL"], ctx
                assert re.search(r"id=%s host=%s stage=no-tls policy=none "
                                 r"level=may .*verdict=proceed .*reason=\""
                                 r"TLS not required; starttls-refused, plaintext\"" % (
                                     c.qid, key), log1), ctx
            else:   # PLAIN_RETRY: the handshake failed on connection 1
                assert m.conn > 1, ctx
                first = [x.verb for x in conns[1]]
                assert first[:2] == ["EHLO", "STARTTLS"], ctx
                assert not any(v in TXN_VERBS for v in first), ctx
                assert "STARTTLS" not in verbs, ctx
                assert re.search(r"id=%s host=%s handshake failed" % (
                    c.qid, key), log1), ctx
                assert re.search(r"id=%s host=%s stage=no-tls policy=none "
                                 r"level=may .*verdict=proceed" % (
                                     c.qid, key), log1), ctx

    # ---- attack-specific -----------------------------------------------
    cut = c.spec.get("tls_cut")
    if cut is not None:
        cuts = c.attacker.tls_cuts
        assert cuts and all(mode == cut for _, mode, _, _ in cuts), ctx
        if cut in ("after-hello", "mid-flight", "stall"):
            assert all(got > 0 for _, _, got, _ in cuts), cuts  # a hello
        if cut == "mid-flight":
            assert all(sent > 0 for _, _, _, sent in cuts), cuts
    if "inject" in c.spec:
        assert re.search(r"id=%s host=%s discarded=[1-9]\d* reason=" % (
            c.qid, key), log1), ctx

    # ---- nothing lost, nothing doubled ---------------------------------
    assert len(delivered) == 1, ctx
    assert re.search(r"id=%s removed" % c.qid, log), ctx
    assert not any(c.qid in p for p in R.queue2), ctx


def test_run_summary(attack_run):
    """The shared run: every cell settled, within the time budget, and A
    is still up (its exit status and sanitizer reports are checked when
    the module ends)."""
    R = attack_run
    print("\nattacker run: %d cells, setup %.1fs, attack phase until "
          "%.1fs, total %.1fs" % (len(R.cells), R.t_setup, R.t_phase1,
                                  R.t_total))
    st = statuses(R.log1)
    for c in R.cells.values():
        res = [dsn for _, dsn, _, _ in st.get(c.qid, [])]
        conns = connections(c.attack_commands)
        first = " | ".join(" ".join(x.verb + ("*" if x.tls else "")
                                    for x in cmds)
                           for cmds in list(conns.values())[:2])
        print("%-38s expect %-11s attack: %-24s conns=%-2d %s -> %s" % (
            c.id, c.expect, ",".join(res)[:24], len(conns), first[:70],
            ",".join("%s%s" % (w, "/tls" if m.tls else "/plain")
                     for w, m in c.deliveries())))
    assert R.unsettled == [], R.unsettled
    assert R.A.proc.poll() is None, R.A.log()[-5000:]
