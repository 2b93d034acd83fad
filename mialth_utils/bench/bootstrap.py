"""Time bootstrap CIs the old way (sklearn once per resample) against ``evaluation.bootstrap``.

Both ways draw the same resamples (the per-resample ``rng.choice`` loop of ``metrics.evaluate``
equals ``bootstrap.resample_counts`` with the same seed), so their values must agree to 1e-12.
Run: ``python -m mialth_utils.bench_bootstrap``.
"""
from __future__ import annotations

import logging
import time

import numpy as np
from sklearn.metrics import roc_auc_score

from ..evaluation.bootstrap import FPRS, bootstrap_metrics, fpr_label
from ..evaluation.metrics import roc, tpr_at_fpr

log = logging.getLogger(__name__)


def _old_bootstrap(scores: np.ndarray, member: np.ndarray, n_boot: int, seed: int) -> dict[str, np.ndarray]:
    """The per-resample loop of ``metrics.evaluate``: index draws, then sklearn's ROC and AUC."""
    rng = np.random.default_rng(seed)
    positions_in, positions_out = np.flatnonzero(member), np.flatnonzero(~member)
    boot = {key: [] for key in ["auc"] + [fpr_label(f) for f in FPRS]}
    for _ in range(n_boot):
        b = np.concatenate([rng.choice(positions_in, len(positions_in)), rng.choice(positions_out, len(positions_out))])
        fpr, tpr, _ = roc(scores[b], member[b])
        boot["auc"].append(roc_auc_score(member[b], scores[b]))
        for f in FPRS:
            boot[fpr_label(f)].append(tpr_at_fpr(fpr, tpr, f))
    return {key: np.array(values) for key, values in boot.items()}


def benchmark(n_examples: int = 4000, n_boot: int = 200, seed: int = 0, repeats: int = 3) -> dict:
    """Seconds of both ways (the best of ``repeats`` runs each, alternating, as the machine may be
    shared) on one balanced synthetic game of ``n_examples`` scores rounded to 3 decimals (so ties
    occur), their ratio, and the largest difference over every resample and metric."""
    rng = np.random.default_rng(seed)
    member = rng.permutation(np.arange(n_examples) < n_examples // 2)
    scores = np.round(rng.normal(size=n_examples) + 0.5 * member, 3)
    old_seconds = new_seconds = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        old = _old_bootstrap(scores, member, n_boot, seed)
        old_seconds = min(old_seconds, time.perf_counter() - start)
        start = time.perf_counter()
        new = bootstrap_metrics(scores, member, n_boot, seed=seed)
        new_seconds = min(new_seconds, time.perf_counter() - start)
    max_abs_diff = max(float(np.max(np.abs(old[key] - new[key]))) for key in old)
    result = {"old_seconds": old_seconds, "new_seconds": new_seconds, "ratio": old_seconds / new_seconds,
              "max_abs_diff": max_abs_diff}
    log.info("bootstrap of %d examples x %d resamples: old %.3f s, new %.4f s, %.0fx faster, max |diff| %.1e",
             n_examples, n_boot, old_seconds, new_seconds, result["ratio"], max_abs_diff)
    return result


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    benchmark()
