#!/usr/bin/python3
"""make-corpus.py - (re)write the seed corpus of every fuzz harness under
tests/fuzz/corpus/<name>/: small real inputs, one file each.

    python3 tests/fuzz/make-corpus.py

EHLO lines come from the Internet-Draft's figures (rfc-draft/) and the
tests; store records are written in the byte layout of ext/libstsec/record.c (the
harness's decode -> encode -> decode property proves each one is the
encoder's exact output: fuzz_record aborts on a seed that decodes but
does not encode back to the same octets).  Existing files are replaced;
files libFuzzer added by `make fuzz` are kept.
"""
import hashlib
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
PIN_A = "VvAZ7LuWP/YhO+8Nsg7ba5hUh8bxe6sO4npoi7HpCXQ="     # draft fig. 1
PIN_B = "tGHyUz94rwBfKsT7vbE0n5WHjp/G4iWQGDfvUzksmiw="


def write(name, seeds):
    d = os.path.join(HERE, "corpus", name)
    os.makedirs(d, exist_ok=True)
    for label, data in seeds:
        if isinstance(data, str):
            data = data.encode()
        with open(os.path.join(d, "seed-" + label), "wb") as f:
            f.write(data)


def smtp_cmd():
    plain = [
        ("ehlo", "EHLO client.example.test"),
        ("helo-v4", "HELO [192.0.2.1]"),
        ("ehlo-v6", "EHLO [IPv6:2001:db8::1]"),
        ("mail", "MAIL FROM:<alice@a.test> SIZE=35882577 BODY=8BITMIME"),
        ("mail-null", "MAIL FROM:<>"),
        ("mail-space", "MAIL FROM: <bob@b.test>"),
        ("mail-quoted", 'MAIL FROM:<"john q"@example.test>'),
        ("rcpt", "RCPT TO:<bob@b.test>"),
        ("rcpt-route", "RCPT TO:<@a.test,@b.test:bob@c.test>"),
        ("rcpt-postmaster", "RCPT TO:<Postmaster>"),
        ("bdat", "BDAT 1024 LAST"),
        ("data", "DATA"), ("rset", "RSET"), ("noop", "NOOP hi"),
        ("quit", "QUIT"), ("starttls", "STARTTLS"), ("vrfy", "VRFY bob"),
        ("expn", "EXPN list"), ("help", "HELP"),
        ("auth", "AUTH PLAIN AGFsaWNlAHNlY3JldA=="),
        ("bad-param", "MAIL FROM:<a@b.test> FOO=bar"),
        ("nul", "NOOP a\x00b"),
        ("long", "NOOP " + "x" * 600),
    ]
    seeds = [(k, b"\x00" + v.encode("latin-1")) for k, v in plain]
    seeds.append(("mail-utf8", b"\x00MAIL FROM:<j\xc3\xb6rg@b\xc3\xbccher."
                  b"test> SMTPUTF8"))
    seeds.append(("rcpt-utf8", b"\x01RCPT TO:<\xe7\x94\xa8\xe6\x88\xb7@"
                  b"\xe4\xbe\x8b\xe5\xad\x90.test>"))
    seeds.append(("8bit", b"\x00EHLO caf\xe9.test"))
    write("smtp_cmd", seeds)


EHLO_SINGLE = [
    "mx.example.net Hello client.example.org", "PIPELINING",
    "SIZE 10240000", "8BITMIME", "ENHANCEDSTATUSCODES", "CHUNKING",
    "SMTPUTF8",
    "PKP MAX-AGE=259200 PIN-SHA256=%s PIN-SHA256=%s" % (PIN_A, PIN_B),
    "STSEC MAX-AGE=31536000"]
EHLO_MULTI = [
    "mx.example.net Hello client.example.org", "SIZE 35882577", "8BITMIME",
    "PKP PIN-SHA256=%s" % PIN_A, "PKP PIN-SHA256=%s" % PIN_B,
    "PKP MAX-AGE=259200", "STSEC MAX-AGE=31536000",
    "ENHANCEDSTATUSCODES", "CHUNKING"]


def reply(code, lines):
    return "".join("%d%s%s\r\n" % (code, " " if i == len(lines) - 1
                                   else "-", t)
                   for i, t in enumerate(lines))


