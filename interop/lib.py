"""Helpers for the interop matrix: messages, ports, processes, and one
class per real server (pinpostd, Postfix, Exim, OpenSMTPD, aiosmtpd).

Every server runs on 127.0.0.1 high ports with its own configuration,
spool and self-signed certificate under the test's directory, and is
stopped by the fixture that started it.  The whole run is inside a
private mount namespace (interop/run) whose /etc/resolv.conf names only a
dead loopback address, so no DNS query leaves loopback either.

Exim and OpenSMTPD come unpacked from their Debian packages (they conflict
with Postfix as packages); interop/run puts them under INTEROP_EXIM_ROOT and
INTEROP_OPENSMTPD_ROOT.  Their compiled-in users and paths are provided
inside a further private mount namespace per server (unshare -m, bind
mounts of a passwd/group copy and of private directories), so nothing
outside the test's directory is written.
"""
import email.utils
import errno
import glob
import hashlib
import os
import re
import signal
import socket
import ssl
import subprocess
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.path.abspath(os.environ.get("PINPOST_BUILD",
                                       os.path.join(HERE, "..", "build")))
EXIM_ROOT = os.environ.get("INTEROP_EXIM_ROOT", "")
OPENSMTPD_ROOT = os.environ.get("INTEROP_OPENSMTPD_ROOT", "")
PIDS_FILE = os.environ.get("INTEROP_PIDS", "/tmp/pinpost-interop.pids")

WAIT = 20           # seconds to wait for a message or a log line


class Failed(AssertionError):
    pass


# ---------------------------------------------------------------------
# small things

def run(args, *, input=None, check=True, timeout=60, env=None):
    p = subprocess.run(args, input=input, capture_output=True,
                       timeout=timeout, env=env)
    p.out = p.stdout.decode("utf-8", "replace")
    p.err = p.stderr.decode("utf-8", "replace")
    if check and p.returncode != 0:
        raise Failed("%s exited %d\nstdout: %s\nstderr: %s"
                     % (" ".join(map(str, args)), p.returncode, p.out,
                        p.err))
    return p


