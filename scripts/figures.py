#!/usr/bin/env python3
"""Turn coro-bench FIGURE lines into a markdown table (with ratios) and an SVG bar chart.

Usage:
    cargo run --release -p coro-bench -- switch | tee -a figures.txt
    python3 scripts/figures.py figures.txt [--md table.md] [--svg figures.svg]

Every line of the input that starts with `FIGURE` is read; other lines are ignored, so the
suites' whole output can be piped in. A line is
    FIGURE <name> <unit> coro <value> <peer> <value> ...
Columns named `count` and `conns` are parameters of the run, not contenders: they are shown
beside the figure, not compared. When a figure appears more than once the last line wins.
Without --md the table goes to stdout. Uses only the standard library.

Figures in the pages. README.md and the book's chapters show a bench figure only through a
marker, `<!--fig NAME COLUMN[/COLUMN2] [FORMAT]-->VALUE<!--/fig-->` (the syntax and the
formats are in scripts/check-book.py, which fails CI on a stale or unknown one). When the input
is the book's figures file, book/src/performance/figures.txt, every VALUE in README.md and
book/src/**/*.md is rewritten from it (`--pages` forces that for another input, `--no-pages`
turns it off). So after a bench run, one command updates the table, the chart and every page:

    python3 scripts/figures.py book/src/performance/figures.txt \
        --md book/src/performance/table.md --svg book/src/performance/figures.svg
"""

import argparse
import html
import os
import re
import sys

PARAMS = {"count", "conns"}
# Units where a larger value is better; for every other unit (ns, us, bytes) smaller is.
HIGHER_IS_BETTER = {"req/s", "req/cpu-s"}


def parse(lines):
    """Return {name: (unit, [(column, value)], {param: value})} in first-seen order."""
    figs = {}
    for raw in lines:
        parts = raw.split()
        if len(parts) < 5 or parts[0] != "FIGURE" or (len(parts) - 3) % 2:
            continue
        name, unit = parts[1], parts[2]
        cols, params = [], {}
        for col, val in zip(parts[3::2], parts[4::2]):
            try:
                v = float(val)
            except ValueError:
                v = float("nan")
            (params.__setitem__(col, v) if col in PARAMS else cols.append((col, v)))
        figs[name] = (unit, cols, params)
    return figs


def fmt(v):
    if v != v:
        return "n/a"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.2f}"


def _column(figs, name, col):
    unit, cols, params = figs[name]
    for c, v in cols:
        if c == col:
            return v
    if col in params:
        return params[col]
    return None


def marker_value(figs, spec):
    """The text a `<!--fig SPEC-->` marker shows: (text, None), or (None, why it has none)."""
    words = spec.split()
    if len(words) not in (2, 3):
        return None, "a marker is NAME COLUMN[/COLUMN2] [FORMAT]"
    name, cols = words[0], words[1]
    form = words[2] if len(words) == 3 else "auto"
    if name not in figs:
        return None, f"no FIGURE {name} in book/src/performance/figures.txt"
    vals = []
    for col in cols.split("/"):
        v = _column(figs, name, col)
        if v is None:
            have = [c for c, _ in figs[name][1]] + list(figs[name][2])
            return None, f"FIGURE {name} has no column {col} (it has {', '.join(have)})"
        vals.append(v)
    if len(vals) > 2:
        return None, "a ratio has two columns"
    if any(x != x for x in vals):
        return None, f"FIGURE {name} {cols}: not a number (the run failed?)"
    if form[:3] in ("le:", "ge:"):
        # A target: `le:K` is A <= K (one column) or A <= K * B (two); `le:K+C` adds C.
        try:
            k, _, c = form[3:].partition("+")
            k, c = float(k), float(c or 0)
        except ValueError:
            return None, f"bad target {form} (le:K, le:K+C, ge:K, ge:K+C)"
        bound = k * vals[1] + c if len(vals) == 2 else k + c
        ok = vals[0] <= bound if form[:2] == "le" else vals[0] >= bound
        return ("yes" if ok else "no"), None
    if form == "diff":
        if len(vals) != 2:
            return None, "diff needs two columns, A/B"
        return f"{vals[0] - vals[1]:+.1f}", None
    if len(vals) == 2 and not vals[1]:
        return None, f"FIGURE {name}: {cols.split('/')[1]} is 0"
    v = vals[0] / vals[1] if len(vals) == 2 else vals[0]
    if form == "auto":
        return (f"{v:.2f}" if len(vals) == 2 else fmt(v)), None
    if form == "int":
        return f"{v:,.0f}", None
    if form == "k":
        return f"{v / 1000:,.0f}", None
    if form == "k.1":
        return f"{v / 1000:,.1f}", None
    if form in (".0", ".1", ".2"):
        return f"{v:,{form}f}", None
    if form == "pct":
        return f"{(v - 1) * 100:.0f}", None
    return None, f"unknown format {form} (auto, int, k, k.1, .0, .1, .2, pct, diff, le:K, ge:K)"


