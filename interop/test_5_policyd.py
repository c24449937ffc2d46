"""Unmodified Postfix 3.7 + pinpost policyd (smtp_tls_policy_maps =
socketmap:unix:...:pinpost): pins and STSEC a pinpostd learned become
Postfix TLS policy.

The setup (one module fixture):
  - receivers: pinpostd "pfok" (STARTTLS, PKP + STSEC), "pfbad"
    (STARTTLS; the store holds pins that are not its keys), "pfplain"
    (starttls_enable = no; the store says STSEC), "pfenc" (STARTTLS; the
    store says STSEC only);
  - a learner pinpostd that delivers one message to pfok and so learns
    pfok's PKP and STSEC under "[127.0.0.1]:PORT" (the real noting
    path, not a hand-made record); the other records are added with
    `pinpost pins add` into the same store while the learner runs, and
    one damaged record is written with tdbtool;
  - `pinpost policyd` on that store (read-only, beside the learner);
  - a private Postfix whose transport_maps send each test domain to one
    receiver's "[127.0.0.1]:PORT": exactly the key policyd looks up.

Cells: a matching pin delivers ("Verified TLS"), a pin mismatch defers
(and nothing reaches the receiver), STSEC without STARTTLS defers, STSEC
with STARTTLS delivers over TLS, a damaged record defers (fail closed).
Each deferral is shown in Postfix's log and in its queue (postqueue -j).
"""
import json
import os
import re
import subprocess
import time

import pytest

import lib
from conftest import server_dir
from lib import Message, smtplib_send, wait_for

S = "Postfix + pinpost policyd"
PEER = "Postfix (unmodified)"
PIN_X = "d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM="


class Policyd:
    def __init__(self, d, store):
        self.sock = os.path.join(d, "policyd.sock")
        self.log_path = os.path.join(d, "policyd.log")
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [os.path.join(lib.BUILD, "pinpost"), "-s", store, "policyd",
             "-v", "unix:" + self.sock], stdin=subprocess.DEVNULL,
            stdout=self.logf, stderr=self.logf, start_new_session=True)
        lib.note_pid(self.proc.pid, "policyd " + self.sock)
        wait_for(lambda: os.path.exists(self.sock) or
                 self.proc.poll() is not None, 10, "policyd socket")
        assert self.proc.poll() is None, self.log()

    def log(self):
        return lib.read_text(self.log_path)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            rc = self.proc.wait(10)
        except subprocess.TimeoutExpired:
            rc = lib.stop_group(self.proc)
        self.logf.close()
        return rc


class Setup:
    pass


@pytest.fixture(scope="module")
def pf(tmp_path_factory):
    st = Setup()
    started = []
    try:
        def receiver(name, **conf):
            r = lib.Pinpostd(server_dir(tmp_path_factory, name), name=name,
                             domains=("%s.pf.test" % name,), verbose=True,
                             **conf)
            started.append(r)
            return r.start()
        st.ok = receiver("pfok")
        st.bad = receiver("pfbad")
        st.plain = receiver("pfplain", starttls_enable="no")
        st.enc = receiver("pfenc")

        # the learner: the real noting path fills the store
        ld = server_dir(tmp_path_factory, "pflearner")
        st.learner = lib.Pinpostd(
            ld, name="pflearner", domains=("pflearner.test",), verbose=True,
            route="pfok.pf.test [127.0.0.1]:%d" % st.ok.port)
        started.append(st.learner)
        st.learner.start()
        msg = Message("policyd learner", rcpt="alice@pfok.pf.test")
        st.learner.submit(msg)
        st.ok.message(msg.msgid, 30)
        st.ok_key = "[127.0.0.1]:%d" % st.ok.port
        wait_for(lambda: len(st.learner.host_record(st.ok_key)["pins"]) == 2,
                 20, "the learner to note pfok's pins")

        st.bad_key = "[127.0.0.1]:%d" % st.bad.port
        st.plain_key = "[127.0.0.1]:%d" % st.plain.port
        st.enc_key = "[127.0.0.1]:%d" % st.enc.port
        # pfbad: pins of keys it does not serve (its backup and another)
        st.learner.cli("pins", "add", st.bad_key, "--pin", st.bad.backup_pin,
                       "--pin", PIN_X, "--max-age", "3600",
                       "--stsec", "3600")
        st.learner.cli("pins", "add", st.plain_key, "--stsec", "3600")
        st.learner.cli("pins", "add", st.enc_key, "--stsec", "3600")
        # a damaged record for a next hop nothing listens on
        (st.temp_port,) = lib.free_ports(1)
        st.temp_key = "[127.0.0.1]:%d" % st.temp_port
        lib.run(["tdbtool", st.learner.store, "store",
                 "host/" + st.temp_key, "garbage"])

        st.policyd = Policyd(server_dir(tmp_path_factory, "pfpolicyd"),
                             st.learner.store)
        relay = {"pfok.pf.test": ("smtp", st.ok_key),
                 "pfbad.pf.test": ("smtp", st.bad_key),
                 "pfplain.pf.test": ("smtp", st.plain_key),
                 "pfenc.pf.test": ("smtp", st.enc_key),
                 "pftemp.pf.test": ("smtp", st.temp_key)}
        st.postfix = lib.Postfix(server_dir(tmp_path_factory, "pfpostfix"),
                                 relay=relay)
        lib.run(["postconf", "-c", st.postfix.etc, "-e",
                 "smtp_tls_policy_maps = socketmap:unix:%s:pinpost"
                 % st.policyd.sock,
                 "smtp_tls_fingerprint_digest = sha256"])
        st.postfix.start()
        yield st
    finally:
        if getattr(st, "postfix", None) is not None:
            st.postfix.stop()
        if getattr(st, "policyd", None) is not None:
            rc = st.policyd.stop()
            assert rc == 0, st.policyd.log()[-3000:]
        for r in started:
            r.stop()


