"""Reference values for crates/ensweep-results/src/stats tests.

Run:  python3 tests/scripts/stats_reference.py
Computed with scipy 1.17.1, numpy 2.4.6, statsmodels (multipletests); the printed values are
pasted into the Rust tests, which name this script beside them.
"""
import numpy as np
import scipy
from scipy import stats, special
from statsmodels.stats.multitest import multipletests

A = [0.81, 0.84, 0.79, 0.90, 0.86, 0.83, 0.88, 0.80, 0.85, 0.87]
B = [0.78, 0.80, 0.82, 0.77, 0.79, 0.81, 0.76, 0.83, 0.80, 0.79, 0.75, 0.84]
# paired by seed, distinct non-zero differences (exact Wilcoxon applies)
PX = [1.83, 2.10, 1.95, 2.40, 2.02, 1.77, 2.21, 2.05]
PY = [1.70, 2.15, 1.80, 2.01, 1.99, 1.79, 1.90, 1.86]
# paired with ties and a zero difference (normal approximation)
QX = [3.0, 2.5, 4.0, 3.5, 2.0, 5.0, 3.0, 4.5, 2.5, 3.0, 4.0, 3.5]
QY = [2.0, 2.5, 3.0, 2.5, 2.5, 4.0, 2.0, 3.5, 2.0, 2.0, 3.5, 4.0]
PVALS = [0.01, 0.04, 0.03, 0.20, 0.002, 0.049]
SKEW = [0.2, 0.5, 0.3, 1.9, 0.4, 0.25, 3.1, 0.6, 0.35, 0.8, 0.45, 1.2, 0.28, 0.52, 0.9]

print("scipy", scipy.__version__, "numpy", np.__version__)
t = stats.ttest_ind(A, B, equal_var=False)
print("welch t", repr(t.statistic), "p", repr(t.pvalue), "df", repr(t.df))
u = stats.mannwhitneyu(A, B, alternative="two-sided", method="asymptotic", use_continuity=True)
print("mwu U1", repr(u.statistic), "p", repr(u.pvalue))
u2 = stats.mannwhitneyu(A, B, alternative="two-sided", method="asymptotic", use_continuity=False)
print("mwu nocc p", repr(u2.pvalue))
n1, n2 = len(A), len(B)
print("cliff delta", repr(2 * u.statistic / (n1 * n2) - 1), "prob improvement", repr(u.statistic / (n1 * n2)))
w = stats.wilcoxon(PX, PY, method="exact")
print("wilcoxon exact W", repr(w.statistic), "p", repr(w.pvalue))
w = stats.wilcoxon(QX, QY, zero_method="wilcox", correction=False, method="approx")
print("wilcoxon approx W", repr(w.statistic), "p", repr(w.pvalue))
w = stats.wilcoxon(QX, QY, zero_method="wilcox", correction=True, method="approx")
print("wilcoxon approx cc p", repr(w.pvalue))
# Hedges' g with the exact small-sample correction J(df) = Gamma(df/2) / (sqrt(df/2) Gamma((df-1)/2))
a, b = np.array(A), np.array(B)
df = n1 + n2 - 2
sp = np.sqrt(((n1 - 1) * a.var(ddof=1) + (n2 - 1) * b.var(ddof=1)) / df)
d = (a.mean() - b.mean()) / sp
J = np.exp(special.gammaln(df / 2) - special.gammaln((df - 1) / 2)) / np.sqrt(df / 2)
print("cohen d", repr(d), "hedges g", repr(d * J))
print("iqm A", repr(stats.trim_mean(A, 0.25)), "iqm SKEW", repr(stats.trim_mean(SKEW, 0.25)))
print("holm", [repr(x) for x in multipletests(PVALS, method="holm")[1]])
print("bh", [repr(x) for x in stats.false_discovery_control(PVALS, method="bh")])
for method in ["percentile", "BCa"]:
    r = stats.bootstrap((SKEW,), np.mean, n_resamples=200000, method=method, confidence_level=0.95,
                        rng=np.random.default_rng(1))
    print("bootstrap", method, repr(r.confidence_interval.low), repr(r.confidence_interval.high))
