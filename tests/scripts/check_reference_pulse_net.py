#!/usr/bin/env python3
"""The reference's trained time-pulse net under the reference's own test protocol.

Why: our time-pulse distances lie ~0.4 below Jarne & Laje's curves (docs/REPRODUCTIONS.md 3.3).
The one trained time-pulse net the reference repository ships lets us measure where its level
comes from, with the reference's generator and distance (docs/PAPERS.md 3a.4):

* generator `code_paper_rep/generate_data_set_time_pulse.py`: seed(2), 15,050 trials of 300
  steps, Hann(10)-smoothed 20-step input pulse at step 50 (amplitude 0 or 1), target bump
  0.055 x gaussian(20, 12) starting mem_gap steps after the pulse, baseline 0.045, noise std
  0.03 added to input and target;
* distance `binary_pulse_recurrent_main_to_loop.py`: the first 50 trials held out, the first 10
  of them scored, ||y_noisy_target - y_out||_2 over the whole trial, averaged.

Usage (numpy, h5py):
  git clone https://github.com/katejarne/RNN_study_with_keras   # commit c4f1888
  python3 tests/scripts/check_reference_pulse_net.py \
    RNN_study_with_keras/code_paper_rep/Networks_and_files/networks/time/pulse_orto_#03/pulse_weights-19.hdf5

Prints the net's read-out bias, its optimiser's update count, its mean output error against
a 0.045 and a 0.01 baseline, and its distance under the published protocol and variants.
"""
import sys

import h5py
import numpy as np


def hann(m):
    n = np.arange(m)
    return 0.5 - 0.5 * np.cos(2 * np.pi * n / (m - 1))


def gaussian(m, std):
    n = np.arange(m) - (m - 1) / 2
    return np.exp(-0.5 * (n / std) ** 2)


def trials(size, mem_gap, baseline=0.045, noise=0.03, seed=2, first_in=50, steps=300):
    """The reference generator (same draws in the same order): inputs, noisy and clean targets."""
    np.random.seed(seed)
    stim = 20
    win = hann(10)
    out_t = mem_gap + first_in + stim
    kind = np.random.randint(2, size=size)
    x = np.zeros((size, steps))
    y = baseline * np.ones((size, steps))
    for i in range(size):
        pulse = np.full(stim, kind[i] * 1.0)
        x[i, first_in:first_in + stim] = np.convolve(pulse, win, "same") / win.sum()
        y[i, out_t:out_t + stim] = np.convolve(pulse, 0.055 * gaussian(stim, 12), "same")
    clean = y.copy()
    x = x + noise * np.random.randn(size, steps)
    y = y + noise * np.random.randn(size, steps)
    return x, y, clean


def find(group, prefix):
    """The weights group of the first layer whose name starts with `prefix`."""
    name = next(k for k in group.keys() if k.startswith(prefix))
    inner = group[name]
    return inner[next(iter(inner.keys()))] if name in inner else inner


def main(path):
    f = h5py.File(path, "r")
    weights = f["model_weights"]
    rnn = find(weights, "simple_rnn")
    dense = find(weights, "dense")
    w_in, w_rec = rnn["kernel:0"][()], rnn["recurrent_kernel:0"][()]
    w_out, b_out = dense["kernel:0"][()], dense["bias:0"][()]
    has_rec_bias = "bias:0" in rnn
    n = w_rec.shape[0]

    def run(x):
        h = np.zeros((x.shape[0], n))
        out = np.zeros(x.shape)
        for t in range(x.shape[1]):
            pre = x[:, t:t + 1] @ w_in + h @ w_rec
            if has_rec_bias:
                pre = pre + rnn["bias:0"][()]
            h = np.tanh(pre)
            out[:, t] = (h @ w_out)[:, 0] + b_out[0]
        return out

    iters = [
        v[()] for k, v in f.get("optimizer_weights", {}).items()
        for v in ([v] if isinstance(v, h5py.Dataset) else v.values())
        if isinstance(v, h5py.Dataset) and "iterations" in v.name
    ]
    print(f"units {n}, recurrent bias {has_rec_bias}, read-out bias {b_out[0]:.4f}, "
          f"optimiser updates {iters[0] if iters else 'not stored'}")

    x, y, clean = trials(15050, 20)
    out = run(x[:50])
    for base in (0.045, 0.01):
        _, _, c = trials(15050, 20, baseline=base)
        print(f"mean error against a {base} baseline target: {np.mean(out - c[:50]):+.4f}")
    rows = [("published generator (baseline 0.045, noise 0.03)", {}),
            ("same, baseline 0.01", {"baseline": 0.01})]
    print(f"{'test target':52s} distance  floor (a perfect net)")
    for label, kw in rows:
        x, y, clean = trials(15050, 20, **kw)
        out = run(x[:50])
        d = np.linalg.norm(y[:10] - out[:10], axis=1).mean()
        floor = np.linalg.norm(y[:10] - clean[:10], axis=1).mean()
        print(f"{label:52s} {d:8.3f}  {floor:.3f}")
    x, y, clean = trials(15050, 20)
    print(f"constant output 0.045: {np.linalg.norm(y[:10] - 0.045, axis=1).mean():.3f}; "
          f"constant 0.01: {np.linalg.norm(y[:10] - 0.01, axis=1).mean():.3f}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
