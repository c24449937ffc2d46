#!/usr/bin/python3
"""layers.py - the module graph of ext/ and mta/, and its layering check.

    /usr/bin/python3 tests/structure/layers.py [-v] [--root DIR]

Reads every .c and .h under ext/ (libstsec; not ext/patches/) and mta/, maps each
file to a module, and draws an edge A -> B when a file of A

  include  has `#include "x.h"` with x.h a file of module B, or
  call     names a function that B defines (a non-static function of one
           of B's .c files) in code: a call, or a function pointer taken
           for a table or a callback.  This is how a module reaches one
           whose header declares nothing of its own (cli.h declared
           cli_err, which pinpost.c defined).  A name after "." or "->"
           is a struct member, not a use; prototypes in headers are not
           uses (only #define bodies of headers are read).

and reports

  cycles   strongly connected components of more than one module;
  upward   edges from a module to one on a higher floor of FLOORS;
  unplaced modules that FLOORS does not name (place a new module there).

Edges between modules of one floor are allowed; only a cycle is not.
A module passes when it is placed, in no cycle and has no upward edge.
The last line is "layers: N passed, N failed" (modules); the exit status
is 1 when one failed.  -v prints the graph first, one module a line:
"module [floor] -> dep (kinds) ...".  --root DIR checks another tree (a
`git archive` of an older commit, say).
"""
import argparse
import os
import re
import sys

# Modules, lowest floor first.  A module may use its own floor and those
# below, never one above (Postfix's util < global < dns, tls < programs).
FLOORS = [
    # 0: the pure ground floor: the library any MTA links (one group: its
    # files share one public header, stsec.h) and the SMTP protocol core.
    ("libstsec", "proto/smtp_cmd", "proto/smtp_reply", "proto/smtp_data"),
    # 1: generic utilities, nothing of mail.
    ("log", "fsutil", "addr", "worker"),
    # 2: mail-level modules: configuration and routes (route, a parser and
    # lookup, below conf, which validates `route` with it), the queue,
    # Maildir, bounces, DNS, TLS, the pin store, the configuration check.
    ("route", "conf", "queue", "maildir", "bounce", "dns", "tlscache", "tls",
     "pinstore", "check"),
    # 3: the narrow context the protocol engines share (mta/ctx.h).
    ("ctx",),
    # 4: the protocol engines.
    ("session", "client", "local", "runner"),
    # 5: the server: listeners, sessions, the runner, reload.
    ("server",),
    # 6: the command line's shared helpers (cli.h: cli.c, cli_usage.c).
    ("cli/cli",),
    # 7: the parts `send` and sendmail mode are built of.
    ("cli/cli_addr", "cli/cli_msg", "cli/cli_smtp"),
    # 8: the commands (sendmail mode uses send's run).
    ("cli/cli_pin", "cli/cli_pins", "cli/cli_check", "cli/cli_probe",
     "cli/cli_queue", "cli/cli_policyd", "cli/cli_send",
     "cli/cli_sendmail"),
    # 9: the programs: the daemon and the dispatcher.
    ("pinpostd", "cli/pinpost"),
]

# Modules of more than one .c: the extra files and the module whose
# header declares what they define.
PARTS = {
    "mta/cli/cli_pins_json.c": "cli/cli_pins",
    "mta/cli/cli_queue_flush.c": "cli/cli_queue",
    "mta/cli/cli_probe_out.c": "cli/cli_probe",
    "mta/cli/cli_probe_see.c": "cli/cli_probe",
    "mta/cli/cli_usage.c": "cli/cli",
}

# Names defined in several programs, never a dependency.
NOT_USES = {"main"}

INCLUDE_RE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*"([^"]+)"', re.M)
IDENT_RE = re.compile(r"[A-Za-z_]\w*")
DEF_RE = re.compile(r"^([A-Za-z_]\w*)[ \t]*\(", re.M)
DEFINE_RE = re.compile(r"^[ \t]*#[ \t]*define[^\n]*(?:\\\n[^\n]*)*", re.M)