def free_ports(n):
    """n distinct TCP ports free on 127.0.0.1 right now."""
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def wait_port(port, proc=None, timeout=15, what="server"):
    """Until something accepts on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise Failed("%s exited (%s) before listening on %d"
                         % (what, proc.returncode, port))
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            s.close()
            return
        except OSError as e:
            if e.errno not in (errno.ECONNREFUSED, errno.ECONNRESET):
                raise
        if time.monotonic() > deadline:
            raise Failed("%s not listening on %d after %ss"
                         % (what, port, timeout))
        time.sleep(0.05)


def wait_for(pred, timeout=WAIT, what="condition", info=lambda: ""):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise Failed("timed out after %ss waiting for %s\n%s"
                         % (timeout, what, info()))
        time.sleep(0.05)


def read_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def chown_r(path, uid, gid):
    for root, dirs, files in os.walk(path):
        os.chown(root, uid, gid)
        for n in files:
            os.chown(os.path.join(root, n), uid, gid)


def make_cert(d, cn, alg="ec"):
    """Self-signed certificate and key in d; returns (cert, key)."""
    os.makedirs(d, exist_ok=True)
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    newkey = (["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
              if alg == "ec" else ["-newkey", "rsa:2048"])
    run(["openssl", "req", "-x509", *newkey, "-nodes", "-keyout", key,
         "-out", cert, "-days", "2", "-subj", "/CN=" + cn,
         "-addext", "subjectAltName=DNS:" + cn])
    return cert, key


def spki_pin(path):
    """The base64 SPKI SHA-256 pin of a certificate (openssl as oracle)."""
    p = run(["bash", "-o", "pipefail", "-c",
             "openssl x509 -in '%s' -pubkey -noout | openssl pkey -pubin "
             "-outform der | openssl dgst -sha256 -binary | base64" % path])
    return p.out.strip()


def client_tls_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def server_tls_context(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


# ---------------------------------------------------------------------
# processes: every daemon a test starts is recorded, so interop/run can
# stop leftovers of a run that was killed before its finalizers ran.

def note_pid(pid, tag):
    try:
        with open(PIDS_FILE, "a") as f:
            f.write("%d %s\n" % (pid, tag))
    except OSError:
        pass


def stop_group(proc, timeout=10):
    """SIGTERM to the process group of proc, wait, SIGKILL if needed."""
    if proc is None:
        return None
    try:
        pgid = os.getpgid(proc.pid)
    except ProcessLookupError:
        pgid = None
    if proc.poll() is None:
        try:
            os.killpg(pgid, signal.SIGTERM)
        except (ProcessLookupError, TypeError):
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    if pgid is not None:
        try:
            os.killpg(pgid, signal.SIGKILL)    # stragglers of the group
        except ProcessLookupError:
            pass
    if proc.poll() is None:
        proc.wait(5)
    return proc.returncode


def free_ids(n, start=64900):
    """n consecutive uids/gids (same numbers) unused by /etc/passwd and
    /etc/group, for users that exist only in a private namespace."""
    used = set()
    for path in ("/etc/passwd", "/etc/group"):
        for line in read_text(path).splitlines():
            f = line.split(":")
            if len(f) > 2 and f[2].isdigit():
                used.add(int(f[2]))
    i = start
    while any(i + k in used for k in range(n)):
        i += 1
    return list(range(i, i + n))


def ns_user_files(d, users):
    """passwd and group copies in d with extra users [(name, uid, home)];
    each user gets a group of the same name and number."""
    pw = read_text("/etc/passwd").rstrip("\n") + "\n"
    gr = read_text("/etc/group").rstrip("\n") + "\n"
    for name, uid, home in users:
        pw += "%s:x:%d:%d::%s:/usr/sbin/nologin\n" % (name, uid, uid, home)
        gr += "%s:x:%d:\n" % (name, uid)
    write(os.path.join(d, "passwd"), pw)
    write(os.path.join(d, "group"), gr)
    return os.path.join(d, "passwd"), os.path.join(d, "group")


# ---------------------------------------------------------------------
# messages

def slug(s):
    return re.sub(r"[^A-Za-z0-9]+", "-", s).strip("-").lower()[:40]


class Message:
    """A test message with CRLF line ends: a unique Message-ID, and a body
    with lines that test transparency (leading dots, a long line)."""

    def __init__(self, cell, sender="sender@client.test",
                 rcpt="alice@example.test"):
        self.cell = cell
        self.sender = sender
        self.rcpt = rcpt
        self.msgid = "%s.%s@interop.test" % (slug(cell), uuid.uuid4().hex[:12])
        body = ("Interop cell: %s\r\n"
                "\r\n"
                ".a line that starts with a dot\r\n"
                "..two dots\r\n"
                ".\tdot and tab\r\n"
                "%s\r\n"
                "last line\r\n") % (cell, "0123456789" * 90)
        self.body = body.encode()
        hdr = ("From: <%s>\r\nTo: <%s>\r\nSubject: interop %s\r\n"
               "Date: %s\r\nMessage-ID: <%s>\r\n\r\n"
               % (sender, rcpt, cell, email.utils.formatdate(), self.msgid))
        self.raw = hdr.encode() + self.body
        self.digest = body_digest(self.raw)

    def write(self, path, lf=False, final_eol=True):
        """The message in a file; final_eol=False drops the last line end
        for clients (swaks, smtp-source) that always send CRLF before the
        final dot, so that the body arrives as it is here."""
        data = self.raw if final_eol else self.raw[:-2]
        with open(path, "wb") as f:
            f.write(data.replace(b"\r\n", b"\n") if lf else data)
        return str(path)


def split_message(raw):
    raw = raw.replace(b"\r\n", b"\n")
    head, sep, body = raw.partition(b"\n\n")
    return head, body


def body_digest(raw):
    """SHA-256 of the body, line ends made LF (Maildirs store LF)."""
    return hashlib.sha256(split_message(raw)[1]).hexdigest()


def header_fields(raw, name):
    """Values of a header field (unfolded), in order."""
    head = split_message(raw)[0].decode("utf-8", "replace")
    head = re.sub(r"\n[ \t]+", " ", head)
    out = []
    for line in head.split("\n"):
        k, _, v = line.partition(":")
        if k.strip().lower() == name.lower():
            out.append(v.strip())
    return out


def find_in_dir(d, msgid):
    """The content of the file under d whose Message-ID is msgid."""
    needle = msgid.encode()
    for p in glob.glob(os.path.join(d, "**", "*"), recursive=True):
        if not os.path.isfile(p):
            continue
        try:
            with open(p, "rb") as f:
                data = f.read()
        except OSError:
            continue
        if needle in data and any(
                msgid in v for v in header_fields(data, "Message-ID")):
            return data
    return None


def smtplib_send(host, port, msg, *, starttls=False, implicit=False,
                 rcpts=None, ehlo="client.test", timeout=30):
    """Send msg with Python's smtplib; returns the SMTP object's EHLO
    state (esmtp_features, ehlo_resp) after the last EHLO."""
    import smtplib
    cls = smtplib.SMTP_SSL if implicit else smtplib.SMTP
    kw = {"context": client_tls_context()} if implicit else {}
    s = cls("127.0.0.1", port, local_hostname=ehlo, timeout=timeout, **kw)
    try:
        s.ehlo()
        if starttls:
            code, resp = s.starttls(context=client_tls_context())
            assert code == 220, (code, resp)
            s.ehlo()
        state = {"features": dict(s.esmtp_features),
                 "ehlo_resp": (s.ehlo_resp or b"").decode("utf-8",
                                                         "replace"),
                 "tls": isinstance(s.sock, ssl.SSLSocket)}
        refused = s.sendmail(msg.sender, rcpts or [msg.rcpt], msg.raw)
        assert not refused, refused
        s.quit()
    finally:
        s.close()
    return state


# ---------------------------------------------------------------------
# pinpostd

class Pinpostd:
    """build/pinpostd -d with its own config, key, backup key, spool,
    store and Maildir root under d."""

    def __init__(self, d, *, name="pinpostd", domains=("example.test",),
                 tls_port=False, verbose=False, **conf):
        self.d = d
        self.name = name
        os.makedirs(d, exist_ok=True)
        ports = free_ports(2)
        self.port = ports[0]
        self.tls_port = ports[1] if tls_port else None
        self.cert, self.key = make_cert(os.path.join(d, "keys"),
                                        "mx.%s.test" % name)
        self.backup_key = os.path.join(d, "keys", "backup-key.pem")
        self.backup_pub = os.path.join(d, "keys", "backup-pub.pem")
        run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-out", self.backup_key])
        run(["openssl", "pkey", "-in", self.backup_key, "-pubout", "-out",
             self.backup_pub])
        self.pin = spki_pin(self.cert)
        self.backup_pin = run(["bash", "-o", "pipefail", "-c",
                               "openssl pkey -pubin -in '%s' -outform der |"
                               " openssl dgst -sha256 -binary | base64"
                               % self.backup_pub]).out.strip()
        self.store = os.path.join(d, "pins.tdb")
        self.maildir_root = os.path.join(d, "mail")
        self.spool = os.path.join(d, "spool")
        self.log_path = os.path.join(d, "pinpostd.log")
        self.conf_path = os.path.join(d, "pinpost.conf")
        self.verbose = verbose
        self.domains = list(domains)
        self.conf = {
            "myhostname": "mx.%s.test" % name,
            "user": "",
            "log": "stderr",
            "listen": "127.0.0.1:%d" % self.port,
            "spool_dir": self.spool,
            "store": self.store,
            "tls_cert_file": self.cert,
            "tls_key_file": self.key,
            "pkp_backup_pins": self.backup_pub,
            "local_domains": ", ".join(self.domains),
            "maildir_root": self.maildir_root,
            "mailboxes": ", ".join("%s@%s" % (u, dom)
                                   for dom in self.domains
                                   for u in ("alice", "bob")),
            # relay mail never leaves loopback
            "route": "* [127.0.0.1]:9",
            "dns_resolver": "127.0.0.1@9",
            "queue_run_interval": "1s",
            "retry_min": "1s",
            "retry_max": "2s",
        }
        if self.tls_port:
            self.conf["listen_tls"] = "127.0.0.1:%d" % self.tls_port
        for k, v in conf.items():
            if v is None:
                self.conf.pop(k, None)
            else:
                self.conf[k] = str(v)
        self.proc = None
        self.logf = None

    def write_conf(self):
        write(self.conf_path, "".join("%s = %s\n" % kv
                                      for kv in self.conf.items()))

    def start(self):
        self.write_conf()
        self.logf = open(self.log_path, "ab")
        args = [os.path.join(BUILD, "pinpostd"), "-d"]
        if self.verbose:
            args.append("-v")
        self.proc = subprocess.Popen(args + ["-f", self.conf_path],
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=self.logf,
                                     start_new_session=True)
        note_pid(self.proc.pid, "pinpostd " + self.conf_path)
        wait_port(self.port, self.proc, what="pinpostd " + self.name)
        if self.tls_port:
            wait_port(self.tls_port, self.proc, what="pinpostd " + self.name)
        return self

    def stop(self):
        rc = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    pass
            rc = stop_group(self.proc)
            self.proc = None
        if self.logf is not None:
            self.logf.close()
            self.logf = None
        return rc

    def restart(self, **changes):
        self.stop()
        for k, v in changes.items():
            if v is None:
                self.conf.pop(k, None)
            else:
                self.conf[k] = str(v)
        return self.start()

    def log(self):
        return read_text(self.log_path)

    def wait_log(self, pattern, timeout=WAIT, start=0):
        """A regex match in the log (after offset start)."""
        rx = re.compile(pattern)
        return wait_for(lambda: rx.search(self.log(), start), timeout,
                        "/%s/ in the %s log" % (pattern, self.name),
                        lambda: self.log()[-6000:])

    def message(self, msgid, timeout=WAIT, domain=None):
        d = self.maildir_root if domain is None else \
            os.path.join(self.maildir_root, domain)
        return wait_for(lambda: find_in_dir(d, msgid), timeout,
                        "message <%s> in %s's Maildirs" % (msgid, self.name),
                        lambda: self.log()[-6000:])

    def cli(self, *args, check=True):
        return run([os.path.join(BUILD, "pinpost"), "-s", self.store,
                    *args], check=check)

    def host_record(self, key):
        """pinpost pins show KEY as a dict."""
        p = self.cli("pins", "show", key, check=False)
        out = {"pins": []}
        for line in p.out.splitlines():
            k, _, v = line.partition(":")
            if k.strip() == "pin-sha256":
                out["pins"].append(v.strip())
            else:
                out[k.strip()] = v.strip()
        return out

    def queue_ids(self):
        return [os.path.basename(p)[:-4] for p in
                glob.glob(os.path.join(self.spool, "queue", "*.env"))]

    def queue_show(self, qid):
        return run([os.path.join(BUILD, "pinpost"), "queue", "-f",
                    self.conf_path, "show", qid], check=False).out

    def submit(self, msg, rcpts=None):
        """Plain SMTP submission on the STARTTLS listener; the queue id."""
        import smtplib
        s = smtplib.SMTP("127.0.0.1", self.port,
                         local_hostname="submit.client.test", timeout=30)
        try:
            code, resp = s.ehlo()
            assert code == 250, (code, resp)
            s.mail(msg.sender)
            for r in rcpts or [msg.rcpt]:
                code, resp = s.rcpt(r)
                assert code == 250, (r, code, resp)
            code, resp = s.data(msg.raw)
            assert code == 250, (code, resp)
            s.quit()
        finally:
            s.close()
        m = re.search(rb"queued as ([0-9A-Za-z]+)", resp)
        assert m, resp
        return m.group(1).decode()

    def session_lines(self, qid):
        """The log lines of the SMTP session that queued qid."""
        log = self.log()
        m = re.search(r": (\S+) id=%s from=" % re.escape(qid), log)
        assert m, "no session queued %s in the %s log" % (qid, self.name)
        rx = re.compile(r": (debug: )?%s " % re.escape(m.group(1)))
        return [l for l in log.splitlines() if rx.search(l)]

    def client_lines(self, qid):
        """The log lines of the deliveries of queue id qid."""
        return [l for l in self.log().splitlines()
                if "id=%s " % qid in l]

    def received_by_pinpost(self, raw):
        """The Received: fields this pinpostd added (by mx.NAME.test)."""
        host = self.conf["myhostname"]
        return [v for v in header_fields(raw, "Received")
                if "by %s (pinpost)" % host in v]


# ---------------------------------------------------------------------
# Postfix (installed from Debian; a private instance: postfix -c DIR)

POSTFIX_MASTER = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class Postfix:
    """A private Postfix: config_directory, queue_directory and
    data_directory under d; smtpd on two loopback ports (the second with
    smtpd_discard_ehlo_keywords = pipelining, chunking); example.test
    delivered to Maildirs (virtual); relay domains to pinpostd hubs by
    transport_maps (relay: {domain: (transport, nexthop)})."""

    def __init__(self, d, relay=None):
        self.d = d
        self.etc = os.path.join(d, "etc")
        self.queue = os.path.join(d, "queue")
        self.data = os.path.join(d, "data")
        self.mail = os.path.join(d, "mail")
        for x in (self.etc, self.queue, self.data, self.mail):
            os.makedirs(x, exist_ok=True)
        self.cert, self.key = make_cert(self.etc, "postfix.test")
        self.port, self.port_nopipe = free_ports(2)
        self.log_path = os.path.join(d, "maillog")
        pw = run(["getent", "passwd", "postfix"]).out.split(":")
        self.uid, self.gid = int(pw[2]), int(pw[3])
        os.chown(self.data, self.uid, self.gid)
        nobody = run(["getent", "passwd", "nobody"]).out.split(":")
        self.vuid, self.vgid = int(nobody[2]), int(nobody[3])
        os.chown(self.mail, self.vuid, self.vgid)
        relay = relay or {}
        transport = ", ".join("%s=%s:%s" % (dom, t, nh)
                              for dom, (t, nh) in relay.items())
        main = {
            "compatibility_level": "3.6",
            "config_directory": self.etc,
            "queue_directory": self.queue,
            "data_directory": self.data,
            "meta_directory": "/etc/postfix",
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "myhostname": "postfix.test",
            "mydomain": "postfix.test",
            "mydestination": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "smtp_host_lookup": "native",
            "smtp_dns_support_level": "disabled",
            "maillog_file": self.log_path,
            "maillog_file_prefixes": "/tmp, " + os.path.dirname(d),
            "virtual_mailbox_domains": "example.test",
            "virtual_mailbox_base": self.mail,
            "virtual_mailbox_maps":
                "inline:{alice@example.test=alice/, bob@example.test=bob/}",
            "virtual_uid_maps": "static:%d" % self.vuid,
            "virtual_gid_maps": "static:%d" % self.vgid,
            "relay_domains": " ".join(relay) or "",
            "transport_maps": "inline:{%s}" % transport if transport else "",
            "relayhost": "[127.0.0.1]:9",
            "smtpd_tls_security_level": "may",
            "smtpd_tls_cert_file": self.cert,
            "smtpd_tls_key_file": self.key,
            "smtpd_tls_loglevel": "1",
            "smtp_tls_security_level": "may",
            "smtp_tls_loglevel": "1",
            "smtp_helo_name": "postfix.test",
            "debug_peer_level": "2",
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "",
            "biff": "no",
            "delay_warning_time": "0",
            "maximal_backoff_time": "10s",
            "minimal_backoff_time": "5s",
            "queue_run_delay": "5s",
        }
        write(os.path.join(self.etc, "main.cf"),
              "".join("%s = %s\n" % kv for kv in main.items()))
        master = ("127.0.0.1:%d inet n - n - - smtpd\n"
                  "127.0.0.1:%d inet n - n - - smtpd\n"
                  "  -o smtpd_discard_ehlo_keywords=pipelining,chunking\n"
                  % (self.port, self.port_nopipe)) + POSTFIX_MASTER
        # relay-client transports (see Postfix.relay_transports)
        master += (
            "smtp-plain unix - - n - - smtp\n"
            "  -o smtp_tls_security_level=none\n"
            "smtp-tls unix - - n - - smtp\n"
            "  -o smtp_tls_security_level=encrypt\n"
            "smtp-wrap unix - - n - - smtp\n"
            "  -o smtp_tls_wrappermode=yes -o smtp_tls_security_level=encrypt\n"
            # one process each for the PKP-form cells, logging the dialog
            "smtp-dbg1 unix - - n - - smtp\n"
            "  -o smtp_tls_security_level=encrypt\n"
            "  -o debug_peer_list=127.0.0.1\n"
            "smtp-dbg2 unix - - n - - smtp\n"
            "  -o smtp_tls_security_level=encrypt\n"
            "  -o debug_peer_list=127.0.0.1\n")
        write(os.path.join(self.etc, "master.cf"), master)
        self.started = False

    def postfix(self, *args, check=True):
        return run(["postfix", "-c", self.etc, *args], check=check)

    def start(self):
        self.postfix("start")
        self.started = True
        pid = self.master_pid()
        if pid:
            note_pid(pid, "postfix master " + self.etc)
        wait_port(self.port, what="postfix")
        wait_port(self.port_nopipe, what="postfix")
        return self

    def master_pid(self):
        t = read_text(os.path.join(self.queue, "pid", "master.pid")).strip()
        return int(t) if t.isdigit() else None

    def stop(self):
        if not self.started:
            return
        pid = self.master_pid()
        self.postfix("stop", check=False)
        if pid:
            def gone():
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    return True
                # a zombie child of ours counts as gone
                st = read_text("/proc/%d/stat" % pid).split(") ")
                return len(st) > 1 and st[1].startswith("Z")
            try:
                wait_for(gone, 15, "postfix master to exit")
            except Failed:
                self.postfix("abort", check=False)
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.started = False

    def version(self):
        return run(["postconf", "-c", self.etc, "-h",
                    "mail_version"]).out.strip()

    def log(self):
        return read_text(self.log_path)

    def wait_log(self, pattern, timeout=WAIT):
        rx = re.compile(pattern)
        return wait_for(lambda: rx.search(self.log()), timeout,
                        "/%s/ in the Postfix log" % pattern,
                        lambda: self.log()[-6000:])

    def message(self, msgid, timeout=WAIT):
        return wait_for(lambda: find_in_dir(self.mail, msgid), timeout,
                        "message <%s> in Postfix's Maildirs" % msgid,
                        lambda: self.log()[-6000:])

    def smtpd_session(self, msgid, timeout=WAIT):
        """The log lines of the smtpd process that received msgid, from
        its connect to its disconnect line."""
        log = self.wait_log(r"message-id=<%s>" % re.escape(msgid),
                            timeout).string
        m = re.search(r"postfix/cleanup\[\d+\]: (\w+): message-id=<%s>"
                      % re.escape(msgid), log)
        qid = m.group(1)
        m = re.search(r"postfix/smtpd\[(\d+)\]: %s: client=" % qid, log)
        pid = m.group(1)

        def lines():
            text = self.log()
            mine = [l for l in text.splitlines()
                    if "postfix/smtpd[%s]:" % pid in l]
            # the session that holds qid: from the last connect before it
            # to the first disconnect after it
            i = max(k for k, l in enumerate(mine) if qid + ": client=" in l)
            start = max([k for k in range(i + 1)
                         if "connect from" in mine[k] and
                         "disconnect" not in mine[k]] or [0])
            for k in range(i, len(mine)):
                if "disconnect from" in mine[k]:
                    return mine[start:k + 1]
            return None
        return wait_for(lines, timeout, "smtpd session of <%s>" % msgid,
                        lambda: self.log()[-6000:])

    def delivery_lines(self, msgid, timeout=WAIT):
        """The queue id of msgid and the smtp/virtual lines about it once
        it is delivered (status=sent)."""
        log = self.wait_log(r"message-id=<%s>" % re.escape(msgid),
                            timeout).string
        qid = re.search(r"postfix/cleanup\[\d+\]: (\w+): message-id=<%s>"
                        % re.escape(msgid), log).group(1)
        self.wait_log(r"%s: to=<[^>]*>, relay=.*status=(sent|deferred|"
                      r"bounced)" % qid, timeout)
        return qid, [l for l in self.log().splitlines() if qid in l]

    def smtp_client_lines(self, qid):
        """Every line of the smtp client process that delivered qid."""
        log = self.log()
        m = re.search(r"postfix/([\w-]+)\[(\d+)\]: %s: to=" % qid, log)
        tag = "postfix/%s[%s]:" % (m.group(1), m.group(2))
        return [l for l in log.splitlines() if tag in l]


# ---------------------------------------------------------------------
# Exim 4 (unpacked from exim4-daemon-light; GnuTLS)

EXIM_CONF = r"""
exim_path = {exim}
spool_directory = {d}/spool
log_file_path = {d}/log/%slog
primary_hostname = exim.test
qualify_domain = exim.test
local_interfaces = <; 127.0.0.1.{port} ; 127.0.0.1.{port_nopipe}
host_lookup = :
rfc1413_hosts = :
keep_environment =
tls_advertise_hosts = *
tls_certificate = {cert}
tls_privatekey = {key}
pipelining_advertise_hosts = ${{if eq{{$interface_port}}{{{port_nopipe}}}{{:}}{{*}}}}
chunking_advertise_hosts = ${{if eq{{$interface_port}}{{{port_nopipe}}}{{:}}{{*}}}}
log_selector = +all -host_lookup_failed -lost_incoming_connection
acl_smtp_rcpt = acl_rcpt
message_logs = false
queue_run_max = 1

