"""Reading the Internet-Draft the way its checks need it.

The draft (rfc-draft/draft-pinpost-smtp-pkp-stsec-00.txt) follows these
conventions, which rfc-draft/README.md documents for its editors:

- Figures that are too wide use RFC 8792's single-backslash strategy: the
  figure starts with the NOTE line below and a blank line, and a line
  ending in a backslash continues on the next line, whose leading
  white space is dropped.  The figure ends at the next blank line.
- An SMTP example is a run of lines "C: ...", "S: ..." and "[...]"
  (a comment, e.g. "[TLS handshake]"), each indented by three spaces.
- The ABNF is in code components: "<CODE BEGINS> file "NAME"" ...
  "<CODE ENDS>"; blocks with the same file name are concatenated, and
  the indentation of the <CODE BEGINS> line is removed from each line.
- The example keys are given as PEM public keys in the appendix under
  the labels "Served key" and "Backup key", followed by their pins.
"""
import os
import re

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DRAFT_NAME = "draft-pinpost-smtp-pkp-stsec-00"
DRAFT = os.path.join(REPO, "rfc-draft", DRAFT_NAME + ".txt")
KEYS = os.path.join(REPO, "tests", "draft", "keys")

RFC8792_NOTE = "NOTE: '\\' line wrapping per RFC 8792"
FIGURE_LINE = re.compile(r"^   (C|S): (.*)$|^   (\[[^\]]+\])$")
CODE_BEGINS = re.compile(r'^(\s*)<CODE BEGINS> file "([^"]+)"\s*$')
CODE_ENDS = re.compile(r"^\s*<CODE ENDS>\s*$")
B64_PIN = re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{43}=(?![A-Za-z0-9+/=])")


def read_lines(path=DRAFT):
    with open(path, "rb") as f:
        data = f.read()
    return data.decode("ascii").split("\n")


def unwrap(lines):
    """RFC 8792 single-backslash unwrapping of the figures that carry the
    NOTE line; other lines are returned unchanged."""
    out = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if RFC8792_NOTE not in line:
            out.append(line)
            i += 1
            continue
        # the NOTE line and the blank line after it go
        i += 1
        assert i < len(lines) and lines[i] == "", \
            "no blank line after the RFC 8792 NOTE line %d" % i
        i += 1
        cur = None
        while i < len(lines) and lines[i] != "":
            text = lines[i]
            if cur is not None:
                text = cur + text.lstrip(" ")
            if text.endswith("\\"):
                cur = text[:-1]
            else:
                out.append(text)
                cur = None
            i += 1
        assert cur is None, "a wrapped figure ends in a backslash"
    return out


def transcripts(lines):
    """Every SMTP example: a list of (who, text), who "C", "S" or "[".
    lines must be unwrapped.  A "[...]" line belongs to an example only
    after its first "C:" or "S:" line."""
    runs, cur = [], []
    for line in lines:
        m = FIGURE_LINE.match(line)
        if m and m.group(1):
            cur.append((m.group(1), m.group(2)))
            continue
        if m and cur:                   # "[...]" only inside an example
            cur.append(("[", m.group(3)))
            continue
        if cur:
            runs.append(cur)
            cur = []
    if cur:
        runs.append(cur)
    return runs


def code_components(lines):
    """{file name: text} of the <CODE BEGINS> blocks (concatenated)."""
    out = {}
    i = 0
    while i < len(lines):
        m = CODE_BEGINS.match(lines[i])
        if not m:
            i += 1
            continue
        indent, name = len(m.group(1)), m.group(2)
        i += 1
        block = []
        while not CODE_ENDS.match(lines[i]):
            line = lines[i]
            assert line[:indent].strip() == "", \
                "code line %r less indented than <CODE BEGINS>" % line
            block.append(line[indent:])
            i += 1
        out[name] = out.get(name, "") + "\n".join(block) + "\n"
        i += 1
    return out


def ehlo_keyword_lines(runs, keyword):
    """The text of every reply line of the examples whose keyword is
    keyword (e.g. "PKP"), without "250-" / "250 "."""
    out = []
    for run in runs:
        for who, text in run:
            if who != "S" or len(text) < 4 or text[3] not in "- ":
                continue
            kw = text[4:].split(" ", 1)[0]
            if kw.upper() == keyword:
                out.append(text[4:])
    return out


def all_pins(lines):
    """Every 44-character base64 string of 32 octets in the text."""
    pins = []
    for line in lines:
        pins += B64_PIN.findall(line)
    return pins


def section(lines, title):
    """The lines of the section whose heading ends with title (up to the
    next heading of the same or a higher level)."""
    head = re.compile(r"^(?:(\d+(?:\.\d+)*)\.|(Appendix [A-Z])\.)\s+(.*)$")
    start = level = None
    for i, line in enumerate(lines):
        m = head.match(line)
        if not m:
            continue
        num = m.group(1) or m.group(2)
        lvl = num.count(".") + 1 if m.group(1) else 1
        if start is None:
            if m.group(3).strip() == title:
                start, level = i, lvl
        elif lvl <= level:
            return lines[start:i]
    assert start is not None, "no section %r" % title
    return lines[start:]


def pem_blocks_after(lines, label):
    """The PEM public key that follows the line ending with label."""
    for i, line in enumerate(lines):
        if line.strip() == label:
            break
    else:
        raise AssertionError("no %r in the draft" % label)
    pem = []
    for line in lines[i + 1:]:
        s = line.strip()
        if s.startswith("-----BEGIN") or pem:
            pem.append(s)
        if s.startswith("-----END"):
            break
    assert pem, "no PEM block after %r" % label
    return "\n".join(pem) + "\n"
