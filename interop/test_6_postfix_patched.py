"""pinpostd <-> Postfix 3.7 with pinpost's patches (ext/patches/postfix-3.7),
both directions, with one store file shared by the patched Postfix's smtp
client and a pinpostd sender.

The module's setup: a PatchedPostfix "pf" (smtpd: PKP with its served key
and a backup pin, STSEC; smtp: smtp_tls_pkp_store = S) that receives
example.test and relays hub.pp.test to a pinpostd hub and exim.pp.test to
Exim; a pinpostd sender routing example.test to pf, whose store is S too.

The cells run in file order: the last ones of each direction change the
peer (a new key, STARTTLS gone).
"""
import os
import re
import time

import pytest

import lib
from conftest import server_dir
from lib import Message, body_digest, smtplib_send, wait_for
from postfix_patched import PatchedPostfix

S_IN = "pinpostd → patched Postfix"
S_OUT = "patched Postfix → server"
PEER = "Postfix 3.7 + pinpost patches"


class Setup:
    pass


@pytest.fixture(scope="module")
def pp(tmp_path_factory, exim):
    st = Setup()
    started = []
    try:
        st.hub = lib.Pinpostd(server_dir(tmp_path_factory, "pphub"),
                              name="pphub", domains=("hub.pp.test",),
                              verbose=True)
        started.append(st.hub)
        st.hub.start()
        st.exim = exim
        d = server_dir(tmp_path_factory, "pppostfix")
        st.store = os.path.join(d, "shared-pins.tdb")
        st.pf = PatchedPostfix(d, relay={
            "hub.pp.test": ("smtp", "[127.0.0.1]:%d" % st.hub.port),
            "exim.pp.test": ("smtp", "[127.0.0.1]:%d" % exim.port)},
            store=st.store)
        st.pf.start()
        st.sender = lib.Pinpostd(
            server_dir(tmp_path_factory, "ppsender"), name="ppsender",
            domains=("ppsender.test",), verbose=True,
            route="example.test [127.0.0.1]:%d" % st.pf.port,
            store=st.store)
        st.sender.store = st.store
        started.append(st.sender)
        st.sender.start()
        st.pf_key = "[127.0.0.1]:%d" % st.pf.port
        st.hub_key = "[127.0.0.1]:%d" % st.hub.port
        st.exim_key = "[127.0.0.1]:%d" % exim.port
        yield st
    finally:
        if getattr(st, "pf", None) is not None:
            st.pf.stop()
        for p in started:
            p.stop()


# ---------------------------------------------------------------------
# helpers

def ehlo_both(port):
    """The EHLO keyword lines before and inside TLS (smtplib)."""
    import smtplib
    s = smtplib.SMTP("127.0.0.1", port, local_hostname="probe.test",
                     timeout=30)
    try:
        s.ehlo()
        plain = s.ehlo_resp.decode().splitlines()
        s.starttls(context=lib.client_tls_context())
        s.ehlo()
        tls = s.ehlo_resp.decode().splitlines()
        s.quit()
    finally:
        s.close()
    return plain, tls


def kw(lines, word):
    return [l for l in lines if l.upper().split(" ")[0] == word]


def sender_lines(s, qid, pattern, timeout=40):
    rx = re.compile(pattern)
    return wait_for(lambda: next((rx.search(l) for l in s.client_lines(qid)
                                  if rx.search(l)), None), timeout,
                    "/%s/ for %s in the sender's log" % (pattern, qid),
                    lambda: "\n".join(s.client_lines(qid))[-5000:])


def pf_send(pp, dom, cell):
    msg = Message("patched %s" % cell.item.name, rcpt="alice@" + dom)
    smtplib_send("127.0.0.1", pp.pf.port, msg, ehlo="injector.test")
    qid, lines = pp.pf.delivery_lines(msg.msgid, 40)
    return msg, qid, "\n".join(lines)


def pf_stsec_lines(pp, qid):
    return [l for l in pp.pf.log().splitlines()
            if "%s: pkp/stsec:" % qid in l]


