#!/usr/bin/env python3
"""Is the 2020 upload's backward pass the exact gradient of its forward pass?

docs/MLP.md ("The backward pass and the reference's two uploads") states that ours is the exact
chain rule of the mean-field forward pass (finite-difference tested in
crates/ensweep-meanfield/src/gradcheck.rs) and that the authors' 2020 upload (`DNN-SAS.py`,
commit 48dbffe of Chan-Li/SAS-model) computes the same expressions. This script is the evidence
for the second half: the upload's hidden-layer error and its three per-parameter gradients are
transcribed below as written there (its `upper_bound` / `lower_bound` / `i_k_func` / `find_aver`
tensor layout included), evaluated on random inputs, and compared with the closed forms of
docs/PAPERS.md 1.3, which our trainer implements.

Needs numpy only. Exit status 1 if any difference exceeds 1e-12 (relative to the largest value).
Run: python3 tests/scripts/check_2020_backward.py
"""
import sys

import numpy as np


# The upload's helpers, verbatim in effect.
def upper_bound(x, count):
    return np.repeat(x, count, axis=1)


def lower_bound(x, count):
    return np.repeat((x.T).reshape(1, x.shape[0] * x.shape[1]), count, axis=0)


def i_k_func(x, count):
    return np.tile(x, count)


def find_aver(x, k):
    n = int(x.shape[1] / k)
    return np.sum(np.split(x, n, axis=1), axis=0) / n


def turn_2_zero(x):
    return (x > 0).astype(float)


def check(seed, batch=7, n_in=6, n_out=5):
    rng = np.random.default_rng(seed)
    pi = rng.uniform(0, 1, (n_out, n_in))
    pi[0, 0], pi[1, 1] = 0.0, 1.0  # a VIP-like and a UIP-like connection
    m = rng.normal(0, 1, (n_out, n_in))
    xi = rng.uniform(0, 0.1, (n_out, n_in))
    xi[0, 0] = 0.0
    a = np.maximum(rng.normal(0, 1, (n_in, batch)), 0)  # ReLU activity of the layer below
    z = rng.normal(0, 1, (n_in, batch))  # its pre-activation, for ReLU'
    delta = rng.normal(0, 1, (n_out, batch))  # error arriving at this layer's z
    eps = rng.normal(0, 1, (n_out, batch))

    v = (1 - pi) * (xi + m * m) - (1 - pi) ** 2 * m * m  # the upload's variance
    va = np.sqrt(v @ (a * a))  # Delta
    var = va + 1e-30
    dact = (z > 0).astype(float)
    n, b = n_in, batch

    # The upload (backprop(), l >= 2 branch and the three nabla lines).
    err_up = ((1 / np.sqrt(n)) * (np.sum((upper_bound(delta, n) * lower_bound(dact, n_out))
              * (i_k_func((1 - pi) * m, b) + upper_bound(eps / var, n) * lower_bound(a, n_out)
                 * i_k_func(v, b)), axis=0)).reshape(b, n)).T
    g_pi_up = (1 / np.sqrt(n)) * find_aver(upper_bound(delta, n) * (i_k_func(-m, b) * lower_bound(a, n_out)
              + upper_bound(turn_2_zero(va) * eps / (2 * var), n) * lower_bound(a * a, n_out)
              * i_k_func(-(xi + m ** 2) - 2 * (pi - 1) * m * m, b)), n)
    g_xi_up = (1 / np.sqrt(n)) * find_aver(upper_bound(turn_2_zero(va) * delta * eps / (2 * var), n)
              * lower_bound(a * a, n_out) * i_k_func(1 - pi, b), n)
    g_m_up = (1 / np.sqrt(n)) * find_aver(upper_bound(delta, n) * (i_k_func(1 - pi, b) * lower_bound(a, n_out)
             + upper_bound(turn_2_zero(va) * eps / var, n) * lower_bound(a * a, n_out)
             * i_k_func((1 - pi) * m - (1 - pi) ** 2 * m, b)), n)

    # The exact forms (docs/PAPERS.md 1.3), as in our trainer.
    mu = (1 - pi) * m
    s = delta * eps / va
    err = dact * (mu.T @ delta + (v.T @ s) * a) / np.sqrt(n)
    g_m = ((delta @ a.T) * (1 - pi) + (s @ (a * a).T) * mu * pi) / np.sqrt(n) / b
    g_xi = ((s @ (a * a).T) * (1 - pi) / 2) / np.sqrt(n) / b
    g_pi = (-(delta @ a.T) * m + (s @ (a * a).T) * (-xi + (1 - 2 * pi) * m * m) / 2) / np.sqrt(n) / b

    worst = 0.0
    for name, up, ex in [("hidden error", err_up, err), ("dC/dpi", g_pi_up, g_pi),
                         ("dC/dXi", g_xi_up, g_xi), ("dC/dm", g_m_up, g_m)]:
        rel = np.abs(up - ex).max() / np.abs(ex).max()
        worst = max(worst, rel)
        print(f"seed {seed}  {name:12s} max |upload - exact| / max |exact| = {rel:.1e}")
    return worst


if __name__ == "__main__":
    worst = max(check(seed) for seed in range(3))
    print("same expressions" if worst < 1e-12 else "DIFFERENT")
    sys.exit(0 if worst < 1e-12 else 1)