def smtp_reply():
    write("smtp_reply", [
        ("greeting", "220 mx.example.net ESMTP pinpost\r\n"),
        ("ehlo-single", reply(250, EHLO_SINGLE)),
        ("ehlo-multi", reply(250, EHLO_MULTI)),
        ("starttls", "220 2.0.0 Ready to start TLS\r\n"),
        ("data", "354 End data with <CR><LF>.<CR><LF>\r\n"),
        ("queued", "250 2.0.0 Ok: queued as 0123456789AB\r\n"),
        ("defer", "421-4.7.0 mx.example.net\r\n421 4.7.0 Too many "
         "connections\r\n"),
        ("bare", "250\r\n"),
        ("mixed-codes", "250-a\r\n251 b\r\n"),
        ("no-cr", "250-a\n250 b\n"),
    ])


def smtp_data():
    pre = b"\x01\x00\x00\x00"           # chunk seed 1, no size limit
    lim = b"\x07\x00\x00\x88"           # max_size 64
    write("smtp_data", [
        ("simple", pre + b"Subject: hi\r\n\r\nHello.\r\n.\r\n"),
        ("stuffed", pre + b"a\r\n..leading dot\r\n.\r\nQUIT\r\n"),
        ("pipelined", pre + b"x\r\n.\r\nMAIL FROM:<a@b.test>\r\n"),
        ("bare-lf", pre + b"a\n.\nb\r\n.\r\n"),
        ("smuggle", pre + b"a\r\n.\nMAIL FROM:<e@x>\r\n\r\n.\r\n"),
        ("bare-cr", pre + b"a\r.\rb\r\n.\r\n"),
        ("dot-cr-x", pre + b".\rx\r\n.\r\n"),
        ("long-line", pre + b"y" * 1001 + b"\r\n.\r\n"),
        ("too-big", lim + b"z" * 100 + b"\r\n.\r\n"),
        ("empty", pre + b".\r\n"),
    ])


def ehlo():
    joined = lambda lines: "\n".join(lines) + "\n"
    # octet 0: 2 pins, single form; MAX-AGEs; two 32-octet pins
    fmt = bytes([2]) + (259200).to_bytes(5, "big") + \
        (31536000).to_bytes(5, "big") + \
        hashlib.sha256(b"a").digest() + hashlib.sha256(b"b").digest()
    write("ehlo", [
        ("single", joined(EHLO_SINGLE)),
        ("multi", joined(EHLO_MULTI)),
        ("lower", "pkp max-age=60 pin-sha256=%s pin-sha256=%s\n"
         "stsec max-age=0\n" % (PIN_A, PIN_B)),
        ("retire", "PKP MAX-AGE=0\nSTSEC MAX-AGE=0\n"),
        ("unknown-param", "PKP MAX-AGE=1 FOO=bar PIN-SHA256=%s\n"
         "STSEC MAX-AGE=5 INCLUDESUBDOMAINS\n" % PIN_A),
        ("bad-b64", "PKP MAX-AGE=1 PIN-SHA256=%s\n" % PIN_A[:-2]),
        ("twice", "PKP MAX-AGE=1 MAX-AGE=2 PIN-SHA256=%s\n" % PIN_A),
        ("overflow", "STSEC MAX-AGE=99999999999\n"),
        ("no-params", "PKP\nSTSEC\n"),
        ("crlf", "PKP MAX-AGE=1 PIN-SHA256=%s\r\nSTSEC MAX-AGE=9\r\n"
         % PIN_A),
        ("format", fmt),
    ])


def host_rec(early, pins, pkp, stsec, first, last, last_pin):
    out = struct.pack(">BBBBqqqqB", 1, ord("H"), early, len(pins), pkp,
                      stsec, first, last, 1 if last_pin else 0)
    out += last_pin or b"\x00" * 32
    return out + b"".join(pins)


def domain_rec(stsec, noted, via):
    via = via.encode()
    return struct.pack(">BBqqB", 1, ord("D"), stsec, noted, len(via)) + via


