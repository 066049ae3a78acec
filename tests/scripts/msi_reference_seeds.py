#!/usr/bin/env python3
"""The authors' own MSI training script (Zou, Li & Huang, PRE 2023: `RNN_SaS_cogni.py` of
ZouWenXuan/Spike-and-Slab-RNN) run over several seeds, to compare ensweep's spread of early-stop
steps and important-set sizes with the reference's own spread (docs/REPRODUCTIONS.md section 2).

Why: the reference script seeds nothing, and the one re-run we had (seed 0) stopped at step 304,
below ensweep's 10 nets (305-500). One run cannot tell whether the recipes differ or the seed
does; the reference recipe over many seeds can.

What it runs: the script's own code, unchanged, except that the per-epoch dump of every parameter
to `para_*.txt` (record_net, ~100 MB of text per run, no effect on training) is removed. Each seed
calls `np.random.seed(seed)` first; seed 0 reproduces the earlier re-run (stop at index 304).
Per seed it prints one JSON line: `epochs_run` (the stopping epoch index + 1, ensweep's count),
the last training MSE, the important recurrent fraction (pi <= 0.1, Xi < 0.1, |m| > 0.08, the
rule of the analysis script), seconds. Then a summary, and with `--ours` (ensweep's
`epochs_run` per net, comma-separated) a Mann-Whitney U test (normal approximation with tie
correction) and a bootstrap interval of the difference of means.

With `--removal sub_tasks.py` (the authors' analysis script, same folder of their repository)
each trained net also gets the analysis script's target-removal test at its dt of 0.5 ms: the
script's own `RNN` class, `test_accuracy` (20 test batches of 24 trials) and `accuracy`, run on
the intact net, with pi := 1 on the whole important set, and with pi := 1 on as many uniformly
random recurrent connections (the script takes the first k indices; we sample, as our trainer
does). Prints `acc_intact`, `acc_removed`, `acc_random`.

CI does not run this; it needs numpy and the reference files (`fetch` the repository):
  python3 tests/scripts/msi_reference_seeds.py RNN_SaS_cogni.py --seeds 20 \\
      --ours 342,433,366,305,306,500,327,309,416,356 [--removal sub_tasks.py \\
      --ours-removal 0.897,0.892,0.905,0.730,0.852,0.739,0.737,0.549,0.650,0.555] > ref.log
  python3 tests/scripts/msi_reference_seeds.py - --rows ref.log --ours ...   # summary again
"""

import argparse
import json
import math
import time

import numpy as np


def run_seed(source, seed, analysis=None):
    src = source.replace("create_netfile()\nrecord_net(net1)\n", "")
    src = src.replace("    record_net(net1)\n", "")
    if "record_net(net1)" in src:
        raise SystemExit("unexpected reference script: record_net calls left")
    np.random.seed(seed)
    start = time.time()
    scope = {"__name__": "__main__"}
    exec(compile(src, "RNN_SaS_cogni.py", "exec"), scope)
    net = scope["net1"]
    important = (
        (net.pi_rec <= 0.1) & (net.pi_rec >= 0) & (net.xi_rec < 0.1) & (np.abs(net.m_rec) > 0.08)
    )
    row = {
        "seed": seed,
        "epochs_run": int(scope["epoch"]) + 1,
        "train_mse": float(scope["L"]),
        "important_frac": float(important.mean()),
    }
    if analysis is not None:
        row.update(removal_test(analysis, net, important))
    row["seconds"] = round(time.time() - start, 1)
    return row


def between(text, start, end):
    i = text.index(start)
    return text[i:text.index(end, i)]


def removal_test(analysis, trained, important):
    """The analysis script's target-removal test on `trained` (its definitions, its dt 0.5 ms)."""
    scope = {"__name__": "sub_tasks"}
    # Definitions only: the part before its data loading, then its test and accuracy functions.
    code = analysis[: analysis.index("#%% data load")]
    code += between(analysis, "batch = 20\ndef test_accuracy", "def target_removal")
    code += between(analysis, "def accuracy(p_matrix):", "target_remove_accuracy = np.zeros")
    exec(compile(code, "sub_tasks.py", "exec"), scope)
    net = scope["RNN"](scope["Nin"], scope["Nrec"], scope["Nout"], scope["tau_m"])
    for name in ["m_in", "pi_in", "xi_in", "m_rec", "pi_rec", "xi_rec", "m_out", "pi_out", "xi_out"]:
        setattr(net, name, getattr(trained, name).copy())
    scope["net1"] = net  # its test_accuracy runs the global net1
    pi_rec = trained.pi_rec.flatten()
    k = int(important.sum())

    def score(pi):
        net.pi_rec = pi.reshape(trained.pi_rec.shape)
        acc, _ = scope["accuracy"](scope["test_accuracy"](net, scope["batch"], 0.5, scope["tau_m"]))
        return float(acc)

    removed = pi_rec.copy()
    removed[important.flatten()] = 1
    random = pi_rec.copy()
    random[np.random.permutation(pi_rec.size)[:k]] = 1
    return {"acc_intact": score(pi_rec), "acc_removed": score(removed), "acc_random": score(random)}