begin acl

acl_rcpt:
  accept hosts = 127.0.0.0/8

acl_event:
  accept logwrite = EVENT $event_name tls=$tls_out_ver data=${{sg{{$event_data}}{{\N\r?\n\N}}{{|}}}}

begin routers

local_maildir:
  driver = accept
  domains = example.test
  local_parts = alice : bob
  transport = t_maildir

{routers}

begin transports

t_maildir:
  driver = appendfile
  directory = {d}/mail/${{local_part_data}}
  maildir_format
  create_directory
  user = Debian-exim
  envelope_to_add
  return_path_add

{transports}

begin retry
*   *   F,1m,5s
"""


class Exim:
    """Exim 4.96 from the unpacked package, run as `exim -C CONF -bdf` in
    a private mount namespace where the compiled-in user Debian-exim
    exists.  Two listeners (the second without PIPELINING and CHUNKING);
    example.test to Maildirs; relay: {domain: transport options} to
    127.0.0.1 (each gets a manualroute router and an smtp transport that
    logs its events, smtp:ehlo with the EHLO reply it read)."""

    def __init__(self, d, relay=None):
        self.d = d
        self.exe = os.path.join(EXIM_ROOT, "usr", "sbin", "exim4")
        if not os.access(self.exe, os.X_OK):
            raise Failed("Exim not unpacked at %s (run interop/run)"
                         % self.exe)
        for x in ("spool", "log", "mail"):
            os.makedirs(os.path.join(d, x), exist_ok=True)
        self.cert, self.key = make_cert(os.path.join(d, "tls"), "exim.test")
        self.port, self.port_nopipe = free_ports(2)
        (self.uid,) = free_ids(1)
        self.passwd, self.group = ns_user_files(
            d, [("Debian-exim", self.uid, "/nonexistent")])
        routers, transports = [], []
        for i, (dom, opts) in enumerate((relay or {}).items()):
            routers.append("r%d:\n  driver = manualroute\n  domains = %s\n"
                           "  route_list = * 127.0.0.1\n  self = send\n"
                           "  transport = t%d\n" % (i, dom, i))
            transports.append("t%d:\n  driver = smtp\n"
                              "  event_action = ${acl {acl_event}}\n%s\n"
                              % (i, "".join("  %s\n" % o for o in opts)))
        self.conf_path = os.path.join(d, "exim.conf")
        write(self.conf_path, EXIM_CONF.format(
            exim=self.exe, d=d, port=self.port, port_nopipe=self.port_nopipe,
            cert=self.cert, key=self.key, routers="\n".join(routers),
            transports="\n".join(transports)))
        chown_r(d, self.uid, self.uid)
        os.chown(self.conf_path, 0, 0)
        self.proc = None

    def ns_script(self, cmd):
        return ("set -e\nmount --bind '%s' /etc/passwd\n"
                "mount --bind '%s' /etc/group\nexec %s\n"
                % (self.passwd, self.group, cmd))

    def exim(self, *args, check=True):
        """Run the exim binary with this config, in its namespace."""
        cmd = " ".join("'%s'" % a for a in (self.exe, "-C", self.conf_path,
                                            *args))
        return run(["unshare", "-m", "sh", "-c", self.ns_script(cmd)],
                   check=check)

    def start(self):
        cmd = "'%s' -C '%s' -bdf" % (self.exe, self.conf_path)
        self.errf = open(os.path.join(self.d, "exim.stderr"), "ab")
        self.proc = subprocess.Popen(
            ["unshare", "-m", "sh", "-c", self.ns_script(cmd)],
            stdin=subprocess.DEVNULL, stdout=self.errf, stderr=self.errf,
            start_new_session=True)
        note_pid(self.proc.pid, "exim " + self.conf_path)
        wait_port(self.port, self.proc, what="exim")
        wait_port(self.port_nopipe, self.proc, what="exim")
        return self

    def stop(self):
        stop_group(self.proc)
        self.proc = None

    def version(self):
        return self.exim("-bV").out

    def log(self):
        return read_text(os.path.join(self.d, "log", "mainlog"))

    def wait_log(self, pattern, timeout=WAIT):
        rx = re.compile(pattern)
        return wait_for(lambda: rx.search(self.log()), timeout,
                        "/%s/ in the Exim log" % pattern,
                        lambda: self.log()[-6000:] + read_text(
                            os.path.join(self.d, "log", "paniclog")))

    def message(self, msgid, timeout=WAIT):
        return wait_for(lambda: find_in_dir(os.path.join(self.d, "mail"),
                                            msgid), timeout,
                        "message <%s> in Exim's Maildirs" % msgid,
                        lambda: self.log()[-6000:])

    def arrival(self, msgid, timeout=WAIT):
        """The '<=' line of msgid."""
        m = self.wait_log(r"(?m)^.* <= .* id=%s( .*)?$" % re.escape(msgid),
                          timeout)
        return m.group(0)

    def exim_id(self, msgid):
        m = re.search(r"(?m)^\S+ \S+ \[\d+\] (\S+) <= .* id=%s"
                      % re.escape(msgid), self.log())
        return m.group(1)

    def delivered(self, msgid, timeout=WAIT):
        """Exim's id of msgid and its '=>' line, once it is Completed."""
        eid = wait_for(lambda: self._eid(msgid), timeout,
                       "<%s> in the Exim log" % msgid,
                       lambda: self.log()[-6000:])
        self.wait_log(r"%s Completed" % eid, timeout)
        out = [l for l in self.lines_of(eid) if " => " in l]
        assert out, self.lines_of(eid)
        return eid, out[0]

    def _eid(self, msgid):
        m = re.search(r"(?m)^\S+ \S+ \[\d+\] (\S+) <= .* id=%s"
                      % re.escape(msgid), self.log())
        return m.group(1) if m else None

    def lines_of(self, eid):
        return [l for l in self.log().splitlines() if eid in l]


