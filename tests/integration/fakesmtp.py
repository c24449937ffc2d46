"""A scriptable fake SMTP server for tests, in the spirit of Postfix's
smtp-sink: real sockets, real TLS (a generated certificate), a table of
replies per command, raw byte injection, and a record of everything a
client sent.

    from fakesmtp import FakeSMTP
    srv = FakeSMTP(cert, key, backup_pins=[pin], replies={
        "STARTTLS@early": "503 5.5.1 EHLO first"})
    srv.start()
    ... point a client at ("127.0.0.1", srv.port) ...
    srv.commands        # [Command(conn, tls, line, early)]
    srv.messages        # [Message(conn, tls, mail_from, rcpts, method,
                        #          wire, data)]
    srv.stop()

Replies
    The reply to a command is looked up in `replies` by the command's
    verb (upper case), most specific key first:

        VERB@early   before any EHLO/HELO on a plaintext connection
                     (e.g. "STARTTLS@early": STARTTLS right after the
                     greeting, which Exim and OpenSMTPD answer with 503)
        VERB@tls     inside TLS
        VERB@plain   before TLS
        VERB

    and else the built-in default.  Special verbs: GREETING (sent on
    connect), DATA-END (after the final dot), BDAT-LAST (after BDAT ...
    LAST), UNKNOWN (any verb without an entry nor a default).  A value
    is a reply text, one line or several ("250-a\\r\\n250 b" or a list
    of lines; the CRLFs are added), or a callable (session, line) ->
    such a text.  None drops the connection without a reply.

    EHLO's default reply is built from `ehlo_plain` / `ehlo_tls` (the
    keyword lines after the greeting line).  By default the plaintext
    EHLO offers STARTTLS and the TLS EHLO offers PKP (pins of the served
    key and the backup pins) and STSEC; pass lists to change them.

Injection
    `inject` maps the same keys (looked up the same way, independently
    of `replies`) to raw bytes written in the SAME write as that reply,
    right after it: e.g. inject={"STARTTLS": b"250 x\\r\\n"}
    puts "250 x" between "220 Ready to start TLS" and the handshake
    (response injection).

TLS
    A 220 reply to STARTTLS starts the server-side handshake on the same
    socket; bytes the client sent after STARTTLS and before the
    handshake are recorded in `pre_tls` (per connection) and discarded.
    broken_tls=True answers the handshake with a plaintext line and
    closes instead (a failed handshake, as a stripping middlebox makes).

    tls_cut (an attribute too, like broken_tls) makes the 220 a lie in
    other ways; the handshake never completes:
        "close"       close right after the 220, reading nothing more
        "plaintext"   carry on in plaintext as if TLS had started: a
                      "250" line right after the 220, then commands are
                      read (and recorded, tls=False) as before
        "after-hello" read the whole ClientHello record, then close
        "mid-flight"  read the ClientHello, compute the real server
                      flight (ServerHello...), send its first half and
                      close (a handshake cut half-way)
        "stall"       read and discard whatever comes, say nothing, until
                      the client gives up (or stop())
    `tls_cuts` records (connection, mode, bytes received, bytes sent).
"""
import base64
import hashlib
import socket
import ssl
import subprocess
import threading
import time

CRLF = b"\r\n"


def spki_pin(path):
    """Base64 SHA-256 of the SubjectPublicKeyInfo in a PEM certificate,
    public key or private key (the PKP pin)."""
    with open(path) as f:
        pem = f.read()
    if "CERTIFICATE" in pem:
        spki = "openssl x509 -in '%s' -pubkey -noout" % path
    elif "PUBLIC KEY" in pem:
        spki = "cat '%s'" % path
    else:
        spki = "openssl pkey -in '%s' -pubout" % path
    der = subprocess.run(
        ["bash", "-o", "pipefail", "-c",
         spki + " | openssl pkey -pubin -outform der"],
        capture_output=True, check=True).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


class Command:
    def __init__(self, conn, tls, line, early):
        self.conn = conn        # connection number, from 1
        self.tls = tls          # received inside TLS
        self.line = line        # the command line, without CRLF (str)
        self.early = early      # before any EHLO/HELO in plaintext

    @property
    def verb(self):
        return self.line.split(" ", 1)[0].upper()

    def __repr__(self):
        return "Command(%d, %s, %r%s)" % (self.conn, "tls" if self.tls
                                          else "plain", self.line,
                                          ", early" if self.early else "")


class Message:
    def __init__(self, conn, tls, mail_from, rcpts, method, wire, data):
        self.conn = conn
        self.tls = tls
        self.mail_from = mail_from
        self.rcpts = list(rcpts)
        self.method = method    # "DATA" or "BDAT"
        self.wire = wire        # bytes as received (dot-stuffed for DATA)
        self.data = data        # the message itself

    def __repr__(self):
        return "Message(%d, %s, %s, %d bytes)" % (
            self.conn, "tls" if self.tls else "plain", self.method,
            len(self.data))