def bootstrap_mean(x, rng, resamples=10000):
    x = np.asarray(x, float)
    means = rng.choice(x, (resamples, len(x))).mean(axis=1)
    return x.mean(), np.percentile(means, 2.5), np.percentile(means, 97.5)


def ranks(x):
    """Ranks from 1, ties sharing their mean rank."""
    x = np.asarray(x, float)
    out = np.empty(len(x))
    out[x.argsort()] = np.arange(1, len(x) + 1)
    for v in np.unique(x):
        out[x == v] = out[x == v].mean()
    return out


def mann_whitney(a, b):
    """Two-sided U test, normal approximation with the tie correction."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    both = np.concatenate([a, b])
    n1, n2, n = len(a), len(b), len(both)
    u = ranks(both)[:n1].sum() - n1 * (n1 + 1) / 2
    _, counts = np.unique(both, return_counts=True)
    var = n1 * n2 / 12 * ((n + 1) - (counts**3 - counts).sum() / (n * (n - 1)))
    z = (u - n1 * n2 / 2) / math.sqrt(var)
    return u, 2 * (1 - 0.5 * (1 + math.erf(abs(z) / math.sqrt(2))))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("script", help="path to the reference RNN_SaS_cogni.py")
    ap.add_argument("--seeds", type=int, default=20, help="seeds 0..N-1")
    ap.add_argument("--ours", help="ensweep's epochs_run per net, comma-separated")
    ap.add_argument("--removal", metavar="SUB_TASKS_PY", help="also run the removal test")
    ap.add_argument("--ours-removal", help="ensweep's accuracy after removal per net, comma-separated")
    ap.add_argument("--rows", metavar="LOG", help="summarise the JSON lines of an earlier run's "
                    "output instead of training (SCRIPT is then not read)")
    args = ap.parse_args()
    if args.rows:
        text = open(args.rows, errors="replace").read().replace("\r", "\n")
        rows = [json.loads(line) for line in text.splitlines() if line.startswith('{"seed"')]
        analysis = "" if rows and "acc_removed" in rows[0] else None
    else:
        source = open(args.script).read()
        analysis = open(args.removal).read() if args.removal else None
        rows = []
        for seed in range(args.seeds):
            row = run_seed(source, seed, analysis)
            print("\n" + json.dumps(row), flush=True)
            rows.append(row)
    rng = np.random.default_rng(0)
    steps = [r["epochs_run"] for r in rows]
    imp = [r["important_frac"] for r in rows]
    m, lo, hi = bootstrap_mean(steps, rng)
    print(f"reference epochs_run: mean {m:.1f} [{lo:.1f}, {hi:.1f}], "
          f"median {np.median(steps):.0f}, range {min(steps)}-{max(steps)} (n = {len(steps)})")
    m, lo, hi = bootstrap_mean(imp, rng)
    print(f"reference important_frac: mean {100 * m:.2f} % [{100 * lo:.2f}, {100 * hi:.2f}], "
          f"range {100 * min(imp):.2f}-{100 * max(imp):.2f} %")
    if analysis is not None:
        for key in ["acc_intact", "acc_removed", "acc_random"]:
            m, lo, hi = bootstrap_mean([r[key] for r in rows], rng)
            print(f"reference {key}: mean {m:.3f} [{lo:.3f}, {hi:.3f}], "
                  f"range {min(r[key] for r in rows):.3f}-{max(r[key] for r in rows):.3f}")
        rho = np.corrcoef(ranks([r["important_frac"] for r in rows]),
                          ranks([r["acc_removed"] for r in rows]))[0, 1]
        print(f"reference Spearman rho (important_frac, acc_removed): {rho:.2f}")
        near = sum(r["acc_removed"] < 0.6 for r in rows)
        print(f"reference nets below 0.6 after removal: {near} of {len(rows)}")
    if args.ours:
        compare("epochs_run", [float(v) for v in args.ours.split(",")], steps, rng, 1)
    if args.ours_removal and analysis is not None:
        ours = [float(v) for v in args.ours_removal.split(",")]
        compare("acc_removed", ours, [r["acc_removed"] for r in rows], rng, 3)


def compare(name, ours, reference, rng, digits):
    """Difference of means with a bootstrap interval, and the U test."""
    u, p = mann_whitney(ours, reference)
    diffs = [rng.choice(ours, len(ours)).mean() - rng.choice(reference, len(reference)).mean()
             for _ in range(10000)]
    lo, hi = np.percentile(diffs, 2.5), np.percentile(diffs, 97.5)
    print(f"ours - reference, mean {name}: {np.mean(ours) - np.mean(reference):+.{digits}f} "
          f"[{lo:+.{digits}f}, {hi:+.{digits}f}]; Mann-Whitney U = {u:.1f}, p = {p:.3f} "
          f"(n = {len(ours)}, {len(reference)})")


if __name__ == "__main__":
    main()
