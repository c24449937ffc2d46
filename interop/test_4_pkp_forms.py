"""How real clients treat the PKP keyword in its two forms: the single
line (pkp_format = single, the default: `PKP MAX-AGE=n PIN-SHA256=a
PIN-SHA256=b`) and the repeated keyword (pkp_format = multi, one line per
pin).  Each cell delivers through the client to the hub of that form
(the message must arrive intact: the form breaks nothing) and records
what the client shows or keeps of the PKP lines -- findings for the draft.
"""
import re

import pytest

from lib import Message, run, smtplib_send
from test_1_to_pinpostd import (check_hub, msmtp_args, msmtp_ehlo,
                                swaks_ehlo)

S = "PKP single vs multi"
FORMS = ("single", "multi")


def pkp_lines(lines):
    return [l for l in lines if re.match(r"(?i)PKP( |$)", l)]


@pytest.fixture(scope="module")
def hubs(hub, hub_multi):
    """form -> (pinpostd, mail domain, the PKP lines it sends: the oracle,
    read with a raw STARTTLS session)."""
    out = {}
    for form, h, dom in (("single", hub, "tls.hub.test"),
                         ("multi", hub_multi, "multi.hub.test")):
        st = smtplib_send("127.0.0.1", h.port, Message("oracle " + form,
                                                       rcpt="bob@" + dom),
                          starttls=True)
        lines = pkp_lines(st["ehlo_resp"].splitlines())
        if form == "single":
            assert len(lines) == 1, lines
        else:
            assert len(lines) >= 2, lines
        out[form] = (h, dom, lines)
    return out


def lines_word(oracle):
    return "the PKP line" if len(oracle) == 1 else \
        "all %d PKP lines" % len(oracle)


def cells(peer):
    return [pytest.param(f, marks=pytest.mark.cell(S, peer, f + "-line PKP"))
            for f in FORMS]


@pytest.mark.parametrize("form", cells("Python smtplib"))
def test_smtplib(hubs, cell, form):
    h, dom, oracle = hubs[form]
    msg = Message("pkp smtplib " + form, rcpt="alice@" + dom)
    st = smtplib_send("127.0.0.1", h.port, msg, starttls=True)
    check_hub(h, msg, cell, tls=True)
    kept = st["features"].get("pkp", "")
    pins = kept.count("PIN-SHA256=")
    if form == "single":
        assert kept == oracle[0][4:], (kept, oracle)
        assert pins == 2 and "MAX-AGE=" in kept
        cell.note("esmtp_features['pkp'] holds MAX-AGE and both pins")
    else:
        # smtplib's ehlo() stores each keyword in a dict: the last line wins
        assert kept == oracle[-1][4:], (kept, oracle)
        assert pins < 2
        assert all(l in st["ehlo_resp"] for l in oracle)
        cell.finding("smtplib keeps only the last of %d PKP lines in "
                     "esmtp_features['pkp'] (%r): %d of 2 pins%s lost; only "
                     "ehlo_resp has them all" % (
                         len(oracle), kept, 2 - pins,
                         "" if "MAX-AGE" in kept else " and MAX-AGE"))


@pytest.mark.parametrize("form", cells("swaks"))
def test_swaks(hubs, cell, form, tmp_path):
    h, dom, oracle = hubs[form]
    msg = Message("pkp swaks " + form, rcpt="alice@" + dom)
    p = run(["swaks", "--server", "127.0.0.1", "--port", str(h.port),
             "--ehlo", "swaks.client.test", "--from", msg.sender, "--to",
             msg.rcpt, "--data", msg.write(tmp_path / "msg", final_eol=False),
             "--tls"])
    check_hub(h, msg, cell, tls=True)
    plain, tls = swaks_ehlo(p.out)
    assert pkp_lines(tls) == oracle, (tls, oracle)
    cell.finding("swaks prints %s verbatim and interprets none"
                 % lines_word(oracle))


@pytest.mark.parametrize("form", cells("msmtp"))
def test_msmtp(hubs, cell, form, tmp_path):
    h, dom, oracle = hubs[form]
    msg = Message("pkp msmtp " + form, rcpt="alice@" + dom)
    p = run(msmtp_args(tmp_path, h.port, "STARTTLS") +
            ["--debug", "--from=" + msg.sender, msg.rcpt], input=msg.raw)
    check_hub(h, msg, cell, tls=True)
    plain, tls = msmtp_ehlo(p.out + p.err)
    assert pkp_lines(tls) == oracle, (tls, oracle)
    info = run(msmtp_args(tmp_path, h.port, "STARTTLS") + ["--serverinfo"])
    assert "PKP" not in info.out and "STSEC" not in info.out, info.out
    cell.finding("msmtp --debug shows %s; --serverinfo lists only the "
                 "capabilities it knows (no PKP, no STSEC)" % lines_word(oracle))


@pytest.mark.parametrize("form", cells("Exim (relay)"))
def test_exim(hubs, exim, cell, form):
    h, dom, oracle = hubs[form]
    msg = Message("pkp exim " + form, rcpt="alice@" + dom)
    smtplib_send("127.0.0.1", exim.port, msg, ehlo="injector.test")
    check_hub(h, msg, cell, tls=True)
    eid, line = exim.delivered(msg.msgid)
    assert " X=TLS1." in line, line
    ev = [l for l in exim.lines_of(eid) if "EVENT smtp:ehlo tls=TLS" in l]
    assert ev, exim.lines_of(eid)
    seen = [x[4:] for x in ev[-1].split("data=", 1)[1].split("|")]
    assert pkp_lines(seen) == oracle, (seen, oracle)
    cell.finding("Exim delivers and ignores the unknown keyword; its "
                 "smtp:ehlo event ($event_data) holds %s" % lines_word(oracle))


@pytest.mark.parametrize("form", cells("Postfix (relay)"))
def test_postfix(hubs, postfix, cell, form):
    h, dom, oracle = hubs[form]
    if form == "single":
        dom = "dbg.hub.test"        # the same hub, through smtp-dbg
    msg = Message("pkp postfix " + form, rcpt="alice@" + dom)
    smtplib_send("127.0.0.1", postfix.port, msg, ehlo="injector.test")
    check_hub(h, msg, cell, tls=True)
    qid, lines = postfix.delivery_lines(msg.msgid)
    assert "status=sent" in "\n".join(lines)
    smtp = postfix.smtp_client_lines(qid)
    seen = [m.group(1) for m in (re.search(r": < [^:]+:\d+: 250[- ](.*)$", l)
                                 for l in smtp) if m]
    got = pkp_lines(seen)
    # the reply is read twice (before and after TLS); PKP only after.
    # Postfix logs at most 100 characters of each reply line.
    assert len(got) == len(oracle), (got, oracle)
    cut = []
    for g, o in zip(got, oracle):
        assert o.startswith(g), (g, o)
        if g != o:
            assert len("250-" + g) == 100, (g, o)
            cut.append(len(o) + 4)
    cell.finding("Postfix delivers and ignores the unknown keyword; with "
                 "debug_peer_list its log shows %s%s"
                 % (lines_word(oracle), ", cut at 100 characters (the line "
                    "is %s)" % ", ".join(map(str, cut)) if cut else ""))
