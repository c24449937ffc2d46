"""The interop matrix's fixtures and its results table.

Every test is one cell of the matrix, marked
    @pytest.mark.cell(SECTION, PEER, CASE)
Its outcome becomes one row of interop/RESULTS.md (written, and printed,
at the end of the run, with the versions tested):
    pass     every assertion held;
    finding  another MTA failed in a known, explained way (the test has
             asserted what pinpost did about it, then called xfail with
             the reason); notes on passing cells are findings too;
    BUG      a pinpost bug, marked xfail(strict=True, reason="BUG: ...");
    FAIL     an assertion failed (or a server could not be started).
"""
import datetime
import os
import platform
import re
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402

RESULTS_MD = os.path.join(lib.HERE, "RESULTS.md")

# Mail domains of the pinpostd hubs (the receiving side of "→ pinpostd").
HUB_DOMAINS = ("plain.hub.test", "tls.hub.test", "smtps.hub.test",
               "data.hub.test", "dbg.hub.test")
MULTI_DOMAIN = "multi.hub.test"


# ---------------------------------------------------------------------
# cells and their notes

def pytest_configure(config):
    config.addinivalue_line("markers", "cell(section, peer, case): one cell "
                            "of the interop matrix")
    config._interop_rows = []


class Cell:
    def __init__(self, item):
        self.item = item
        self.notes = []         # evidence, shown in the table
        self.findings = []      # behaviour of another MTA worth the draft

    def note(self, text):
        self.notes.append(text)

    def finding(self, text):
        self.findings.append(text)

    def xfail(self, reason):
        """Another MTA's failure, after its consequences were asserted."""
        self.findings.append(reason)
        pytest.xfail("FINDING: " + reason)


@pytest.fixture
def cell(request):
    c = Cell(request.node)
    request.node._interop_cell = c
    return c


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    rows = item.config._interop_rows
    row = getattr(item, "_interop_row", None)
    if row is None:
        m = item.get_closest_marker("cell")
        sec, peer, case = m.args if m else ("other", item.name, "")
        row = {"section": sec, "peer": peer, "case": case, "result": None,
               "detail": "", "nodeid": item.nodeid}
        item._interop_row = row
        rows.append(row)
    c = getattr(item, "_interop_cell", None)
    if rep.when == "call" or (rep.when == "setup" and rep.outcome != "passed"):
        if hasattr(rep, "wasxfail"):
            reason = rep.wasxfail
            if reason.startswith("reason: "):
                reason = reason[len("reason: "):]
            if rep.outcome == "skipped":
                if reason.startswith("BUG"):
                    row["result"] = "BUG"
                else:
                    row["result"] = "finding"
                row["detail"] = reason
            else:                       # XPASS(strict) is a failure
                row["result"] = "FAIL"
                row["detail"] = "unexpectedly passed: " + reason
        elif rep.outcome == "passed":
            row["result"] = "pass"
        elif rep.outcome == "skipped":
            row["result"] = "skip"
            row["detail"] = str(rep.longrepr[-1]) if isinstance(
                rep.longrepr, tuple) else ""
        else:
            row["result"] = "FAIL"
            crash = getattr(rep.longrepr, "reprcrash", None)
            msg = crash.message if crash else str(rep.longrepr)
            row["detail"] = ("(setup) " if rep.when == "setup" else "") + \
                msg.strip().splitlines()[0][:300] if msg.strip() else "?"
    elif rep.when == "teardown" and rep.outcome == "failed":
        crash = getattr(rep.longrepr, "reprcrash", None)
        row["result"] = "FAIL"
        row["detail"] = "(teardown) " + (crash.message.splitlines()[0][:300]
                                         if crash else "")
    if c is not None and rep.when in ("call", "teardown"):
        row["notes"] = list(c.notes)
        row["findings"] = list(c.findings)


# ---------------------------------------------------------------------
# servers

def server_dir(factory, name):
    """A fresh directory the servers' own users can reach (pytest makes
    its directories 0700): mode 0755 up from the base directory."""
    d = factory.mktemp(name)
    base = factory.getbasetemp()
    for p in [d, *d.parents]:
        os.chmod(p, 0o755)
        if p == base:
            break
    return str(d)


