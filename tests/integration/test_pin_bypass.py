"""An attacker that holds its own key but appends the genuine server's
(public) certificate to the chain it presents must not pass the pins:
an unverified chain counts for its leaf key only."""
import os

from conftest import make_keys
from fakesmtp import FakeSMTP
from mailflow import (receiver, route_to, sender, status_re, store_key,
                      submit, wait_log_re, wait_store)


def test_appended_genuine_cert_does_not_satisfy_pins(smtpd, pinpost,
                                                     tmp_path):
    b = receiver(smtpd)
    a = sender(smtpd, route=route_to(b))
    submit(a, "learn")
    wait_log_re(b, r"to=<bob@b\.test> relay=local status=sent")
    wait_store(pinpost, a, store_key(b), lambda r: r is not None and
               len(r.pins) == 2)
    port = b.port
    b.stop()

    evil = make_keys(tmp_path / "evil")
    chain = os.path.join(str(tmp_path), "evil-chain.pem")
    with open(chain, "w") as out:
        for part in (evil["cert"], b.keys["cert"]):
            with open(part) as f:
                out.write(f.read())
    fake = FakeSMTP(chain, evil["key"], port=port)
    fake.start()
    try:
        start = len(a.log())
        qid = submit(a, "must not go to the attacker")
        wait_log_re(a, status_re(qid, "deferred", "4.7.5"), start)
        assert fake.messages == []
        assert not any(c.verb in ("MAIL", "RCPT", "DATA", "BDAT", "EHLO")
                       for c in fake.commands if c.tls), fake.commands
        log = a.log()[start:]
        assert "verdict=defer status=4.7.5" in log
        assert "chain matches a pin" not in log
    finally:
        fake.stop()
