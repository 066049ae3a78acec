"""Reference values for crates/ensweep-results/src/diversity/dsa.rs (DSA, Ostrow et al. 2023).

Computes DSA distances with the reference implementation, mitchellostrow/DSA (package
`dsa-metric`, version 2.0.0 at commit 8cbddcf), for fixed small inputs and writes inputs and
results to crates/ensweep-results/tests/data/dsa_reference.json, which the Rust test
`dsa::tests::matches_the_reference_package` reads.

Run (CPU is enough; the JSON in the repository was produced this way):
    python3 -m venv /tmp/dsa-venv
    /tmp/dsa-venv/bin/pip install "numpy<2" torch pot
    git clone https://github.com/mitchellostrow/DSA /tmp/DSA   # any copy of the package source
    /tmp/dsa-venv/bin/python tests/scripts/dsa_reference.py /tmp/DSA

The package's DMD (HAVOK, `DMD.A_v`) and SimilarityTransformDist (Adam on a Cayley
parametrisation of O(n), iters 1500, lr 5e-3: the DSA class defaults) are used directly, as the
DSA class composes them, with lamb = 0 (the DSA class default).
"""
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(sys.argv[1]) / "DSA"))
from dmd import DMD  # noqa: E402  (the package's modules, imported without its heavy __init__)
from simdist import SimilarityTransformDist  # noqa: E402

OUT = Path(__file__).resolve().parents[2] / "crates/ensweep-results/tests/data/dsa_reference.json"
TRIALS, STEPS, UNITS = 4, 24, 3
rng = np.random.default_rng(2024)


def rotation(theta, axis):
    c, s = np.cos(theta), np.sin(theta)
    m = np.eye(3)
    i, j = [k for k in range(3) if k != axis]
    m[i, i], m[i, j], m[j, i], m[j, j] = c, -s, s, c
    return m


def simulate(step, noise):
    """Trials of x_{t+1} = step(x_t) from random starts, plus fixed observation noise."""
    out = np.zeros((TRIALS, STEPS, UNITS))
    for k in range(TRIALS):
        x = rng.normal(size=UNITS)
        for t in range(STEPS):
            out[k, t] = x
            x = step(x)
    return out + noise * rng.normal(size=out.shape)


def linear(m, noise):
    return simulate(lambda x: m @ x, noise)


def tanh_rnn(w, noise):
    return simulate(lambda x: np.tanh(w @ x), noise)


spiral = 0.95 * rotation(0.4, 2)
q = rotation(1.1, 0) @ rotation(-0.7, 1)  # orthogonal change of coordinates
systems = {}
systems["spiral"] = linear(spiral, 0.01)
systems["spiral_rotated"] = systems["spiral"] @ q.T  # same trajectories seen through q
systems["decay"] = linear(np.diag([0.9, 0.5, -0.3]) @ rotation(0.2, 1), 0.01)
# Noise keeps every embedding well conditioned: the package fits in float32, whose rounding
# would otherwise dominate the smallest kept singular directions.
systems["tanh"] = tanh_rnn(1.5 * rng.normal(size=(UNITS, UNITS)) / np.sqrt(UNITS), 0.01)
systems["spiral_again"] = linear(spiral, 0.01)  # same system, other trials and noise
# The JSON stores 12 decimals; compute from exactly what is stored.
systems = {k: np.round(v, 12) for k, v in systems.items()}

CONFIGS = [
    {"n_delays": 2, "delay_interval": 1, "rank": 4},
    {"n_delays": 3, "delay_interval": 2, "rank": 5},
]
PAIRS = [
    ("spiral", "spiral_rotated"),
    ("spiral", "spiral_again"),
    ("spiral", "decay"),
    ("spiral", "tanh"),
    ("decay", "tanh"),
]


def fit(data, cfg):
    d = DMD(data, n_delays=cfg["n_delays"], delay_interval=cfg["delay_interval"],
            rank=cfg["rank"], lamb=0)
    d.fit()
    return d.A_v.detach().double().numpy()


def scores(a, b):
    """One optimisation of C (the package's fit), then both of its scores at that C."""
    torch.manual_seed(0)
    sim = SimilarityTransformDist(iters=1500, score_method="euclidean", lr=5e-3)
    sim.fit(torch.from_numpy(a).float(), torch.from_numpy(b).float())
    return float(sim.score(score_method="angular")), float(sim.score(score_method="euclidean"))


results = []
for cfg in CONFIGS:
    fits = {name: fit(data, cfg) for name, data in systems.items()}
    for x, y in PAIRS:
        angular, euclidean = scores(fits[x], fits[y])
        results.append({
            **cfg, "x": x, "y": y,
            "angular": angular,
            "euclidean": euclidean,
            "norm_x": float(np.linalg.norm(fits[x])),
        })
        print(results[-1])

OUT.parent.mkdir(parents=True, exist_ok=True)
OUT.write_text(json.dumps({
    "source": "tests/scripts/dsa_reference.py with mitchellostrow/DSA 2.0.0 (8cbddcf), torch "
              + torch.__version__ + ", numpy " + np.__version__,
    "shape": [TRIALS, STEPS, UNITS],
    "systems": {k: v.ravel().tolist() for k, v in systems.items()},
    "results": results,
}, indent=1) + "\n")
print("wrote", OUT)
