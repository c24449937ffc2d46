#!/usr/bin/python3
"""interop_section.py - the draft's interop results from interop/RESULTS.md.

usage: interop_section.py RESULTS.md            print the text
       interop_section.py RESULTS.md DRAFT.txt  replace it in the draft

The text goes between the draft's lines

   [Begin of the results generated from interop/RESULTS.md]
   [End of the generated results]

(both kept), as plain ASCII within 72 columns: the run's date and
versions, then every cell of the matrix (number, peer, case, result and,
unless it passed, a short reason), then the findings and the pinpost bugs
the run lists.  Run it again whenever `make interop` has produced new
results.
"""
import re
import sys
import textwrap

BEGIN = "   [Begin of the results generated from interop/RESULTS.md]"
END = "   [End of the generated results]"
WIDTH = 72

ASCII = {"\u2192": "->", "\u2194": "<->", "\u2014": "-", "\u2013": "-",
         "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'}


def ascii(s):
    for k, v in ASCII.items():
        s = s.replace(k, v)
    s = s.replace("**", "").replace("`", "")
    return s.encode("ascii", "replace").decode()


def reason(result, evidence):
    """A short reason for a cell that did not simply pass."""
    e = evidence
    m = re.search(r"\(setup\).*?(postfix|exim)", e, re.I)
    if m:
        return "test set-up: %s did not start" % (
            "Postfix" if m.group(1).lower() == "postfix" else "Exim")
    if "body digest differs" in e:
        return "the delivered body differed from the one sent"
    m = re.search(r"timed out after (\d+)s waiting for message", e)
    if m:
        return "not delivered within %s s" % m.group(1)
    if result.lower() == "finding":
        return "see the findings below"
    if result.upper() == "BUG":
        return "a pinpost bug, see below"
    if e.startswith("AssertionError"):
        return "a check of the test failed; see interop/RESULTS.md"
    e = re.sub(r"^(BUG|FINDING|finding|lib\.Failed):\s*", "", e)
    e = re.split(r"(?<=[.;])\s", e, 1)[0].rstrip(".;")
    e = re.sub(r"[A-Za-z0-9+/]{43}=", "<pin>", e)
    return e if len(e) <= 100 else e[:97] + "..."


def version(software, v):
    """"Exim (exim -bV)", "Exim version 4.96 (...)" -> "Exim", "4.96
    (...)"."""
    name = re.sub(r"\s*\(.*?\)", "", software).strip()
    v = re.sub(r"\s*\(Library: .*?\)", "", v)
    v = re.sub(r"^%s\s+" % re.escape(name.split()[-1]), "", v, flags=re.I)
    v = re.sub(r"^version\s+", "", v, flags=re.I)
    return name, v


def parse(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"on (\d{4}-\d\d-\d\d \d\d:\d\d UTC)", text)
    date = m.group(1) if m else "an unknown date"
    run = re.search(r"^Run: (.*)$", text, re.M)
    versions, cells, findings, bugs = [], [], [], []
    section = None
    for line in text.splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
            continue
        if line.startswith("|") and not re.match(r"^\|\s*-", line):
            cols = [c.strip() for c in line.strip("|").split("|")]
            if section == "Versions tested" and cols[0] != "software":
                versions.append(version(ascii(cols[0]), ascii(cols[1])))
            elif section == "Matrix" and cols[0].isdigit():
                cells.append([ascii(c) for c in cols[:6]])
        elif line.startswith("- ") and section == "Findings for the draft":
            findings.append(ascii(line[2:]))
        elif line.startswith("- ") and section and section.startswith(
                "pinpost bugs"):
            bugs.append(ascii(line[2:]))
    return date, (ascii(run.group(1)).rstrip(".") if run else ""), \
        versions, cells, \
        findings, bugs


def para(text, indent="   ", hang=None):
    return textwrap.wrap(text, WIDTH, initial_indent=indent,
                         subsequent_indent=hang or indent,
                         break_on_hyphens=False, break_long_words=True)


def render(path):
    date, run, versions, cells, findings, bugs = parse(path)
    out = para("Run of %s (interop/RESULTS.md of the pinpost repository); "
               "%s.  Each cell is a test that runs the real software on one "
               "host; a failure can be a failure of the test set-up rather "
               "than of interoperation, and the reason says which."
               % (date, run))
    out.append("")
    out += para("Software: " + "; ".join("%s %s" % (s, v)
                                         for s, v in versions) + ".")
    direction = None
    for num, dirn, peer, case, result, evidence in cells:
        if dirn != direction:
            direction = dirn
            out.append("")
            out += para(direction + ":")
        line = "%s, %s: %s" % (peer, case, result)
        if result.lower() != "pass":
            line += " (%s)" % reason(result, evidence)
        out += para(line, "   %3s  " % num, "        ")
    if findings:
        out.append("")
        out += para("Findings:")
        for f in findings:
            out += para(f, "   o  ", "      ")
    if bugs:
        out.append("")
        out += para("pinpost bugs found by the run:")
        for b in bugs:
            out += para(b, "   o  ", "      ")
    return out


def main():
    if len(sys.argv) not in (2, 3):
        sys.stderr.write(__doc__)
        return 64
    lines = render(sys.argv[1])
    if len(sys.argv) == 2:
        print("\n".join(lines))
        return 0
    with open(sys.argv[2], encoding="ascii") as f:
        draft = f.read().split("\n")
    b, e = draft.index(BEGIN), draft.index(END)
    draft[b + 1:e] = [""] + lines + [""]
    with open(sys.argv[2], "w", encoding="ascii") as f:
        f.write("\n".join(draft))
    return 0


if __name__ == "__main__":
    sys.exit(main())