# ---------------------------------------------------------------------
# OpenSMTPD 6.8 (unpacked from opensmtpd)

class OpenSMTPD:
    """OpenSMTPD 6.8 from the unpacked package in a private mount
    namespace: its compiled-in paths (/var/spool/smtpd, /var/lib/opensmtpd/
    empty, /var/run/smtpd.sock, /usr/libexec/opensmtpd) are bind mounts of
    directories under d, its users (opensmtpd, opensmtpq, and the local
    mailboxes alice and bob) exist only there.  Listeners: one with
    STARTTLS offered, one plaintext only.  relay: {domain: relay-url}."""

    def __init__(self, d, relay=None):
        self.d = d
        self.root = OPENSMTPD_ROOT
        self.exe = os.path.join(self.root, "usr", "sbin", "smtpd")
        if not os.access(self.exe, os.X_OK):
            raise Failed("OpenSMTPD not unpacked at %s (run interop/run)"
                         % self.exe)
        for x in ("spool", "varlib/opensmtpd/empty", "run", "home",
                  "mail/alice", "mail/bob"):
            os.makedirs(os.path.join(d, x), exist_ok=True)
        self.cert, self.key = make_cert(os.path.join(d, "tls"),
                                        "opensmtpd.test")
        self.port, self.port_plain = free_ports(2)
        uids = free_ids(4)
        home = os.path.join(d, "home")
        self.passwd, self.group = ns_user_files(d, [
            ("opensmtpd", uids[0], "/var/lib/opensmtpd/empty"),
            ("opensmtpq", uids[1], "/var/lib/opensmtpd/empty"),
            ("alice", uids[2], home), ("bob", uids[3], home)])
        os.chown(os.path.join(d, "mail", "alice"), uids[2], uids[2])
        os.chown(os.path.join(d, "mail", "bob"), uids[3], uids[3])
        actions, matches = [], []
        for i, (dom, url) in enumerate((relay or {}).items()):
            extra = " tls no-verify" if url.startswith(("smtp+tls", "smtps")) \
                else ""
            actions.append('action "r%d" relay host "%s"%s' % (i, url, extra))
            matches.append('match from any for domain "%s" action "r%d"'
                           % (dom, i))
        self.conf_path = os.path.join(d, "smtpd.conf")
        write(self.conf_path, "\n".join([
            'pki opensmtpd.test cert "%s"' % self.cert,
            'pki opensmtpd.test key "%s"' % self.key,
            "listen on 127.0.0.1 port %d tls pki opensmtpd.test "
            "hostname opensmtpd.test" % self.port,
            "listen on 127.0.0.1 port %d hostname opensmtpd.test"
            % self.port_plain,
            'action "local" maildir "%s/mail/%%{user.username}"' % d,
            *actions,
            'match from any for domain "example.test" action "local"',
            *matches, ""]))
        self.log_path = os.path.join(d, "smtpd.log")
        self.proc = None

    def ns_script(self, cmd):
        d, root = self.d, self.root
        return "\n".join([
            "set -e",
            "mount --bind '%s' /etc/passwd" % self.passwd,
            "mount --bind '%s' /etc/group" % self.group,
            "mount --bind '%s/spool' /var/spool" % d,
            "mount --bind '%s/varlib' /var/lib" % d,
            "mount --bind '%s/run' /run" % d,
            "mount -t tmpfs tmpfs /usr/libexec",
            "mkdir /usr/libexec/opensmtpd",
            "mount --bind '%s/usr/libexec/opensmtpd' /usr/libexec/opensmtpd"
            % root,
            "exec " + cmd, ""])

    def start(self):
        self.logf = open(self.log_path, "ab")
        cmd = "'%s' -d -f '%s'" % (self.exe, self.conf_path)
        self.proc = subprocess.Popen(
            ["unshare", "-m", "sh", "-c", self.ns_script(cmd)],
            stdin=subprocess.DEVNULL, stdout=self.logf, stderr=self.logf,
            start_new_session=True)
        note_pid(self.proc.pid, "opensmtpd " + self.conf_path)
        wait_port(self.port, self.proc, what="opensmtpd")
        wait_port(self.port_plain, self.proc, what="opensmtpd")
        return self

    def stop(self):
        stop_group(self.proc)
        self.proc = None
        if getattr(self, "logf", None):
            self.logf.close()
            self.logf = None

    def version(self):
        p = run([self.exe, "-h"], check=False)
        m = re.search(r"version: (.*)", p.out + p.err)
        return m.group(1).strip() if m else "?"

    def log(self):
        return read_text(self.log_path)

    def wait_log(self, pattern, timeout=WAIT):
        rx = re.compile(pattern)
        return wait_for(lambda: rx.search(self.log()), timeout,
                        "/%s/ in the OpenSMTPD log" % pattern,
                        lambda: self.log()[-6000:])

    def message(self, msgid, timeout=WAIT):
        return wait_for(lambda: find_in_dir(os.path.join(self.d, "mail"),
                                            msgid), timeout,
                        "message <%s> in OpenSMTPD's Maildirs" % msgid,
                        lambda: self.log()[-6000:])

    def has_message(self, msgid):
        return find_in_dir(os.path.join(self.d, "mail"), msgid)


