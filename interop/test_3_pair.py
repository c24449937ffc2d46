"""pinpostd <-> pinpostd, the reference pair: A relays example.test to B
(route = example.test [127.0.0.1]:B), B advertises PKP and STSEC.

The first delivery learns B's pins and STSEC from the EHLO inside TLS;
the next one sends STARTTLS right after the greeting and checks the
pins; a key outside the pin set defers 4.7.5; STARTTLS taken away
defers 4.7.4; both PKP forms are learned alike.
"""
import re
import time

import pytest

from lib import (Message, body_digest, find_in_dir, make_cert, smtplib_send,
                 wait_for)

S = "pinpostd ↔ pinpostd"


def pair(pinpostd, fmt="single"):
    b = pinpostd("b", domains=("example.test",), verbose=True,
                 pkp_format=fmt)
    a = pinpostd("a", route="example.test [127.0.0.1]:%d" % b.port,
                 verbose=True)
    a.key = "[127.0.0.1]:%d" % b.port
    return a, b


def a_log(a, qid, pattern, timeout=30):
    rx = re.compile(pattern)
    return wait_for(lambda: next((rx.search(l) for l in a.client_lines(qid)
                                  if rx.search(l)), None), timeout,
                    "/%s/ for %s in A's log" % (pattern, qid),
                    lambda: "\n".join(a.client_lines(qid))[-5000:])


def send(a, b, tag, delivered=True):
    msg = Message("pair " + tag)
    qid = a.submit(msg)
    if delivered:
        raw = b.message(msg.msgid)
        assert body_digest(raw) == msg.digest
        a_log(a, qid, r"status=sent")
    return msg, qid


def learn(a, b, cell):
    msg, qid = send(a, b, "learn")
    lines = "\n".join(a.client_lines(qid))
    assert re.search(r"tls=TLSv1\.3", lines), lines
    assert "pkp=valid stsec=valid" in lines, lines
    a_log(a, qid, r"noted=0x")
    rec = wait_for(lambda: (lambda r: r if r.get("stsec", "none") != "none"
                            and r["pins"] else None)(a.host_record(a.key)),
                   10, "A's store to hold B's pins and STSEC")
    assert sorted(rec["pins"]) == sorted([b.pin, b.backup_pin]), rec
    return rec


@pytest.mark.cell(S, "pinpostd", "first delivery learns PKP + STSEC")
def test_pair_learn(pinpostd, cell):
    a, b = pair(pinpostd)
    rec = learn(a, b, cell)
    assert rec["starttls-first"] == "unknown", rec
    cell.note("A noted 2 pins (served + backup) and STSEC until %s"
              % rec["stsec"])


@pytest.mark.cell(S, "pinpostd", "known peer: STARTTLS first, pins checked")
def test_pair_known_peer(pinpostd, cell):
    a, b = pair(pinpostd)
    learn(a, b, cell)
    msg, qid = send(a, b, "known")
    lines = "\n".join(a.client_lines(qid))
    assert "state greeting -> early-starttls" in lines, lines
    assert "early-starttls=refused" not in lines, lines
    assert re.search(r"stage=pins policy=host-\w+ level=encrypt "
                     r"pins-known=2 .*verdict=proceed", lines), lines
    raw = b.message(msg.msgid)
    bqid = re.search(r" id (\w+)", b.received_by_pinpost(raw)[0]).group(1)
    verbs = [re.search(r"command=(\w+)", l).group(1)
             for l in b.session_lines(bqid) if "command=" in l]
    assert verbs[0] == "STARTTLS" and verbs.count("EHLO") == 1, verbs
    assert a.host_record(a.key)["starttls-first"] == "accepted"
    cell.note("B saw %s; pins-known=2 verdict=proceed; store: "
              "starttls-first=accepted" % " ".join(verbs))


@pytest.mark.cell(S, "pinpostd", "key outside the pin set: defer 4.7.5")
def test_pair_key_change(pinpostd, cell, tmp_path):
    a, b = pair(pinpostd)
    learn(a, b, cell)
    cert, key = make_cert(str(tmp_path / "newkey"), "mx.b.test")
    b.restart(tls_cert_file=cert, tls_key_file=key)
    since = len(b.log())
    msg, qid = send(a, b, "key change", delivered=False)
    m = a_log(a, qid, r"status=deferred dsn=(4\.\d\.\d+)")
    assert m.group(1) == "4.7.5", m.group(0)
    lines = "\n".join(a.client_lines(qid))
    assert re.search(r"stage=pins .*verdict=defer status=4\.7\.5", lines), \
        lines
    # no EHLO and no mail on that connection: B queued nothing
    assert "status=sent" not in lines
    time.sleep(0.3)
    assert not find_in_dir(b.maildir_root, msg.msgid)
    # on B: A's sessions said STARTTLS and nothing else (no EHLO inside
    # TLS, no mail)
    log = b.log()[since:]
    cmds = re.findall(r"debug: \S+ command=(\w+)", log)
    assert cmds and set(cmds) == {"STARTTLS"}, log
    cell.note("A deferred 4.7.5 right after the handshake; B saw only "
              "STARTTLS (%d session(s))" % len(cmds))


@pytest.mark.cell(S, "pinpostd", "STARTTLS taken away: defer 4.7.4")
def test_pair_stripped(pinpostd, cell):
    a, b = pair(pinpostd)
    learn(a, b, cell)
    b.restart(starttls_enable="no")
    msg, qid = send(a, b, "stripped", delivered=False)
    m = a_log(a, qid, r"status=deferred dsn=(4\.\d\.\d+)")
    assert m.group(1) == "4.7.4", m.group(0)
    lines = "\n".join(a.client_lines(qid))
    m = re.search(r"early-starttls=refused code=(\d+)", lines)
    assert m, lines
    assert "status=sent" not in lines
    time.sleep(0.3)
    assert not find_in_dir(b.maildir_root, msg.msgid)
    cell.note("B answered %s to STARTTLS; A deferred 4.7.4, sent nothing"
              % m.group(1))


@pytest.mark.cell(S, "pinpostd", "multi-line PKP form learned alike")
def test_pair_multi(pinpostd, cell):
    a, b = pair(pinpostd, fmt="multi")
    st = smtplib_send("127.0.0.1", b.port, Message("probe"), starttls=True)
    pkp = [l for l in st["ehlo_resp"].splitlines() if l.startswith("PKP")]
    assert len(pkp) >= 2, st["ehlo_resp"]
    learn(a, b, cell)
    cell.note("B sent %d PKP lines; A noted both pins" % len(pkp))