class _Closed(Exception):
    pass


class Session:
    """One connection (its own thread)."""

    def __init__(self, server, sock, n):
        self.server = server
        self.sock = sock
        self.n = n
        self.buf = b""
        self.tls = False
        self.ehlo_seen = False
        self.mail_from = None
        self.rcpts = []
        self.bdat = b""
        self.pre_tls = b""
        self.cipher = None

    # -- io
    def _recv(self):
        try:
            data = self.sock.recv(65536)
        except (OSError, ssl.SSLError):
            data = b""
        if not data:
            raise _Closed()
        return data

    def readline(self):
        while CRLF not in self.buf:
            if len(self.buf) > 1 << 20:
                raise _Closed()
            self.buf += self._recv()
        line, self.buf = self.buf.split(CRLF, 1)
        return line

    def readn(self, n):
        while len(self.buf) < n:
            self.buf += self._recv()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def pending(self, timeout):
        """Waits up to timeout for more bytes; returns every byte
        received and not yet read as a command (e.g. from a reply
        callable: what the client pipelined behind this command)."""
        deadline = time.monotonic() + timeout
        old = self.sock.gettimeout()
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.sock.settimeout(left)
                try:
                    data = self.sock.recv(65536)
                except (socket.timeout, ssl.SSLWantReadError):
                    break
                except (OSError, ssl.SSLError):
                    break
                if not data:
                    break
                self.buf += data
        finally:
            self.sock.settimeout(old)
        return self.buf

    def write(self, data):
        try:
            self.sock.sendall(data)
        except (OSError, ssl.SSLError):
            raise _Closed()

    # -- replies
    def _lookup(self, keys, verb):
        for k in keys:
            if k in self.server.replies:
                return self.server.replies[k]
        return self.server.default_reply(self, verb)

    def _keys(self, verb):
        keys = []
        if not self.tls and not self.ehlo_seen:
            keys.append(verb + "@early")
        keys.append(verb + ("@tls" if self.tls else "@plain"))
        keys.append(verb)
        return keys

    def _inject(self, keys):
        for k in keys:
            if k in self.server.inject:
                return self.server.inject[k]
        return b""

    def reply(self, verb, line=""):
        """Sends the reply to verb (plus any injection); returns its
        code, or raises _Closed when the table says to drop."""
        keys = self._keys(verb)
        r = self._lookup(keys, verb)
        if callable(r):
            r = r(self, line)
        if r is None:
            raise _Closed()
        if isinstance(r, (list, tuple)):
            r = "\r\n".join(r)
        if isinstance(r, str):
            r = r.encode()
        if not r.endswith(CRLF):
            r += CRLF
        self.write(r + self._inject(keys))
        try:
            return int(r[:3])
        except ValueError:
            return 0

    # -- a handshake that never completes (tls_cut)
    def read_record(self, timeout=5):
        """One whole TLS record (the ClientHello) from the socket, or
        what arrived before the deadline / the close."""
        deadline = time.monotonic() + timeout
        old = self.sock.gettimeout()
        try:
            while True:
                if len(self.buf) >= 5:
                    need = 5 + int.from_bytes(self.buf[3:5], "big")
                    if len(self.buf) >= need:
                        rec, self.buf = self.buf[:need], self.buf[need:]
                        return rec
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.sock.settimeout(left)
                try:
                    data = self.sock.recv(65536)
                except (socket.timeout, OSError):
                    break
                if not data:
                    break
                self.buf += data
        finally:
            self.sock.settimeout(old)
        rec, self.buf = self.buf, b""
        return rec

    def cut_tls(self, mode):
        """The 220 was sent; do not let TLS start (see tls_cut).  Returns
        whether the session goes on (in plaintext)."""
        got, sent = b"", b""
        if mode == "close":
            pass
        elif mode == "plaintext":
            sent = b"250 2.0.0 Ok, go ahead\r\n"
            self.write(sent)
            self.server._record_cut(self.n, mode, 0, len(sent))
            return True
        elif mode == "after-hello":
            got = self.read_record()
        elif mode == "mid-flight":
            got = self.read_record()
            inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
            obj = self.server.ctx.wrap_bio(inc, out, server_side=True)
            inc.write(got)
            try:
                obj.do_handshake()
            except ssl.SSLError:
                pass
            flight = out.read()
            sent = flight[:len(flight) // 2]
            self.write(sent)
        elif mode == "stall":
            self.sock.settimeout(0.2)
            while not self.server.stopping:
                try:
                    data = self.sock.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    break
                if not data:
                    break
                got += data
        else:
            raise ValueError("tls_cut %r" % mode)
        self.server._record_cut(self.n, mode, len(got), len(sent))
        return False

    # -- the session
    def run(self):
        try:
            self.reply("GREETING")
            while True:
                line = self.readline()
                text = line.decode("utf-8", "replace")
                early = not self.tls and not self.ehlo_seen
                self.server._record(Command(self.n, self.tls, text, early))
                verb = text.split(" ", 1)[0].upper()
                if not self.handle(verb, text):
                    break
        except _Closed:
            pass
        finally:
            try:
                self.sock.close()
            except OSError:
                pass

    def handle(self, verb, text):
        if verb in ("EHLO", "HELO"):
            code = self.reply(verb, text)
            if code // 100 == 2:
                self.ehlo_seen = True
                self.mail_from, self.rcpts = None, []
        elif verb == "STARTTLS":
            code = self.reply(verb, text)
            if code == 220:
                # bytes the client sent before the handshake: never used
                self.pre_tls = self.buf
                self.buf = b""
                self.server._note_pre_tls(self.n, self.pre_tls)
                if self.server.broken_tls:
                    self.pending(0.2)           # the ClientHello
                    self.write(b"500 no TLS here\r\n")
                    return False
                if self.server.tls_cut is not None:
                    return self.cut_tls(self.server.tls_cut)
                try:
                    self.sock.settimeout(10)
                    self.sock = self.server.ctx.wrap_socket(
                        self.sock, server_side=True)
                except (OSError, ssl.SSLError) as e:
                    self.server._record_error(self.n, "handshake: %s" % e)
                    return False
                self.tls = True
                self.cipher = self.sock.version()
                self.ehlo_seen = False
                self.mail_from, self.rcpts = None, []
        elif verb == "MAIL":
            if self.reply(verb, text) // 100 == 2:
                self.mail_from = text[5:].strip()
                if self.mail_from.upper().startswith("FROM:"):
                    self.mail_from = self.mail_from[5:].strip()
                self.rcpts = []
                self.bdat = b""
        elif verb == "RCPT":
            if self.reply(verb, text) // 100 == 2:
                self.rcpts.append(text[5:].strip()[3:].strip())
        elif verb == "DATA":
            if self.reply(verb, text) == 354:
                wire = b""
                while True:
                    line = self.readline()
                    if line == b".":
                        break
                    wire += line + CRLF
                data = b"".join(
                    (ln[1:] if ln.startswith(b".") else ln) + CRLF
                    for ln in wire.split(CRLF)[:-1])
                code = self.reply("DATA-END", "")
                if code // 100 == 2:
                    self.server._deliver(Message(
                        self.n, self.tls, self.mail_from, self.rcpts,
                        "DATA", wire, data))
                self.mail_from, self.rcpts = None, []
        elif verb == "BDAT":
            parts = text.split()
            try:
                n = int(parts[1])
            except (IndexError, ValueError):
                self.reply("UNKNOWN", text)
                return True
            chunk = self.readn(n)
            self.bdat += chunk
            last = len(parts) > 2 and parts[2].upper() == "LAST"
            code = self.reply("BDAT-LAST" if last else "BDAT", text)
            if last:
                if code // 100 == 2:
                    self.server._deliver(Message(
                        self.n, self.tls, self.mail_from, self.rcpts,
                        "BDAT", self.bdat, self.bdat))
                self.mail_from, self.rcpts, self.bdat = None, [], b""
        elif verb == "QUIT":
            self.reply(verb, text)
            return False
        elif verb == "RSET":
            self.reply(verb, text)
            self.mail_from, self.rcpts, self.bdat = None, [], b""
        else:
            self.reply(verb, text)
        return True


class FakeSMTP:
    def __init__(self, cert, key, *, backup_pins=(), host="127.0.0.1",
                 port=0, hostname="fake.test", replies=None, inject=None,
                 ehlo_plain=None, ehlo_tls=None, pkp_max_age=3600,
                 stsec_max_age=3600, pipelining=True, chunking=False,
                 size=10240000, broken_tls=False, tls_cut=None,
                 served_pin=None):
        self.cert, self.key = cert, key
        self.hostname = hostname
        self.broken_tls = broken_tls
        self.tls_cut = tls_cut
        # served_pin: the certificate's pin when the caller knows it
        # already (saves running openssl)
        self.pins = [served_pin or spki_pin(cert)] + list(backup_pins)
        self.pkp_max_age = pkp_max_age
        self.stsec_max_age = stsec_max_age
        base = []
        if pipelining:
            base.append("PIPELINING")
        if size is not None:
            base.append("SIZE %d" % size)
        base += ["8BITMIME", "ENHANCEDSTATUSCODES"]
        if chunking:
            base.append("CHUNKING")
        self.ehlo_plain = (list(ehlo_plain) if ehlo_plain is not None
                           else base + ["STARTTLS"])
        self.ehlo_tls = (list(ehlo_tls) if ehlo_tls is not None
                         else base + [self.pkp_line(), self.stsec_line()])
        self.replies = dict(replies or {})
        self.inject = {k: (v.encode() if isinstance(v, str) else v)
                       for k, v in (inject or {}).items()}
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        self.ctx.load_cert_chain(cert, key)
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((host, port))
        self.host, self.port = self.lsock.getsockname()[:2]
        self.lock = threading.Lock()
        self.commands = []
        self.messages = []
        self.pre_tls = {}
        self.errors = []
        self.tls_cuts = []
        self.nconn = 0
        self.threads = []
        self.sessions = []
        self.stopping = False
        self.acceptor = None

    # -- EHLO lines
    def pkp_line(self, pins=None, max_age=None):
        pins = self.pins if pins is None else pins
        return "PKP MAX-AGE=%d %s" % (
            self.pkp_max_age if max_age is None else max_age,
            " ".join("PIN-SHA256=" + p for p in pins))

    def stsec_line(self, max_age=None):
        return "STSEC MAX-AGE=%d" % (self.stsec_max_age if max_age is None
                                     else max_age)

    def default_reply(self, session, verb):
        if verb == "GREETING":
            return "220 %s ESMTP fakesmtp" % self.hostname
        if verb == "EHLO":
            lines = [self.hostname] + (self.ehlo_tls if session.tls
                                       else self.ehlo_plain)
            return "\r\n".join("250%s%s" % ("-" if i < len(lines) - 1
                                            else " ", l)
                               for i, l in enumerate(lines))
        if verb == "HELO":
            return "250 %s" % self.hostname
        if verb == "STARTTLS":
            if session.tls:
                return "503 5.5.1 TLS already active"
            if "STARTTLS" not in [l.upper() for l in self.ehlo_plain]:
                return "502 5.5.1 STARTTLS not offered"
            return "220 2.0.0 Ready to start TLS"
        return {
            "MAIL": "250 2.1.0 Ok",
            "RCPT": "250 2.1.5 Ok",
            "DATA": "354 End data with <CR><LF>.<CR><LF>",
            "DATA-END": "250 2.0.0 Ok: queued as FAKE",
            "BDAT": "250 2.0.0 chunk received",
            "BDAT-LAST": "250 2.0.0 Ok: queued as FAKE",
            "RSET": "250 2.0.0 Ok",
            "NOOP": "250 2.0.0 Ok",
            "QUIT": "221 2.0.0 Bye",
        }.get(verb, "502 5.5.2 command not recognized")

    # -- records (thread-safe)
    def _record(self, cmd):
        with self.lock:
            self.commands.append(cmd)

    def _deliver(self, msg):
        with self.lock:
            self.messages.append(msg)

    def _note_pre_tls(self, n, data):
        with self.lock:
            self.pre_tls[n] = data

    def _record_cut(self, n, mode, got, sent):
        with self.lock:
            self.tls_cuts.append((n, mode, got, sent))

    def _record_error(self, n, what):
        with self.lock:
            self.errors.append((n, what))

    def commands_of(self, conn):
        with self.lock:
            return [c for c in self.commands if c.conn == conn]

    def connections(self):
        with self.lock:
            return sorted({c.conn for c in self.commands})

    # -- waiting
    def wait_messages(self, n=1, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if len(self.messages) >= n:
                    return list(self.messages)
            if time.monotonic() > deadline:
                raise AssertionError("%d message(s), wanted %d; commands: %r"
                                     % (len(self.messages), n,
                                        self.commands))
            time.sleep(0.02)

    def wait_quiet(self, timeout=10):
        """Until every session has ended."""
        deadline = time.monotonic() + timeout
        for t in list(self.threads):
            t.join(max(0, deadline - time.monotonic()))

    # -- life
    def start(self):
        self.lsock.listen(16)
        self.lsock.settimeout(0.2)
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()
        return self

    def _accept(self):
        while not self.stopping:
            try:
                sock, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            sock.settimeout(30)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                self.nconn += 1
                n = self.nconn
            s = Session(self, sock, n)
            t = threading.Thread(target=s.run, daemon=True)
            self.sessions.append(s)
            self.threads.append(t)
            t.start()

    def stop(self):
        self.stopping = True
        try:
            self.lsock.close()
        except OSError:
            pass
        if self.acceptor is not None:
            self.acceptor.join(5)
        for s in self.sessions:
            try:
                s.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.sock.close()
            except OSError:
                pass
        for t in self.threads:
            t.join(5)