@pytest.fixture(scope="session")
def hub(tmp_path_factory):
    """The receiving pinpostd for clients and MTAs: STARTTLS on .port,
    implicit TLS on .tls_port, PKP in the single-line form; -v logs every
    command (BDAT among them)."""
    h = lib.Pinpostd(server_dir(tmp_path_factory, "hub"), name="hub",
                     domains=HUB_DOMAINS, tls_port=True, verbose=True,
                     pkp_format="single")
    try:
        yield h.start()
    finally:
        h.stop()


@pytest.fixture(scope="session")
def hub_multi(tmp_path_factory):
    """The same with pkp_format = multi (one PKP line per pin)."""
    h = lib.Pinpostd(server_dir(tmp_path_factory, "hubmulti"),
                     name="hubmulti", domains=(MULTI_DOMAIN,), tls_port=True,
                     verbose=True, pkp_format="multi")
    try:
        yield h.start()
    finally:
        h.stop()


@pytest.fixture(scope="session")
def postfix(tmp_path_factory, hub, hub_multi):
    hp = "[127.0.0.1]:%d" % hub.port
    p = lib.Postfix(server_dir(tmp_path_factory, "postfix"), relay={
        "plain.hub.test": ("smtp-plain", hp),
        "tls.hub.test": ("smtp-tls", hp),
        "smtps.hub.test": ("smtp-wrap", "[127.0.0.1]:%d" % hub.tls_port),
        "dbg.hub.test": ("smtp-dbg1", hp),
        MULTI_DOMAIN: ("smtp-dbg2", "[127.0.0.1]:%d" % hub_multi.port),
    })
    try:
        yield p.start()
    finally:
        p.stop()


@pytest.fixture(scope="session")
def exim(tmp_path_factory, hub, hub_multi):
    tls = ["port = %d" % hub.port, "hosts_require_tls = *"]
    e = lib.Exim(server_dir(tmp_path_factory, "exim"), relay={
        "plain.hub.test": ["port = %d" % hub.port, "hosts_avoid_tls = *"],
        "tls.hub.test": tls,
        "smtps.hub.test": ["port = %d" % hub.tls_port, "protocol = smtps",
                           "hosts_require_tls = *"],
        "data.hub.test": tls + ["hosts_try_chunking = :"],
        MULTI_DOMAIN: ["port = %d" % hub_multi.port,
                       "hosts_require_tls = *"],
    })
    try:
        yield e.start()
    finally:
        e.stop()


@pytest.fixture(scope="session")
def opensmtpd(tmp_path_factory, hub):
    o = lib.OpenSMTPD(server_dir(tmp_path_factory, "opensmtpd"), relay={
        "plain.hub.test": "smtp+notls://127.0.0.1:%d" % hub.port,
        "tls.hub.test": "smtp+tls://127.0.0.1:%d" % hub.port,
        "smtps.hub.test": "smtps://127.0.0.1:%d" % hub.tls_port,
    })
    try:
        yield o.start()
    finally:
        o.stop()


@pytest.fixture(scope="session")
def aiosmtpd(tmp_path_factory):
    a = lib.Aiosmtpd(server_dir(tmp_path_factory, "aiosmtpd"))
    try:
        yield a.start()
    finally:
        a.stop()