def module_of(rel):
    """The module of a file (path relative to the root, with /)."""
    if rel in PARTS:
        return PARTS[rel]
    if rel.startswith(("ext/libstsec/", "ext/")):
        # ext/libstsec/ today; ext/ itself before the patches moved out
        # of the library's folder (--root on an older tree).
        return "libstsec"
    stem = os.path.splitext(rel)[0]
    if stem.startswith("mta/"):
        return stem[len("mta/"):]
    raise ValueError(rel)


def sources(root):
    """Every .c and .h of ext/ (not ext/patches/: other MTAs' code)
    and mta/, sorted."""
    out = []
    for top in ("ext", "mta"):
        for d, dirs, files in os.walk(os.path.join(root, top)):
            rel_d = os.path.relpath(d, root).replace(os.sep, "/")
            if rel_d == "ext/patches":
                dirs[:] = []
                continue
            dirs.sort()
            for f in sorted(files):
                if f.endswith((".c", ".h")):
                    out.append(rel_d + "/" + f)
    return out


def strip_code(text):
    """text with comments, strings and character constants blanked
    (newlines kept, so line numbers hold)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            # an #include's "file" is read before stripping
        else:
            out.append(c)
            i += 1
            continue
        out.append(re.sub(r"[^\n]", " ", text[i:j]))
        i = j
    return "".join(out)


def definitions(code):
    """(global, static): function names a .c file defines, from code with
    comments stripped.  pinpost's style puts the name at column 0."""
    glob, stat = set(), set()
    for m in DEF_RE.finditer(code):
        depth, j = 0, m.end() - 1
        while j < len(code):
            if code[j] == "(":
                depth += 1
            elif code[j] == ")":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        rest = code[j + 1:j + 200].lstrip()
        if not rest.startswith("{"):
            continue            # a call or prototype at column 0
        start = max(code.rfind(";", 0, m.start()),
                    code.rfind("}", 0, m.start()),
                    code.rfind("\n#", 0, m.start()))
        head = code[start + 1:m.start()]
        (stat if re.search(r"\bstatic\b", head) else glob).add(m.group(1))
    return glob, stat


def uses(code):
    """(name, line) of every identifier that is not a member name."""
    for m in IDENT_RE.finditer(code):
        before = code[max(0, m.start() - 2):m.start()].rstrip()
        if before.endswith(".") or before.endswith("->"):
            continue
        yield m.group(0), code.count("\n", 0, m.start()) + 1


def read_tree(root):
    """{rel: (text, code)} of every source file."""
    tree = {}
    for rel in sources(root):
        with open(os.path.join(root, rel), encoding="utf-8",
                  errors="replace") as f:
            text = f.read()
        tree[rel] = (text, strip_code(text))
    return tree


def graph(root):
    """modules {module: [files]}, edges {(a, b): [(kind, where, what)]}."""
    tree = read_tree(root)
    modules = {}
    for rel in tree:
        modules.setdefault(module_of(rel), []).append(rel)
    by_name = {}                # header base name -> module
    for rel in tree:
        if rel.endswith(".h"):
            by_name.setdefault(os.path.basename(rel), module_of(rel))
    edges = {}

    def edge(a, b, kind, where, what):
        if a != b:
            edges.setdefault((a, b), []).append((kind, where, what))

    defined, statics = {}, {}
    for rel, (text, code) in tree.items():
        if rel.endswith(".c"):
            glob, stat = definitions(code)
            statics[rel] = stat
            for name in glob - NOT_USES:
                defined.setdefault(name, set()).add(module_of(rel))
    for rel, (text, code) in sorted(tree.items()):
        a = module_of(rel)
        for m in INCLUDE_RE.finditer(text):
            inc = os.path.basename(m.group(1))
            if "#" not in code[m.start():m.start(1)]:
                continue        # in a comment
            if inc in by_name:
                line = text.count("\n", 0, m.start()) + 1
                edge(a, by_name[inc], "include", "%s:%d" % (rel, line),
                     m.group(1))
        if rel.endswith(".c"):
            body = code
        else:
            body = "\n".join(d.group(0) for d in DEFINE_RE.finditer(code))
        own = statics.get(rel, set())
        for name, line in uses(body):
            if name in own or name not in defined:
                continue
            for b in sorted(defined[name]):
                edge(a, b, "call", "%s:%d" % (rel, line), name)
    return modules, edges


