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
"""

import argparse
import html
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
    a = ap.parse_args()
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


if __name__ == "__main__":
    main()