# ---------------------------------------------------------------------
# aiosmtpd (Debian's python3-aiosmtpd), in this process

def _tls_version(extra):
    """The TLS version of an aiosmtpd session (its ssl extra info)."""
    try:
        return extra["ssl_object"].version()
    except (TypeError, KeyError, AttributeError):
        return None


class Aiosmtpd:
    """aiosmtpd's Controller on a loopback port with STARTTLS offered;
    every message is kept with its session's TLS state."""

    def __init__(self, d):
        import aiosmtpd
        from aiosmtpd.controller import Controller
        self.version = aiosmtpd.__version__
        self.cert, self.key = make_cert(os.path.join(d, "tls"), "aio.test")
        (self.port,) = free_ports(1)
        self.messages = []
        self.lock = threading.Lock()
        outer = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                ssl_obj = session.ssl
                with outer.lock:
                    outer.messages.append({
                        "content": envelope.original_content
                        or envelope.content,
                        "rcpt": list(envelope.rcpt_tos),
                        "tls": ssl_obj is not None,
                        "version": _tls_version(ssl_obj),
                        "esmtp": bool(session.extended_smtp),
                        "helo": session.host_name})
                return "250 2.0.0 OK"

        self.controller = Controller(
            Handler(), hostname="127.0.0.1", port=self.port,
            tls_context=server_tls_context(self.cert, self.key),
            require_starttls=False, server_hostname="aio.test",
            decode_data=False)

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        try:
            self.controller.stop()
        except Exception:       # already stopped
            pass

    def message(self, msgid, timeout=WAIT):
        def find():
            with self.lock:
                for m in self.messages:
                    c = m["content"]
                    if isinstance(c, str):
                        c = c.encode()
                    if any(msgid in v for v in header_fields(c,
                                                             "Message-ID")):
                        return dict(m, content=c)
            return None
        return wait_for(find, timeout, "message <%s> at aiosmtpd" % msgid)
