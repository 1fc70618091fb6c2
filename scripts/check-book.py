#!/usr/bin/env python3
"""Check that the book and the README show only compiled code and current bench figures.

Usage:
    python3 scripts/check-book.py            # from anywhere; exits 1 and lists each problem
    python3 scripts/check-book.py --figures  # which FIGURE lines the pages use, and which of
                                             # them figures.txt lacks (what a bench run must make)

Run by .ci/run before `mdbook build book`. Reads README.md and book/src/**/*.md. Uses only the
standard library.

(a) Code blocks. A fenced block is Rust when its info string is empty or its first word is
    `rust` (or one of rustdoc's attributes alone, such as `ignore`): mdBook and rustdoc treat
    those as Rust, give them a Run button and feed them to `mdbook test`. Every Rust block must
    be one of:
      1. an include of compiled code: fenced `rust,ignore`, and every non-blank line is
         `{{#include PATH[:anchor]}}` or `{{#rustdoc_include ...}}` of a `.rs` file under
         examples/, tests/, benches/, src/ or a crate's src/ or tests/ (all built by
         `cargo test --workspace`; book/check-includes.sh checks the file and the anchor).
         `ignore` keeps the Run button and `mdbook test` off a fragment that cannot run alone;
      2. a sketch: fenced `rust,ignore`, with a first line that says so and why, as a comment:
         `// Sketch: <why it is not compiled>` (also `// A sketch: ...` or
         `// Not compiled: ...`);
      3. a block of a file that a crate compiles as doc tests: the README is included by
         src/lib.rs (`#[doc = include_str!("../README.md")]`), so its plain `rust` blocks are
         compiled and run by `cargo test --doc`. Such a file's blocks may instead be sketches.
    Blocks in other languages (text, sh, toml, c, ...) are not checked.

(b) Bench figures. Pages never type a bench figure: they show it through a marker that
    scripts/figures.py fills from book/src/performance/figures.txt,
        <!--fig NAME COLUMN[/COLUMN2] [FORMAT]-->VALUE<!--/fig-->
    (HTML comments, so the marker is invisible in mdBook and on a forge, and the page stays
    plain markdown). A marker must not begin a line: a line that starts with `<!--` starts an
    HTML block in CommonMark and would cut its paragraph in two. NAME is a FIGURE line's name, COLUMN one of its columns (or `count`,
    `conns`); `A/B` is the ratio of two columns. FORMAT is `auto` (the table's rounding, the
    default), `int`, `k` (thousands, no decimals; `k.1` with one, e.g. us shown as ms), `.0`,
    `.1`, `.2`, `pct` (a ratio as a percentage difference: 1.12 -> 12), `diff` (A - B, signed),
    or a target, which shows `yes` or `no`: `le:K` (A <= K, or A <= K * B for `A/B`), `ge:K`,
    and `le:K+C` / `ge:K+C` (A <= K * B + C), so that a table of targets is decided by the run. `python3 scripts/figures.py
    book/src/performance/figures.txt --md ... --svg ...` rewrites every VALUE, so one run of the
    benches and that one command update every page; the table itself is
    `{{#include performance/table.md}}`. This check fails when:
      - a marker names a figure or column that figures.txt lacks (the figure will come with
        the next bench run; until then the page states a number nothing measured), or
      - a VALUE differs from what figures.txt gives (someone edited the number by hand, or
        did not run figures.py after the benches), or
      - prose outside markers states a number in a unit that only measurements have: `ns`,
        `us`/`µs`, `req/s`, `req/cpu-s`, requests per CPU-second, thousands (`262k`), a ratio
        such as `1.21x`, or bytes per coroutine/connection (`192 B per`, `1,571 bytes per`).
        (A heuristic: a bench figure in `ms`, `GB` or `%` is not caught; write it through a
        marker anyway.)
    Numbers that are not bench figures (a callgrind count, a one-off measurement of the
    machine's limits, a cost the design chapter reasons about) are exempt when the paragraph,
    list item or table carries, on the line before it, a comment a reader of the source sees:
        <!-- not a bench figure: <what the numbers are and where they come from> -->
    It covers the block up to the next blank line. Code blocks are not scanned for units
    (their text is a program's output, shown as it printed it), but a `FIGURE name unit ...`
    line pasted into one is a bench figure typed by hand: include figures.txt instead, or put
    the exemption comment on the line before the fence.
"""

