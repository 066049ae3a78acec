#!/usr/bin/env python3
"""Paired training-throughput benchmark: ensweep's tanh RNN against PyTorch on one CPU thread.

Both sides train the same network on the same shapes with the same optimiser:
  h_t = tanh(W_in x_t + W_rec h_{t-1}), y_t = W_out h_t + c   (no recurrent bias, read-out bias)
  2 inputs, 1 output, T = 210 steps (the Jarne & Laje AND task of
  experiments/jarne_laje_and_damage.toml), batch 64, Adam lr 1e-4, mean squared error,
  forward + back-propagation through time + Adam step per batch.

ensweep's side is `ensweep train experiments/jarne_laje_and_damage.toml --set n_hidden=N ...
--json` (its `sequences_per_s`: training only, evaluation excluded). PyTorch's side is
`torch.nn.RNN(nonlinearity="tanh", bias=False)` plus `torch.nn.Linear`, with
`torch.set_num_threads(1)`, timed over whole epochs of the same number of sequences on random
inputs of the task's shape (the throughput does not depend on the values). The two alternate
`--repeats` times so that both see the same machine load; the script prints every run, the
medians and their ratio.

Usage (CI does not run this; it needs `pip install torch`):
  cargo build --release --bin ensweep
  python3 tests/scripts/tanh_vs_torch.py --ensweep target/release/ensweep --hidden 128
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import time


def ensweep_run(binary, hidden, trials, epochs):
    cmd = [
        binary, "train", "experiments/jarne_laje_and_damage.toml", "--json",
        "--set", f"n_hidden={hidden}",
        "--set", f"train_trials={trials}",
        "--set", f"epochs={epochs}",
        "--set", "loss_threshold=0.0",
        "--set", "eval.prune_fractions=[0.0]",
        "--set", "eval.random_repeats=0",
        "--set", "eval.test_trials=16",
        "--set", "eval.probe_trials=2",
    ]
    env = dict(os.environ, RAYON_NUM_THREADS="1")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    doc = json.loads(out.strip().splitlines()[-1])
    return doc["output"]["scalars"]["sequences_per_s"], doc["trainer_version"]


def torch_run(hidden, trials, epochs, steps=210, batch=64):
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    rnn = torch.nn.RNN(2, hidden, nonlinearity="tanh", bias=False)
    out = torch.nn.Linear(hidden, 1)
    params = list(rnn.parameters()) + list(out.parameters())
    opt = torch.optim.Adam(params, lr=1e-4)
    x = torch.randn(steps, trials, 2)
    y = torch.randn(steps, trials, 1)
    start = time.perf_counter()
    for _ in range(epochs):
        for b0 in range(0, trials, batch):
            xb, yb = x[:, b0:b0 + batch], y[:, b0:b0 + batch]
            opt.zero_grad(set_to_none=True)
            h, _ = rnn(xb)
            loss = torch.nn.functional.mse_loss(out(h), yb)
            loss.backward()
            opt.step()
    return trials * epochs / (time.perf_counter() - start), torch.__version__


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ensweep", default="target/release/ensweep")
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--trials", type=int, default=3200)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    ours, theirs = [], []
    version = torch_version = None
    for r in range(a.repeats):
        v, version = ensweep_run(a.ensweep, a.hidden, a.trials, a.epochs)
        ours.append(v)
        t, torch_version = torch_run(a.hidden, a.trials, a.epochs)
        theirs.append(t)
        print(f"repeat {r}: ensweep {v:8.0f} seq/s   torch {t:8.0f} seq/s", flush=True)
    mo, mt = statistics.median(ours), statistics.median(theirs)
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print(f"hidden {a.hidden}, batch 64, T 210, one thread; {a.trials} trials x {a.epochs} epochs per run")
    print(f"ensweep ({version}): median {mo:.0f} seq/s; torch {torch_version}: median {mt:.0f} seq/s")
    print(f"ratio ensweep / torch: {mo / mt:.2f}   (cpu: {cpu}; load average at end {load})")


if __name__ == "__main__":
    main()
