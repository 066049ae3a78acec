#!/usr/bin/env python3
"""Per-group summary of a finished sweep for docs/REPRODUCTIONS.md: mean and a 95 % percentile
bootstrap interval over the nets (seeds) of each configuration group, for chosen metrics of the
`runs` table, plus success counts and the dynamics classes.

Everything comes from `ensweep query DIR SQL --format json`, so the numbers are those of the
Parquet tables the sweep wrote. The bootstrap resamples nets with replacement (10,000 resamples,
fixed seed 0), so the same tables always give the same intervals.

Usage (CI does not run this):
  python3 tests/scripts/repro_summary.py --ensweep target/release/ensweep sweeps/jarne_laje_or \
      --group cfg.rec_init --metrics distance_mean eig_outside epochs_trained [--only-success]
"""

import argparse
import json
import random
import statistics
import subprocess


def query(binary, sweep, sql):
    out = subprocess.run([binary, "query", sweep, sql, "--format", "json"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def bootstrap(values, resamples=10_000, seed=0):
    """Mean and its 95 % percentile interval over resampled nets."""
    if not values:
        return float("nan"), float("nan"), float("nan")
    rng = random.Random(seed)
    n = len(values)
    means = sorted(sum(rng.choice(values) for _ in range(n)) / n for _ in range(resamples))
    return statistics.fmean(values), means[int(0.025 * resamples)], means[int(0.975 * resamples) - 1]


def ranks(values):
    """Ranks 1..n, ties sharing their mean rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def spearman(pairs):
    """Spearman's rho: Pearson's correlation of the ranks (nan for fewer than 3 pairs)."""
    if len(pairs) < 3:
        return float("nan")
    rx, ry = ranks([p[0] for p in pairs]), ranks([p[1] for p in pairs])
    return statistics.correlation(rx, ry)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sweep")
    ap.add_argument("--ensweep", default="ensweep")
    ap.add_argument("--group", nargs="+", default=["cfg.rec_init"])
    ap.add_argument("--metrics", nargs="+", default=["distance_mean", "eig_outside"])
    ap.add_argument("--table", default="runs",
                    help="runs, or a per-cell table joined to runs (layers, pruning); --where filters it")
    ap.add_argument("--where", default=None, help="Python expression over a row `r`, e.g. r['layer'] == 1")
    ap.add_argument("--runs-columns", nargs="+", default=[],
                    help="columns of `runs` to join to a per-cell --table row (e.g. important_frac)")
    ap.add_argument("--spearman", nargs=2, metavar=("X", "Y"),
                    help="also print Spearman's rank correlation of X and Y over the rows of each group")
    ap.add_argument("--only-success", action="store_true",
                    help="metrics over successful nets only (counts always cover all)")
    a = ap.parse_args()
    if a.table == "runs":
        sql = "SELECT * FROM runs"
    else:
        joined = [g for g in a.group if g.startswith("cfg.")] + a.runs_columns
        keys = "".join(', r."%s"' % c for c in joined)
        sql = f"SELECT t.*{keys} FROM {a.table} t JOIN runs r ON r.cell_key = t.cell_key"
    rows = query(a.ensweep, a.sweep, sql)
    has_success = bool(rows) and "success" in rows[0]
    has_class = bool(rows) and "dynamics_class" in rows[0]
    groups = {}
    if a.where:
        rows = [r for r in rows if eval(a.where, {}, {"r": r})]
    for r in rows:
        groups.setdefault(tuple(str(r[g]) for g in a.group), []).append(r)
    classes = {0: "fixed point", 1: "oscillatory", 2: "mixed"}
    head = ["group", "nets", "successful"] + [f"{m} mean [95% CI]" for m in a.metrics] + ["dynamics classes"]
    print("| " + " | ".join(head) + " |")
    print("|" + " --- |" * len(head))
    def order(key):
        # Numbers in numeric order (N = 50 before 400), other values by name.
        out = []
        for v in key:
            try:
                out.append((0, float(v), ""))
            except ValueError:
                out.append((1, 0.0, v))
        return out

    for key in sorted(groups, key=order):
        rs = groups[key]
        ok = [r for r in rs if r["success"]] if has_success else rs
        use = ok if a.only_success else rs
        cells = [", ".join(key), str(len(rs)), str(len(ok))]
        for m in a.metrics:
            vals = [float(r[m]) for r in use if r[m] is not None]
            mean, lo, hi = bootstrap(vals)
            cells.append(f"{mean:.4g} [{lo:.4g}, {hi:.4g}] (n = {len(vals)})")
        counts = {}
        for r in rs if has_class else []:
            c = r["dynamics_class"]
            name = classes.get(int(c), str(c)) if c is not None else "none"
            counts[name] = counts.get(name, 0) + 1
        cells.append(", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "-")
        print("| " + " | ".join(cells) + " |")
        if a.spearman:
            x, y = a.spearman
            pairs = [(float(r[x]), float(r[y])) for r in use if r[x] is not None and r[y] is not None]
            print(f"  {', '.join(key)}: Spearman({x}, {y}) = {spearman(pairs):.3f} over {len(pairs)} rows")


if __name__ == "__main__":
    main()