@pytest.fixture
def pinpostd(tmp_path):
    """Factory: pinpostd(name, **conf) -> a started Pinpostd under
    tmp_path; all are stopped at the end of the test, and the test fails
    if one did not exit 0 on SIGTERM or logged a sanitizer report."""
    started = []

    def make(name="sender", domains=("sender.test",), **conf):
        start = conf.pop("_start", True)
        p = lib.Pinpostd(str(tmp_path / name), name=name, domains=domains,
                         **conf)
        started.append(p)
        return p.start() if start else p

    yield make
    problems = []
    for p in started:
        rc = p.stop()
        if rc not in (0, None):
            problems.append("pinpostd %s exit status %r; log tail:\n%s"
                            % (p.name, rc, p.log()[-3000:]))
        for mark in ("AddressSanitizer", "runtime error:"):
            if mark in p.log():
                problems.append("pinpostd %s: sanitizer report" % p.name)
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def sender(pinpostd):
    """Factory: sender(port, stsec=False, **conf): a relaying pinpostd
    whose route sends example.test to [127.0.0.1]:port; with stsec, the
    store says that host has STSEC for an hour (as if learned), so
    pinpostd requires TLS and sends STARTTLS right after the greeting."""
    def make(port, stsec=False, name="sender", **conf):
        s = pinpostd(name, route="example.test [127.0.0.1]:%d" % port,
                     verbose=True, _start=False, **conf)
        s.key = "[127.0.0.1]:%d" % port
        if stsec:
            s.cli("pins", "add", s.key, "--stsec", "3600")
        return s.start()
    return make


# ---------------------------------------------------------------------
# versions and the table