def record(pp, key):
    p = pp.pf.pins_show(key)
    out = {"pins": [], "text": p.out + p.err}
    for line in p.out.splitlines():
        k, _, v = line.partition(":")
        if k.strip() == "pin-sha256":
            out["pins"].append(v.strip())
        else:
            out[k.strip()] = v.strip()
    return out


def first_command(hub, qid):
    cmds = [m.group(1) for l in hub.session_lines(qid)
            for m in [re.search(r"command=(\S+)", l)] if m]
    return cmds[0] if cmds else None


# ---------------------------------------------------------------------
# pinpostd -> patched Postfix (smtpd)

@pytest.mark.cell(S_IN, PEER, "PKP + STSEC advertised inside TLS only")
def test_smtpd_advertises_inside_tls_only(pp, cell):
    plain, tls = ehlo_both(pp.pf.port)
    assert not kw(plain, "PKP") and not kw(plain, "STSEC"), plain
    assert kw(plain, "STARTTLS"), plain
    assert not kw(tls, "STARTTLS"), tls
    pkp = kw(tls, "PKP")
    assert pkp == ["PKP MAX-AGE=3600 PIN-SHA256=%s PIN-SHA256=%s"
                   % (pp.pf.pin, pp.pf.backup_pin)], tls
    assert kw(tls, "STSEC") == ["STSEC MAX-AGE=86400"], tls
    assert re.search(r"postfix/smtpd\[\d+\]: PKP: advertising 2 pins "
                     r"\(1 served, 1 backup\), MAX-AGE=3600, single form",
                     pp.pf.log()), pp.pf.log()[-3000:]
    cell.note("inside TLS: " + pkp[0][:40] + "... + STSEC MAX-AGE=86400; "
              "plaintext: neither")


@pytest.mark.cell(S_IN, PEER, "pinpostd learns PKP + STSEC, then "
                  "STARTTLS first")
def test_pinpostd_learns_from_patched_postfix(pp, cell):
    msg = Message("patched learn", rcpt="alice@example.test")
    qid = pp.sender.submit(msg)
    sender_lines(pp.sender, qid, r"status=sent")
    assert body_digest(pp.pf.message(msg.msgid)) == msg.digest
    rec = pp.sender.host_record(pp.pf_key)
    assert sorted(rec["pins"]) == sorted([pp.pf.pin, pp.pf.backup_pin]), rec
    assert not rec["stsec"].startswith(("none", "expired")), rec
    # the next delivery: STARTTLS before any EHLO, accepted by Postfix
    msg2 = Message("patched learn 2", rcpt="alice@example.test")
    qid2 = pp.sender.submit(msg2)
    lines = "\n".join([sender_lines(pp.sender, qid2,
                                    r"status=sent").string] +
                      pp.sender.client_lines(qid2))
    assert "state greeting -> early-starttls" in lines, lines
    disc = pp.pf.smtpd_session(msg2.msgid)[-1]
    assert "ehlo=1" in disc and "starttls=1" in disc, disc
    assert pp.sender.host_record(pp.pf_key)["starttls-first"] == "accepted"
    cell.note("store: 2 pins (served + backup), STSEC; then STARTTLS "
              "first, Postfix: " + disc.split("]: ", 1)[1].split(" ", 3)[-1])


# ---------------------------------------------------------------------
# patched Postfix (smtp) -> pinpostd

@pytest.mark.cell(S_OUT, "pinpostd", "patched Postfix learns PKP + STSEC; "
                  "one store shared with pinpostd")
