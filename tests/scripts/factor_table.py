#!/usr/bin/env python3
"""One factor of Huang, Singh & Rajan's Table 1 as a Markdown table (docs/DEGENERACY.md).

Reads what `ensweep report SWEEPDIR` stored in `SWEEPDIR/analysis/` (the diversity summaries:
mean over pairs or nets with its 95 % bootstrap interval over nets, and how many nets each stands
on) and the number of nets per level in `runs`, through `ensweep query`, and prints per knob level the paper's three
degeneracy measures (DSA angular distance beside its within-net null, d_PIF beside the
initial-weights baseline, sigma_OOD), then the direction from the lowest to the highest level:
"up" / "down" when the two levels' intervals do not overlap, "~" when they do.

  ensweep report sweeps/huang_complexity
  python3 tests/scripts/factor_table.py --ensweep target/release/ensweep \\
      sweeps/huang_complexity --knob task.channels

Only the standard library; `ensweep` does the reading.
"""

import argparse
import json
import re
import subprocess
import sys

MEASURES = [
    ("dsa_angular", "DSA (rad)", "dsa_null_angular"),
    ("d_pif", "d_PIF", "d_pif_init"),
    ("ood_loss_std", "sigma_OOD", None),
]


def query(binary, sweep, sql):
    out = subprocess.run(
        [binary, "query", sweep, "--format", "json", sql],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)


def level_of(group, knob):
    """The knob's value in a group label such as `task.channels=2, n_hidden=64` (a value may
    be an inline table written as JSON, with commas of its own but no ", ")."""
    for part in re.split(r", (?=[A-Za-z_][A-Za-z0-9_.]*=)", group):
        key, _, value = part.strip().partition("=")
        if key == knob:
            return value
    return group


def sort_key(value):
    """Numbers in order; a table (a regularisation) by its numeric entries (its lambda)."""
    try:
        return (0, float(value), str(value))
    except ValueError:
        pass
    try:
        table = json.loads(value)
        if isinstance(table, dict):
            nums = [v for v in table.values() if isinstance(v, (int, float))]
            return (0, float(sum(nums)), str(value))
    except ValueError:
        pass
    return (1, 0.0, str(value))


def same_level(a, b):
    """Whether a `runs` value and a group label's value name the same level."""
    if sort_key(a)[:2] != sort_key(b)[:2]:
        return False
    try:
        return json.loads(a) == json.loads(b)
    except ValueError:
        return sort_key(a)[0] == 0 or a == b


def fmt(row):
    if row is None or row.get("mean") is None:
        return "n/a"
    if row.get("low") is None or row.get("high") is None:
        return f"{row['mean']:.4g} [n/a]"
    return f"{row['mean']:.4g} [{row['low']:.4g}, {row['high']:.4g}]"


def has_interval(row):
    return row is not None and row.get("low") is not None and row.get("high") is not None


def direction(lo, hi):
    if not (has_interval(lo) and has_interval(hi)):
        return "n/a"
    if hi["low"] > lo["high"]:
        return "up"
    if hi["high"] < lo["low"]:
        return "down"
    return "~"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sweep", help="sweep directory with a report (`ensweep report` ran on it)")
    ap.add_argument("--knob", required=True, help="the swept axis, e.g. task.channels")
    ap.add_argument("--ensweep", default="target/release/ensweep")
    a = ap.parse_args()
    rows = query(a.ensweep, a.sweep, "select * from diversity_summary")
    by = {}
    for r in rows:
        by[(level_of(r["group"], a.knob), r["metric"])] = r
    # Nets per level in `runs`; the included ones are the summaries' `n_seeds`.
    totals = {
        str(r["lvl"]): r["n"]
        for r in query(
            a.ensweep,
            a.sweep,
            f'select "axis.{a.knob}" as lvl, count(*) as n from runs group by lvl',
        )
    }
    levels = sorted({lvl for lvl, _ in by}, key=sort_key)
    if not levels:
        sys.exit(f"{a.sweep}: no diversity summaries (run `ensweep report` first)")
    # Levels where no net was included have no summaries: list them from `runs`.
    levels += [v for v in totals if not any(same_level(v, lvl) for lvl in levels)]
    levels.sort(key=sort_key)
    head = ["level", "nets in / out"]
    for _, name, base in MEASURES:
        head.append(name)
        if base:
            head.append(f"{name} baseline")
    print("| " + " | ".join(head) + " |")
    print("|" + " --- |" * len(head))
    for lvl in levels:
        inc = by.get((lvl, "dsa_angular"), {}).get("n_seeds", 0)
        tot = next((n for v, n in totals.items() if same_level(v, lvl)), None)
        cells = [
            f"{a.knob} = {lvl}",
            f"{inc} / {tot - inc}" if inc is not None and tot is not None else "?",
        ]
        for metric, _, base in MEASURES:
            cells.append(fmt(by.get((lvl, metric))))
            if base:
                cells.append(fmt(by.get((lvl, base))))
        print("| " + " | ".join(cells) + " |")
    # Lowest against highest level among those with an interval (a level with fewer than two
    # included nets has none).
    arrows = []
    for m, name, _ in MEASURES:
        ok = [lvl for lvl in levels if has_interval(by.get((lvl, m)))]
        if len(ok) < 2:
            arrows.append(f"{name}: n/a")
            continue
        lo, hi = ok[0], ok[-1]
        arrows.append(f"{name} {lo} -> {hi}: {direction(by.get((lo, m)), by.get((hi, m)))}")
    print(f"\n{a.knob}: " + "; ".join(arrows))

if __name__ == "__main__":
    main()