def record():
    p = [hashlib.sha256(bytes([i])).digest() for i in range(17)]
    t = 1795000000
    write("record", [
        ("host-learned", host_rec(0, p[:2], t + 259200, t + 31536000, t,
                                  t, p[0])),
        ("host-early", host_rec(1, p[:1], t, t, t - 5, t, p[0])),
        ("host-refused", host_rec(2, [], 0, t, t, t, None)),
        ("host-16", host_rec(0, p[:16], t, t, t, t, p[16])),
        ("host-17", host_rec(0, p[:17], t, t, t, t, p[16])),
        ("host-v2", b"\x02" + host_rec(0, [], 0, 0, 0, 0, None)[1:]),
        ("domain", domain_rec(t + 31536000, t, "mx1.example.net")),
        ("domain-literal", domain_rec(t, t, "[192.0.2.1]:2525")),
        ("domain-empty-via", domain_rec(0, 0, "")),
        ("domain-trailing", domain_rec(t, t, "a.test") + b"x"),
        # names, for stsec_name_normalize()
        ("name", b"MX1.Example.NET."),
        ("name-literal", b"[IPv6:2001:DB8::1]:2525"),
        ("name-v4", b"[192.0.2.1]"),
        ("name-bad", b"bad host!"),
    ])


CONF_TEST = """# written by the integration tests
myhostname = mx.example.test
user =
log = stderr
listen = 127.0.0.1:2525
spool_dir = /tmp/x/spool
store = /tmp/x/pins.tdb
tls_cert_file = /tmp/x/cert.pem
tls_key_file = /tmp/x/key.pem
pkp_backup_pins = /tmp/x/backup-pub.pem
local_domains = example.test
maildir_root = /tmp/x/mail
mailboxes = alice@example.test,bob@example.test
route = * [127.0.0.1]:9
dns_resolver = 127.0.0.1@9
"""

CONF_MAN = """# a server for example.org on all addresses
myhostname = mx.example.org
listen = 0.0.0.0:25, [::]:25
listen_tls = 0.0.0.0:465, [::]:465
tls_cert_file = /etc/pinpost/fullchain.pem
tls_key_file = /etc/pinpost/key.pem
pkp_backup_pins = /etc/pinpost/backup.csr
local_domains = example.org
mailboxes = postmaster@example.org,
    alice@example.org
relay_networks = 127.0.0.0/8, ::1/128,
    192.0.2.0/24, 2001:db8:1::/48
message_size_limit = 25m
command_timeout = 5m
"""

CONF_DELIVERY = """myhostname = mx.a.test
route = b.test [127.0.0.1]:2526 encrypt, * [192.0.2.1]:25
tls_level = may
pkp_mode = report
pkp_cap = 60d
stsec_cap = 365d
pkp_format = multi
pkp_max_age = 3d
stsec_max_age = 1h
queue_run_interval = 1s
retry_min = 1s
retry_max = 4h
queue_lifetime = 5d
delay_warning = 0
delivery_concurrency = 20
destination_concurrency = 5
connect_timeout = 30s
smtp_timeout = 300s
max_connections = 1200
max_connections_per_ip = 1200
starttls_enable = no
pkp_enable = yes
stsec_enable = TRUE
recipient_limit = 100
message_size_limit = 64k
"""


def conf():
    write("conf", [
        ("tests", CONF_TEST),
        ("man", CONF_MAN),
        ("delivery", CONF_DELIVERY),
        ("crlf", CONF_TEST.replace("\n", "\r\n")),
        ("errors", "recipient_limit = 1k\n"),
        ("continued", "mailboxes =\n\n# c\n  a@b.test\n\tc@d.test\n"),
        ("pins", "pkp_backup_pins = %s, %s\n" % (PIN_A, PIN_B)),
        # values longer than a line (4096): printed back as continuations
        ("long-list", "pkp_backup_pins = " + ", ".join([PIN_A] * 80) +
         "\n" + "".join("  %s %s\n" % (PIN_B, PIN_A) for _ in range(60))),
        ("long-string", "tls_ca_file=/" + "a" * 4082 + "\n\t" +
         "b" * 4095 + "\n #c\n c d\n"),
        ("hash-items", "local_domains=#" + "x" * 4080 + "\n #y\n"
         " z,#w\n"),
    ])


if __name__ == "__main__":
    smtp_cmd()
    smtp_reply()
    smtp_data()
    ehlo()
    record()
    conf()