def floor_map():
    floors = {}
    for i, names in enumerate(FLOORS):
        for name in names:
            floors[name] = i
    return floors


def cycles(modules, edges):
    """Strongly connected components of more than one module (Tarjan),
    each sorted, the list sorted."""
    succ = {m: sorted({b for (a, b) in edges if a == m}) for m in modules}
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in succ.get(v, []):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(modules):
        if v not in index:
            visit(v)
    return sorted(out)


def upward(modules, edges):
    """[(a, floor a, b, floor b, evidence)] of edges that climb."""
    floors = floor_map()
    out = []
    for (a, b), ev in sorted(edges.items()):
        if a in floors and b in floors and floors[a] < floors[b]:
            out.append((a, floors[a], b, floors[b], ev))
    return out


def unplaced(modules):
    floors = floor_map()
    return sorted(m for m in modules if m not in floors)


def check(root):
    """Everything the report needs, as a dict (test_layers.py uses it)."""
    modules, edges = graph(root)
    cyc = cycles(modules, edges)
    up = upward(modules, edges)
    unp = unplaced(modules)
    bad = set(unp)
    for comp in cyc:
        bad.update(comp)
    for a, _, _, _, _ in up:
        bad.add(a)
    return {"modules": modules, "edges": edges, "cycles": cyc,
            "upward": up, "unplaced": unp, "failed": sorted(bad)}


def evidence(ev, most=3):
    """"include a.c:3 "b.h", call a.c:9 b_fn" for an edge."""
    seen, out = set(), []
    for kind, where, what in ev:
        key = (kind, what)
        if key in seen:
            continue
        seen.add(key)
        out.append('%s %s %s' % (kind, where,
                                 '"%s"' % what if kind == "include"
                                 else what))
    more = len(out) - most
    return ", ".join(out[:most]) + (", +%d more" % more if more > 0 else "")


def report(r, verbose, fp):
    floors = floor_map()
    if verbose:
        print("graph (module [floor] -> module (how)):", file=fp)
        for m in sorted(r["modules"], key=lambda m: (floors.get(m, 99), m)):
            deps = []
            for (a, b), ev in sorted(r["edges"].items()):
                if a == m:
                    kinds = sorted({k for k, _, _ in ev})
                    deps.append("%s (%s)" % (b, ",".join(kinds)))
            print("  %s [%s] -> %s" % (m, floors.get(m, "?"),
                                       " ".join(deps) or "-"), file=fp)
    for comp in r["cycles"]:
        print("cycle: %s" % " <-> ".join(comp), file=fp)
        for (a, b), ev in sorted(r["edges"].items()):
            if a in comp and b in comp:
                print("  %s -> %s: %s" % (a, b, evidence(ev)), file=fp)
    for a, fa, b, fb, ev in r["upward"]:
        print("upward: %s [%d] -> %s [%d]: %s" % (a, fa, b, fb,
                                                  evidence(ev)), file=fp)
    for m in r["unplaced"]:
        print("unplaced: %s (%s): add it to FLOORS" %
              (m, " ".join(r["modules"][m])), file=fp)
    nedges = len(r["edges"])
    print("layers: %d modules, %d edges, %d cycles, %d upward, %d unplaced"
          % (len(r["modules"]), nedges, len(r["cycles"]), len(r["upward"]),
             len(r["unplaced"])), file=fp)
    failed = len(r["failed"])
    print("layers: %d passed, %d failed" % (len(r["modules"]) - failed,
                                            failed), file=fp)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-v", action="store_true", help="print the graph")
    ap.add_argument("--root", default=os.path.abspath(
        os.path.join(os.path.dirname(__file__), "..", "..")),
        help="the tree to check (default: this checkout)")
    args = ap.parse_args(argv)
    r = check(args.root)
    report(r, args.v, sys.stdout)
    return 1 if r["failed"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