import importlib.util
import os
import re
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
FIGURES_TXT = os.path.join(ROOT, "book", "src", "performance", "figures.txt")

_spec = importlib.util.spec_from_file_location(
    "figures", os.path.join(ROOT, "scripts", "figures.py")
)
figures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(figures)

# rustdoc's code-block attributes: a fence whose first word is one of these is still Rust.
RUSTDOC_ATTRS = {
    "ignore", "should_panic", "no_run", "compile_fail", "edition2015", "edition2018",
    "edition2021", "edition2024", "noplayground", "editable", "mdbook-runnable", "test_harness",
    "standalone_crate",
}
INCLUDE = re.compile(r"^\s*\{\{#(?:rustdoc_)?include\s+([^}\s]+)\s*\}\}\s*$")
COMPILED_ROOTS = re.compile(r"^(examples|tests|benches|src|[A-Za-z0-9_-]+/(src|tests))/")
SKETCH = re.compile(r"^\s*//\s*(?:a\s+sketch|sketch|not\s+compiled)\b[^:\n]*:\s*\S", re.I)
EXEMPT = re.compile(r"<!--\s*not a bench figure:\s*\S.*?-->", re.S)
MEASURED = re.compile(
    r"(?<![\w.,])\d[\d,]*(?:\.\d+)?\s*"
    r"(?:ns\b|us\b|µs\b|req/s\b|req/cpu-s\b|k\s+req|x\b|k\b"
    r"|(?:k\s+)?requests\s+per\s+(?:server\s+)?CPU-second"
    r"|(?:B|bytes)\s+(?:per|each|a)\s+(?:suspended\s+|parked\s+|idle\s+)?"
    r"(?:coroutine|connection|conn))"
)


def fences(lines):
    """Yield (start, end, info, body_lines) for each fenced block; start/end are 0-based."""
    i = 0
    while i < len(lines):
        m = re.match(r"^( {0,3})(`{3,}|~{3,})(.*)$", lines[i])
        if not m:
            i += 1
            continue
        fence, info = m.group(2), m.group(3).strip()
        j = i + 1
        while j < len(lines):
            c = re.match(r"^ {0,3}(`{3,}|~{3,})\s*$", lines[j])
            if c and c.group(1)[0] == fence[0] and len(c.group(1)) >= len(fence):
                break
            j += 1
        yield i, j, info, lines[i + 1 : j]
        i = j + 1


def doctest_files():
    """Markdown files that src/lib.rs compiles as doc tests (`include_str!("../X.md")`)."""
    found = set()
    lib = os.path.join(ROOT, "src", "lib.rs")
    if os.path.exists(lib):
        with open(lib, encoding="utf-8") as f:
            for rel in re.findall(r'include_str!\("([^"]+\.md)"\)', f.read()):
                found.add(os.path.normpath(os.path.join(ROOT, "src", rel)))
    return found


PASTED_FIGURE = re.compile(r"^\s*FIGURE\s+[a-z0-9_]+\s+\S+\s+\S+\s+\d")


def check_pasted(path, start, lines, body, problems):
    """A FIGURE line pasted into a code block, without the exemption before the fence."""
    if start > 0 and EXEMPT.search(lines[start - 1]):
        return
    for k, l in enumerate(body):
        if PASTED_FIGURE.match(l):
            problems.append(
                f"{rel(path)}:{start + 2 + k}: a pasted FIGURE line: include "
                f"performance/figures.txt or use markers, so that the next run updates it"
            )


def check_block(path, start, info, body, doctested, problems):
    words = [w for w in re.split(r"[,\s]+", info) if w]
    first = words[0].lower() if words else ""
    if first and first != "rust" and first not in RUSTDOC_ATTRS:
        return
    attrs = {w.lower() for w in words}
    where = f"{rel(path)}:{start + 1}"
    text = [l for l in body if l.strip()]
    if text and all(INCLUDE.match(l) for l in text):
        bad = []
        for l in text:
            target = INCLUDE.match(l).group(1).split(":")[0]
            full = os.path.normpath(os.path.join(os.path.dirname(path), target))
            r = os.path.relpath(full, ROOT)
            if not (r.endswith(".rs") and COMPILED_ROOTS.match(r)):
                bad.append(target)
        if bad:
            problems.append(f"{where}: includes {', '.join(bad)}, which no crate compiles")
        elif "ignore" not in attrs:
            problems.append(
                f"{where}: an include of a fragment must be fenced ```rust,ignore "
                f"(it is compiled in its file; alone it has no Run button and no mdbook test)"
            )
        return
    if text and SKETCH.match(text[0]):
        if "ignore" not in attrs:
            problems.append(f"{where}: a sketch must be fenced ```rust,ignore")
        return
    if path in doctested and "ignore" not in attrs:
        return
    problems.append(
        f"{where}: a Rust block that is neither an include of compiled code nor a sketch: "
        f"include it from an example or test with // ANCHOR: markers, or fence it "
        f"```rust,ignore with a first line `// Sketch: <why>`"
    )