def _first_line(args, pat=None, ns=None):
    try:
        p = subprocess.run(args, capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "? (%s)" % e
    text = (p.stdout + p.stderr).decode("utf-8", "replace")
    if pat:
        m = re.search(pat, text, re.M)
        return m.group(1).strip() if m else "?"
    return text.strip().splitlines()[0] if text.strip() else "?"


def _dpkg_version(pkg):
    return _first_line(["dpkg-query", "-W", "-f=${Version}", pkg])


def _deb_version(root):
    """The version recorded when interop/run unpacked a package."""
    return lib.read_text(os.path.join(root, ".version")).strip() or "?"


def collect_versions(tmpdir):
    v = []
    v.append(("pinpost", _first_line(["git", "-C", lib.HERE, "describe",
                                      "--always", "--dirty"])))
    v.append(("Postfix (postconf mail_version)",
              _first_line(["postconf", "-d", "-h", "mail_version"]) +
              " (Debian %s)" % _dpkg_version("postfix")))
    exim = os.path.join(lib.EXIM_ROOT, "usr", "sbin", "exim4")
    if os.access(exim, os.X_OK):
        os.makedirs(tmpdir, exist_ok=True)
        (uid,) = lib.free_ids(1)
        pw, gr = lib.ns_user_files(tmpdir, [("Debian-exim", uid,
                                             "/nonexistent")])
        script = ("mount --bind '%s' /etc/passwd && mount --bind '%s' "
                  "/etc/group && exec '%s' -bV" % (pw, gr, exim))
        ev = subprocess.run(["unshare", "-m", "sh", "-c", script],
                            capture_output=True, timeout=30)
        text = (ev.stdout + ev.stderr).decode("utf-8", "replace")
        m = re.search(r"^(Exim version \S+)", text, re.M)
        gnutls = re.search(r"^Support for: .*\bGnuTLS\b", text, re.M)
        v.append(("Exim (exim -bV)", "%s (Debian %s)%s" % (
            m.group(1) if m else "?", _deb_version(lib.EXIM_ROOT),
            ", built with GnuTLS (libgnutls30 %s)"
            % _dpkg_version("libgnutls30") if gnutls else "")))
    smtpd = os.path.join(lib.OPENSMTPD_ROOT, "usr", "sbin", "smtpd")
    if os.access(smtpd, os.X_OK):
        v.append(("OpenSMTPD (smtpd -h)", "%s (Debian %s)" % (
            _first_line([smtpd, "-h"], r"version: (.*)"),
            _deb_version(lib.OPENSMTPD_ROOT))))
    try:
        import aiosmtpd
        v.append(("aiosmtpd", "%s (Debian %s)" % (
            aiosmtpd.__version__, _dpkg_version("python3-aiosmtpd"))))
    except ImportError:
        v.append(("aiosmtpd", "not installed"))
    v.append(("swaks", _first_line(["swaks", "--version"])))
    v.append(("msmtp", _first_line(["msmtp", "--version"]) + ", " +
              _first_line(["msmtp", "--version"], r"^TLS/SSL library: (.*)")))
    v.append(("Python smtplib", "Python %s" % platform.python_version()))
    v.append(("smtp-source", "Postfix %s" % _dpkg_version("postfix")))
    v.append(("OpenSSL (pinpostd, Postfix, OpenSMTPD, Python)",
              _first_line(["openssl", "version"])))
    return v


NOT_APPLICABLE = [
    ("client → pinpostd", "smtp-source", "STARTTLS, implicit TLS",
     "n/a: smtp-source cannot do TLS (and speaks HELO, so it never sees "
     "EHLO keywords)"),
    ("client → pinpostd", "aiosmtpd", "all",
     "n/a: aiosmtpd is a server only"),
    ("pinpostd → server", "all", "implicit TLS",
     "n/a: pinpostd delivers with STARTTLS only (no relay over port 465)"),
]


def _md(s):
    return str(s).replace("|", "\\|").replace("\n", " ")


def render(rows, versions, duration, summary):
    counts = {}
    for r in rows:
        counts[r["result"] or "?"] = counts.get(r["result"] or "?", 0) + 1
    out = ["# Interop results", "",
           "Generated by `make interop` (interop/run) on %s; do not edit."
           % datetime.datetime.now(datetime.timezone.utc).strftime(
               "%Y-%m-%d %H:%M UTC"),
           "Every cell is a pytest test (interop/test_*.py) that runs the real "
           "software on 127.0.0.1; `finding` marks another MTA's behaviour "
           "that matters for the draft, `BUG` a pinpost bug (strict xfail).",
           "",
           "Run: %s in %.0f s (%s)." % (summary, duration, ", ".join(
               "%d %s" % (n, k) for k, n in sorted(counts.items()))),
           "", "## Versions tested", "", "| software | version |",
           "| --- | --- |"]
    out += ["| %s | %s |" % (_md(k), _md(v)) for k, v in versions]
    out += ["", "## Matrix", "",
            "| # | direction | peer | case | result | evidence / finding |",
            "| --- | --- | --- | --- | --- | --- |"]
    for i, r in enumerate(rows, 1):
        detail = []
        if r["result"] in ("finding", "BUG", "FAIL", "skip"):
            detail.append(r["detail"])
        detail += r.get("notes", [])
        for f in r.get("findings", []):
            if f not in r["detail"]:
                detail.append("finding: " + f)
        out.append("| %d | %s | %s | %s | **%s** | %s |" % (
            i, _md(r["section"]), _md(r["peer"]), _md(r["case"]),
            r["result"] or "?", _md("; ".join(d for d in detail if d))))
    out += ["", "Not applicable (no cell):", ""]
    out += ["- %s, %s, %s: %s" % x for x in NOT_APPLICABLE]
    findings = []
    for r in rows:
        for f in r.get("findings", []):
            line = "- **%s, %s** (%s): %s" % (r["peer"], r["case"],
                                              r["section"], f)
            if line not in findings:
                findings.append(line)
    out += ["", "## Findings for the draft", ""] + (findings or ["- none"])
    bugs = ["- %s, %s: %s" % (r["peer"], r["case"], r["detail"])
            for r in rows if r["result"] == "BUG"]
    out += ["", "## pinpost bugs found (strict xfail until fixed)", ""] + \
        (bugs or ["- none"])
    return "\n".join(out) + "\n"


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    rows = config._interop_rows
    if not rows:
        return
    tr = terminalreporter
    st = tr.stats
    summary = ", ".join("%d %s" % (len(st[k]), k) for k in
                        ("passed", "failed", "error", "xfailed", "xpassed",
                         "skipped") if st.get(k))
    import time as _t
    duration = _t.time() - getattr(tr, "_sessionstarttime",
                                   getattr(tr, "_session_start", _t.time()))
    if not isinstance(duration, float):
        duration = 0.0
    versions = collect_versions(os.path.join(str(config.option.basetemp or
                                                 "/tmp"), "versions"))
    text = render(rows, versions, duration, summary)
    with open(RESULTS_MD, "w") as f:
        f.write(text)
    tr.write_sep("=", "interop results (written to interop/RESULTS.md)")
    tr.write_line(text)