def test_patched_postfix_learns_from_pinpostd(pp, cell):
    msg, qid, lines = pf_send(pp, "hub.pp.test", cell)
    assert "status=sent" in lines, lines
    assert body_digest(pp.hub.message(msg.msgid)) == msg.digest
    mine = "\n".join(pf_stsec_lines(pp, qid))
    assert re.search(r"stage=note pkp=valid stsec=valid", mine), mine
    rec = record(pp, pp.hub_key)
    assert sorted(rec["pins"]) == sorted([pp.hub.pin, pp.hub.backup_pin]), \
        rec
    assert not rec["stsec"].startswith(("none", "expired")), rec
    # the same file holds what pinpostd learned from Postfix
    listing = lib.run([os.path.join(lib.BUILD, "pinpost"), "-s", pp.store,
                       "pins", "list"]).out
    assert "host %s pins=2" % pp.hub_key in listing, listing
    assert "host %s pins=2" % pp.pf_key in listing, listing
    cell.note("`pinpost pins list` on the shared store: %s (by Postfix) and "
              "%s (by pinpostd)" % (pp.hub_key, pp.pf_key))


@pytest.mark.cell(S_OUT, "pinpostd", "STARTTLS right after the greeting "
                  "to a known STSEC peer")
def test_patched_postfix_starttls_first(pp, cell):
    msg, qid, lines = pf_send(pp, "hub.pp.test", cell)
    assert "status=sent" in lines, lines
    pp.hub.message(msg.msgid)
    mine = "\n".join(pf_stsec_lines(pp, qid))
    assert re.search(r"plan level=encrypt why=host-stsec starttls-first=1 "
                     r"pinned=1", mine), mine
    assert "starttls-first=accepted" in mine, mine
    assert "stage=pins verdict=proceed" in mine, mine
    hub_qid = re.search(r"\bid (\w+)", pp.hub.received_by_pinpost(
        pp.hub.message(msg.msgid))[0]).group(1)
    assert first_command(pp.hub, hub_qid) == "STARTTLS"
    assert record(pp, pp.hub_key)["starttls-first"] == "accepted"
    cell.note("hub saw STARTTLS as the first command; pins matched")


@pytest.mark.cell(S_OUT, "Exim", "STARTTLS first answered 503: EHLO "
                  "first, remembered")
def test_patched_postfix_503_fallback(pp, cell):
    lib.run([os.path.join(lib.BUILD, "pinpost"), "-s", pp.store, "pins",
             "add", pp.exim_key, "--stsec", "3600"])
    msg, qid, lines = pf_send(pp, "exim.pp.test", cell)
    assert "status=sent" in lines, lines
    mine = "\n".join(pf_stsec_lines(pp, qid))
    assert "starttls-first=refused" in mine, mine
    smtp = "\n".join(pp.pf.smtp_client_lines(qid))
    assert "TLS connection established to 127.0.0.1" in smtp, smtp
    assert record(pp, pp.exim_key)["starttls-first"] == "refused"
    # the next delivery does not try again: EHLO first, then STARTTLS
    msg2, qid2, lines2 = pf_send(pp, "exim.pp.test", cell)
    assert "status=sent" in lines2, lines2
    mine2 = "\n".join(pf_stsec_lines(pp, qid2))
    assert "starttls-first=0" in mine2 and "starttls-first=refused" \
        not in mine2, mine2
    cell.note("503, then EHLO + STARTTLS, sent over TLS; next time EHLO "
              "first")
    cell.finding("Exim answers 503 to STARTTLS before EHLO")


@pytest.mark.cell(S_OUT, "pinpostd", "key swap on the pinned peer: defer "
                  "4.7.5, nothing sent")
def test_patched_postfix_pin_mismatch_defers(pp, cell):
    cert, key = lib.make_cert(os.path.join(pp.hub.d, "keys2"),
                              "mx.pphub.test")
    pp.hub.restart(tls_cert_file=cert, tls_key_file=key)
    msg, qid, lines = pf_send(pp, "hub.pp.test", cell)
    m = re.search(r"%s: to=<[^>]*>, relay=.*dsn=(4\.7\.5), "
                  r"status=deferred \((.*)\)" % qid, lines)
    assert m, lines
    assert "PKP: no chain key matches the 2 pins" in m.group(2), m.group(2)
    time.sleep(0.5)
    assert lib.find_in_dir(pp.hub.maildir_root, msg.msgid) is None
    cell.note("Postfix: dsn=4.7.5, status=deferred (%s)" % m.group(2)[:80])


