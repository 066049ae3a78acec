#!/usr/bin/env python3
"""The Jarne & Laje time-pulse recipe in PyTorch: an independent framework's learning curve for
one net of the size sweep, to compare with ensweep's (docs/REPRODUCTIONS.md 3.3).

Why: in ensweep's size sweep (experiments/jarne_laje_size.toml) the nets of N >= 450 learn the
task within a few epochs and then diverge late in their 20 epochs (training MSE from ~0.0011 to
0.016-0.018), where the reference's size curve stays low at N = 450. If a second, independent
implementation of the same recipe diverges too, the recipe (Adam without clipping at large N) is
the cause; if it does not, ensweep's trainer differs somewhere.

The recipe, as the reference's Keras code and saved models give it (docs/RNN.md "Jarne & Laje
recipe"): h_t = tanh(W_in x_t + W_rec h_{t-1}) (no recurrent bias), y_t = W_out h_t + c;
recurrent matrix orthogonal (gain 1), input and read-out kernels Glorot-uniform, read-out bias
0; Adam lr 1e-4 (beta 0.9 / 0.999, eps 1e-8) with Keras time decay lr / (1 + 1e-4 k) per update
k; batch 64 over 15,000 trials (one fixed data set, shuffled every epoch); mean squared error over
the whole trial; at most 20 epochs, stop once an epoch's mean training loss is below 1e-3. Trials:
the reference generator (generate_data_set_time_pulse.py): a Hann(10)-smoothed 20 ms pulse of
amplitude 0 or 1 at 50-70 ms, target 0.045 with a 20 ms bump (box convolved with 0.055 x a
gaussian of 20 samples, std 12) from 70 + interval ms, noise 0.03 on input and target, 300 steps.

Prints one line per epoch (loss, seconds) and a JSON summary line. CI does not run this; it
needs `pip install numpy torch` (scipy's two windows are re-implemented here):
  python3 tests/scripts/pulse_size_torch.py --hidden 450 --seed 0
"""

import argparse
import json
import math
import time

import numpy as np


def gaussian(m, std):
    """scipy.signal.gaussian(m, std): a symmetric window of m samples."""
    n = np.arange(m) - (m - 1) / 2.0
    return np.exp(-0.5 * (n / std) ** 2)


def hann(m):
    """scipy.signal.hann(m) (symmetric)."""
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(m) / (m - 1))


def trials(size, interval, rng):
    first_in, stim_dur, noise, out_gap = 50, 20, 0.03, 230
    seq = first_in + stim_dur + out_gap
    out_t = interval + first_in + stim_dur
    kinds = rng.integers(2, size=size)
    x = np.zeros((size, seq, 1))
    y = 0.045 * np.ones((size, seq, 1))
    win = hann(10)
    bump = np.convolve(np.ones(stim_dur), 0.055 * gaussian(stim_dur, 12), mode="same")
    for i, k in enumerate(kinds):
        pulse = np.full(stim_dur, float(k))
        x[i, first_in:first_in + stim_dur, 0] = np.convolve(pulse, win, mode="same") / win.sum()
        if k == 1:
            y[i, out_t:out_t + stim_dur, 0] = bump
    x += noise * rng.standard_normal(x.shape)
    y += noise * rng.standard_normal(y.shape)
    return x.astype(np.float32), y.astype(np.float32)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hidden", type=int, default=450)
    ap.add_argument("--interval", type=int, default=150)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--trials", type=int, default=15000)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()

    import torch

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    x, y = trials(a.trials, a.interval, rng)
    x, y = torch.from_numpy(x).transpose(0, 1), torch.from_numpy(y).transpose(0, 1)

    rnn = torch.nn.RNN(1, a.hidden, nonlinearity="tanh", bias=False)
    out = torch.nn.Linear(a.hidden, 1)
    with torch.no_grad():
        torch.nn.init.orthogonal_(rnn.weight_hh_l0)
        torch.nn.init.xavier_uniform_(rnn.weight_ih_l0)
        torch.nn.init.xavier_uniform_(out.weight)
        out.bias.zero_()
    params = list(rnn.parameters()) + list(out.parameters())
    opt = torch.optim.Adam(params, lr=1e-4, betas=(0.9, 0.999), eps=1e-8)
    decay = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 1.0 / (1.0 + 1e-4 * k))

    curve = []
    start = time.time()
    for epoch in range(a.epochs):
        order = torch.from_numpy(rng.permutation(a.trials))
        losses = []
        for b in range(math.ceil(a.trials / 64)):
            idx = order[b * 64:(b + 1) * 64]
            h, _ = rnn(x[:, idx])
            loss = torch.mean((out(h) - y[:, idx]) ** 2)
            opt.zero_grad()
            loss.backward()
            opt.step()
            decay.step()
            losses.append(loss.item())
        mean = float(np.mean(losses))
        curve.append(mean)
        print(f"epoch {epoch} loss {mean:.6f} max batch {max(losses):.6f} "
              f"{time.time() - start:.0f} s", flush=True)
        if mean < 1e-3:
            break
    with torch.no_grad():
        radius = float(torch.linalg.eigvals(rnn.weight_hh_l0).abs().max())
    print(json.dumps({"hidden": a.hidden, "interval": a.interval, "seed": a.seed,
                      "epoch_losses": curve, "spectral_radius": radius,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