# Not right after a backtick: `<!--fig NAME COLUMN-->` in inline code is an example, not a figure.
MARKER = re.compile(r"(?<!`)(<!--fig\s+([^>]*?)\s*-->)(.*?)(<!--/fig-->)", re.S)


def update_pages(figs, root):
    """Rewrite every marker's value in README.md and book/src/**/*.md; report what is left."""
    paths = [os.path.join(root, "README.md")]
    for d, _, files in os.walk(os.path.join(root, "book", "src")):
        paths.extend(os.path.join(d, f) for f in files if f.endswith(".md"))
    changed, missing = 0, []
    for path in sorted(paths):
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as f:
            text = f.read()

        def repl(m):
            want, err = marker_value(figs, m.group(2))
            if err:
                missing.append(f"{os.path.relpath(path, root)}: {m.group(2)}: {err}")
                return m.group(0)
            return m.group(1) + want + m.group(4)

        new = MARKER.sub(repl, text)
        if new != text:
            changed += 1
            with open(path, "w", encoding="utf-8") as f:
                f.write(new)
    print(f"figures.py: {changed} page(s) updated", file=sys.stderr)
    for m in missing:
        print(f"figures.py: not updated: {m}", file=sys.stderr)


def markdown(figs):
    out = [
        "| figure | unit | column | value | coro vs this column |",
        "| --- | --- | --- | ---: | ---: |",
    ]
    for name, (unit, cols, params) in figs.items():
        coro = next((v for c, v in cols if c == "coro"), float("nan"))
        label = name + "".join(f" ({k} {fmt(v)})" for k, v in params.items())
        better = "higher" if unit in HIGHER_IS_BETTER else "lower"
        for i, (col, v) in enumerate(cols):
            if col == "coro":
                ratio = f"{better} is better"
            elif v and v == v and coro == coro:
                ratio = f"{coro / v:.2f}x"
            else:
                ratio = "n/a"
            first = i == 0
            out.append(
                f"| {label if first else ''} | {unit if first else ''} | {col} | {fmt(v)} | {ratio} |"
            )
    return "\n".join(out) + "\n"


def svg(figs):
    """One panel per figure: horizontal bars scaled to the panel's largest value, coro in orange."""
    width, bar_h, gap, left, right = 760, 18, 4, 150, 120
    y = 10
    body = []
    for name, (unit, cols, params) in figs.items():
        finite = [v for _, v in cols if v == v]
        if not finite:
            continue
        top = max(finite) or 1.0
        better = "higher is better" if unit in HIGHER_IS_BETTER else "lower is better"
        extra = "".join(f", {k} {fmt(v)}" for k, v in params.items())
        title = f"{name} ({unit}, {better}{extra})"
        body.append(
            f'<text x="10" y="{y + 14}" font-weight="bold">{html.escape(title)}</text>'
        )
        y += 22
        for col, v in cols:
            w = 0 if v != v else (width - left - right) * v / top
            color = "#e8772e" if col == "coro" else "#5b8bd0"
            body.append(
                f'<text x="{left - 6}" y="{y + 13}" text-anchor="end">{html.escape(col)}</text>'
                f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{color}"/>'
                f'<text x="{left + w + 6:.1f}" y="{y + 13}">{fmt(v)}</text>'
            )
            y += bar_h + gap
        y += 14
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y}" '
        f'font-family="sans-serif" font-size="12">'
        f'<rect width="100%" height="100%" fill="white"/>'
    )
    return head + "".join(body) + "</svg>\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input", nargs="*", help="files with FIGURE lines (default: stdin)")
    ap.add_argument("--md", help="write the markdown table here instead of stdout")
    ap.add_argument("--svg", help="write an SVG bar chart here")
    ap.add_argument("--pages", dest="pages", action="store_true", default=None,
                    help="rewrite the figure markers of README.md and book/src from this input")
    ap.add_argument("--no-pages", dest="pages", action="store_false",
                    help="never rewrite the pages")
    a = ap.parse_args()
    root = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    book_figures = os.path.join(root, "book", "src", "performance", "figures.txt")
    if a.pages is None:
        a.pages = any(os.path.abspath(p) == book_figures for p in a.input)
    lines = []
    if a.input:
        for path in a.input:
            with open(path, encoding="utf-8") as f:
                lines.extend(f)
    else:
        lines.extend(sys.stdin)
    figs = parse(lines)
    if not figs:
        sys.exit("figures.py: no FIGURE lines in the input")
    table = markdown(figs)
    if a.md:
        with open(a.md, "w", encoding="utf-8") as f:
            f.write(table)
    else:
        sys.stdout.write(table)
    if a.svg:
        with open(a.svg, "w", encoding="utf-8") as f:
            f.write(svg(figs))
    if a.pages:
        update_pages(figs, root)


if __name__ == "__main__":
    main()