@pytest.mark.cell(S_OUT, "pinpostd", "STARTTLS gone on an STSEC peer: "
                  "defer 4.7.4, nothing sent in plaintext")
def test_patched_postfix_stripped_defers(pp, cell):
    pp.hub.restart(starttls_enable="no")
    msg, qid, lines = pf_send(pp, "hub.pp.test", cell)
    m = re.search(r"%s: to=<[^>]*>, relay=.*dsn=(4\.7\.4), "
                  r"status=deferred \((.*)\)" % qid, lines)
    assert m, lines
    time.sleep(0.5)
    assert lib.find_in_dir(pp.hub.maildir_root, msg.msgid) is None
    cell.note("Postfix: dsn=4.7.4, status=deferred (%s)" % m.group(2)[:80])


# ---------------------------------------------------------------------
# pinpostd enforces what it learned from the patched Postfix

@pytest.mark.cell(S_IN, PEER, "key swap on Postfix: pinpostd defers 4.7.5")
def test_pinpostd_defers_on_postfix_key_swap(pp, cell):
    pp.pf.swap_key()
    time.sleep(1)
    msg = Message("patched swap", rcpt="alice@example.test")
    qid = pp.sender.submit(msg)
    m = sender_lines(pp.sender, qid, r"status=deferred dsn=(4\.\d\.\d+)")
    assert m.group(1) == "4.7.5", "\n".join(pp.sender.client_lines(qid))
    time.sleep(0.5)
    assert lib.find_in_dir(pp.pf.mail, msg.msgid) is None
    cell.note("pinpostd: deferred 4.7.5 before any EHLO")


@pytest.mark.cell(S_IN, PEER, "STARTTLS gone on Postfix: pinpostd defers "
                  "4.7.4")
def test_pinpostd_defers_on_postfix_without_tls(pp, cell):
    pp.pf.conf(smtpd_tls_security_level="none")
    pp.pf.postfix("reload")
    time.sleep(1)
    plain = ehlo_plain(pp.pf.port)
    assert not kw(plain, "STARTTLS"), plain
    msg = Message("patched notls", rcpt="alice@example.test")
    qid = pp.sender.submit(msg)
    m = sender_lines(pp.sender, qid, r"status=deferred dsn=(4\.\d\.\d+)")
    assert m.group(1) == "4.7.4", "\n".join(pp.sender.client_lines(qid))
    time.sleep(0.5)
    assert lib.find_in_dir(pp.pf.mail, msg.msgid) is None
    cell.note("pinpostd: deferred 4.7.4, nothing sent in plaintext")


def ehlo_plain(port):
    import smtplib
    s = smtplib.SMTP("127.0.0.1", port, local_hostname="probe.test",
                     timeout=30)
    try:
        s.ehlo()
        return s.ehlo_resp.decode().splitlines()
    finally:
        s.close()


# ---------------------------------------------------------------------
# the self-check

@pytest.mark.cell(S_IN, PEER, "no backup pin: a warning and no PKP "
                  "(STSEC still advertised)")
def test_smtpd_self_check_without_backup(tmp_path_factory, cell):
    pf = PatchedPostfix(server_dir(tmp_path_factory, "ppnobackup"),
                        backup_pin=False)
    try:
        pf.start()
        plain, tls = ehlo_both(pf.port)
        assert not kw(tls, "PKP"), tls
        assert kw(tls, "STSEC") == ["STSEC MAX-AGE=86400"], tls
        warn = wait_for(lambda: pf.smtpd_warnings(), 10,
                        "the PKP warning", lambda: pf.log()[-3000:])
        assert "PKP not advertised" in warn[0] and "backup" in warn[0], warn
        cell.note("warning: " + warn[0].split("warning: ", 1)[1][:90])
    finally:
        pf.stop()