def send(pf, cell, dom):
    msg = Message("policyd " + cell.item.name, rcpt="alice@%s.pf.test" % dom)
    smtplib_send("127.0.0.1", pf.postfix.port, msg, ehlo="injector.test")
    qid, lines = pf.postfix.delivery_lines(msg.msgid, 40)
    return msg, qid, "\n".join(lines)


def policy_answer(pf, key):
    m = pf.policyd.log()
    rx = re.compile(r"policyd key=%s answer=\"([^\"]*)\"" % re.escape(key))
    found = rx.findall(m)
    assert found, m[-3000:]
    return found[-1]


def queued(pf, qid):
    """The message's entry in Postfix's queue (postqueue -j)."""
    p = lib.run(["postqueue", "-c", pf.postfix.etc, "-j"])
    for line in p.out.splitlines():
        e = json.loads(line)
        if e.get("queue_id") == qid:
            return e
    return None


def assert_deferred(pf, qid, lines, reason, cell):
    m = re.search(r"%s: to=<[^>]*>, relay=([^,]*), .*status=deferred "
                  r"\((.*)\)" % qid, lines)
    assert m, lines
    assert reason in m.group(2), m.group(2)
    e = queued(pf, qid)
    assert e is not None and e["queue_name"] == "deferred", e
    why = e["recipients"][0].get("delay_reason", "")
    assert reason in why, e
    cell.note("Postfix: status=deferred (%s); in the deferred queue"
              % m.group(2)[:90])


@pytest.mark.cell(S, PEER, "learned pins: matching key delivers")
def test_pin_match_delivers(pf, cell):
    ans = policy_answer_after(pf, "pfok", cell)
    assert ans.startswith("OK fingerprint match="), ans
    msg, qid, lines = pf.msg, pf.qid, pf.lines
    assert "status=sent" in lines, lines
    pf.ok.message(msg.msgid, 30)
    smtp = "\n".join(pf.postfix.smtp_client_lines(qid))
    assert re.search(r"Verified TLS connection established to "
                     r"127\.0\.0\.1\[127\.0\.0\.1\]:%d" % pf.ok.port,
                     smtp), smtp
    fps = ans.split("=", 1)[1].split("|")
    assert len(fps) == 2
    cell.note("policyd: fingerprint, 2 pins learned by pinpostd; Postfix: "
              "Verified TLS, sent")


def policy_answer_after(pf, dom, cell):
    """Send to dom, then the answer policyd gave for its next hop."""
    pf.msg, pf.qid, pf.lines = send(pf, cell, dom)
    key = {"pfok": pf.ok_key, "pfbad": pf.bad_key, "pfplain": pf.plain_key,
           "pfenc": pf.enc_key, "pftemp": pf.temp_key}[dom]
    return policy_answer(pf, key)


@pytest.mark.cell(S, PEER, "pin mismatch defers, nothing sent")
def test_pin_mismatch_defers(pf, cell):
    ans = policy_answer_after(pf, "pfbad", cell)
    assert ans.startswith("OK fingerprint match="), ans
    assert_deferred(pf, pf.qid, pf.lines, "Server certificate not verified",
                    cell)
    time.sleep(0.5)
    assert lib.find_in_dir(pf.bad.maildir_root, pf.msg.msgid) is None


@pytest.mark.cell(S, PEER, "STSEC, STARTTLS not offered: defers")
def test_stsec_without_starttls_defers(pf, cell):
    ans = policy_answer_after(pf, "pfplain", cell)
    assert ans == "OK encrypt", ans
    assert_deferred(pf, pf.qid, pf.lines,
                    "TLS is required, but was not offered", cell)
    time.sleep(0.5)
    assert lib.find_in_dir(pf.plain.maildir_root, pf.msg.msgid) is None


@pytest.mark.cell(S, PEER, "STSEC, STARTTLS offered: delivers over TLS")
def test_stsec_with_starttls_delivers(pf, cell):
    ans = policy_answer_after(pf, "pfenc", cell)
    assert ans == "OK encrypt", ans
    assert "status=sent" in pf.lines, pf.lines
    raw = pf.enc.message(pf.msg.msgid, 30)
    top = pf.enc.received_by_pinpost(raw)[0]
    assert " with ESMTPS id " in top, top
    cell.note("Postfix: TLS (encrypt level), sent")


@pytest.mark.cell(S, PEER, "damaged store record: TEMP, defers")
def test_store_error_defers(pf, cell):
    ans = policy_answer_after(pf, "pftemp", cell)
    assert ans.startswith("TEMP pin store: "), ans
    assert_deferred(pf, pf.qid, pf.lines, "client TLS configuration problem",
                    cell)
    assert re.search(r"socketmap server temporary error: pin store",
                     pf.postfix.log()), pf.postfix.log()[-3000:]