MARKER = re.compile(r"(?<!`)<!--fig\s+([^>]*?)\s*-->(.*?)<!--/fig-->", re.S)


def check_prose(path, lines, skip, figs, problems):
    """Markers and bare measured numbers in the lines outside code blocks."""
    exempt_until = -1
    for i, line in enumerate(lines):
        if i in skip:
            continue
        if EXEMPT.search(line):
            exempt_until = i + 1
            while exempt_until < len(lines) and lines[exempt_until].strip():
                exempt_until += 1
        where = f"{rel(path)}:{i + 1}"
        if line.lstrip().startswith("<!--fig"):
            problems.append(f"{where}: a figure marker begins the line, which cuts the paragraph "
                            f"in two: move a word of the line before onto this one")
        for m in MARKER.finditer(line):
            want, err = figures.marker_value(figs, m.group(1))
            if err:
                problems.append(f"{where}: figure `{m.group(1)}`: {err}")
            elif m.group(2) != want:
                problems.append(
                    f"{where}: figure `{m.group(1)}` reads {m.group(2)!r}, figures.txt gives "
                    f"{want!r}: run scripts/figures.py (see its header)"
                )
        if i <= exempt_until:
            continue
        bare = MARKER.sub(" ", line)
        bare = re.sub(r"`[^`]*`", " ", bare)  # inline code: names and commands, not claims
        for m in MEASURED.finditer(bare):
            problems.append(
                f"{where}: `{m.group(0).strip()}` looks like a bench figure typed by hand: "
                f"show it through <!--fig NAME COLUMN-->..<!--/fig--> from figures.txt, or mark "
                f"the paragraph <!-- not a bench figure: <why> -->"
            )


def rel(path):
    return os.path.relpath(path, ROOT)


def pages():
    out = [os.path.join(ROOT, "README.md")]
    for d, _, files in os.walk(os.path.join(ROOT, "book", "src")):
        out.extend(os.path.join(d, f) for f in files if f.endswith(".md"))
    return sorted(p for p in out if os.path.exists(p))


def list_figures(figs):
    """Print every figure name the pages' markers use, with the columns and where."""
    used = {}
    for path in pages():
        with open(path, encoding="utf-8") as f:
            for m in MARKER.finditer(f.read()):
                words = m.group(1).split()
                if not words:
                    continue
                cols = words[1].split("/") if len(words) > 1 else []
                entry = used.setdefault(words[0], (set(), set()))
                entry[0].update(cols)
                entry[1].add(rel(path))
    for name in sorted(used):
        cols, where = used[name]
        if name not in figs:
            state = "MISSING from figures.txt"
        else:
            have = {c for c, _ in figs[name][1]} | set(figs[name][2])
            lack = sorted(cols - have)
            state = "in figures.txt" + (f", but without {', '.join(lack)}" if lack else "")
        print(f"{name} [{', '.join(sorted(cols))}]: {state} (used in {', '.join(sorted(where))})")


def main():
    with open(FIGURES_TXT, encoding="utf-8") as f:
        figs = figures.parse(f)
    if sys.argv[1:] == ["--figures"]:
        list_figures(figs)
        return
    doctested = doctest_files()
    problems = []
    for path in pages():
        if os.path.normpath(path) == os.path.normpath(
            os.path.join(ROOT, "book", "src", "performance", "table.md")
        ):
            continue  # generated from figures.txt by figures.py
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        skip = set()
        for start, end, info, body in fences(lines):
            skip.update(range(start, end + 1))
            check_block(path, start, info, body, doctested, problems)
            check_pasted(path, start, lines, body, problems)
        check_prose(path, lines, skip, figs, problems)
    for p in problems:
        print(p)
    if problems:
        print(f"check-book: {len(problems)} problem(s); the rules are in scripts/check-book.py")
        sys.exit(1)
    print("check-book: every Rust block is compiled or a marked sketch; every figure is current")


if __name__ == "__main__":
    main()
