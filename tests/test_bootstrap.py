"""Bootstrap samples from one sort: exact against sklearn per resample, paired, chunk-free; CI and tie helpers."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score, roc_curve

from mialth_utils.bench.bootstrap import benchmark
from mialth_utils.evaluation.bootstrap import (FPRS, bootstrap_metrics, fpr_label, percentile_ci, resample_counts,
                                               top_tie_block)
from mialth_utils.evaluation.metrics import fpr_label as metrics_fpr_label
from mialth_utils.evaluation.metrics import tpr_at_fpr

N_BOOT = 40


def _data(kind: str, n_in: int, n_out: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores (members shifted up) with the tie structure named by ``kind``, members in random places."""
    rng = np.random.default_rng(seed)
    member = rng.permutation(np.r_[np.ones(n_in, bool), np.zeros(n_out, bool)])
    scores = rng.normal(size=member.size) + 0.7 * member
    if kind == "rounded":
        scores = np.round(scores, 1)
    elif kind == "binary":
        scores = (scores > 0.3).astype(float)
    elif kind == "top_block":
        scores = np.minimum(scores, np.quantile(scores, 0.8))  # 20% saturated at the top
    return scores, member


def _reference(scores, member, counts_in, counts_out, fprs) -> dict[str, np.ndarray]:
    """sklearn on each resample rebuilt from its counts (np.repeat), as metrics.evaluate computes it."""
    out = {key: [] for key in ["auc"] + [fpr_label(f) for f in fprs]}
    for row_in, row_out in zip(counts_in, counts_out):
        s = np.concatenate([np.repeat(scores[member], row_in), np.repeat(scores[~member], row_out)])
        m = np.r_[np.ones(row_in.sum(), bool), np.zeros(row_out.sum(), bool)]
        fpr, tpr, _ = roc_curve(m.astype(int), s, drop_intermediate=False)
        out["auc"].append(roc_auc_score(m, s))
        for f in fprs:
            out[fpr_label(f)].append(tpr_at_fpr(fpr, tpr, f))
    return {key: np.array(values) for key, values in out.items()}


@pytest.mark.parametrize("kind, n_in, n_out", [("rounded", 50, 70), ("distinct", 130, 70), ("top_block", 160, 140),
                                               ("binary", 23, 31), ("rounded", 150, 150)])
def test_every_resample_equals_sklearn(kind, n_in, n_out):
    scores, member = _data(kind, n_in, n_out, seed=n_in)
    fprs = FPRS + (0.05, 1 / n_out, 0.5)
    fast = bootstrap_metrics(scores, member, N_BOOT, seed=3, fprs=fprs)
    counts = list(resample_counts(n_in, n_out, N_BOOT, seed=3))
    counts_in, counts_out = (np.concatenate([chunk[i] for chunk in counts]) for i in (0, 1))
    reference = _reference(scores, member, counts_in, counts_out, fprs)
    assert set(fast) == set(reference)
    for key in reference:
        assert fast[key].shape == (N_BOOT,)
        mismatches = ~np.isclose(fast[key], reference[key], rtol=0, atol=1e-12)
        assert mismatches.sum() == 0, (key, fast[key][mismatches], reference[key][mismatches])
    assert np.unique(fast["auc"]).size > N_BOOT // 2  # resamples differ


def test_counts_are_the_draws_of_the_old_per_resample_loop():
    member = np.random.default_rng(0).random(89) < 0.4
    positions_in, positions_out = np.flatnonzero(member), np.flatnonzero(~member)
    n_in, n_out, seed = len(positions_in), len(positions_out), 11
    rng = np.random.default_rng(seed)  # the loop of metrics.evaluate, drawing positions
    chunks = list(resample_counts(n_in, n_out, 9, seed, chunk_size=4))
    assert [len(counts_in) for counts_in, _ in chunks] == [4, 4, 1]
    for counts_in, counts_out in chunks:
        for row_in, row_out in zip(counts_in, counts_out):
            drawn_in, drawn_out = rng.choice(positions_in, n_in), rng.choice(positions_out, n_out)
            assert np.array_equal(row_in, np.bincount(np.searchsorted(positions_in, drawn_in), minlength=n_in))
            assert np.array_equal(row_out, np.bincount(np.searchsorted(positions_out, drawn_out), minlength=n_out))


def test_benchmark_ways_agree():
    result = benchmark(n_examples=300, n_boot=20, repeats=1)
    assert result["max_abs_diff"] <= 1e-12
    assert set(result) == {"old_seconds", "new_seconds", "ratio", "max_abs_diff"}


def test_paired_rows_equal_separate_calls():
    scores, member = _data("rounded", 60, 45, seed=1)
    others = [_data(kind, 60, 45, seed=1)[0] for kind in ("distinct", "top_block")]
    matrix = np.stack([scores] + others)
    paired = bootstrap_metrics(matrix, member, N_BOOT, seed=5)
    for k, row in enumerate(matrix):
        single = bootstrap_metrics(row, member, N_BOOT, seed=5)
        for key, values in single.items():
            assert paired[key].shape == (3, N_BOOT)
            assert np.array_equal(paired[key][k], values)
    assert not np.array_equal(paired["auc"][0], paired["auc"][1])


def test_chunking_and_seed():
    scores, member = _data("rounded", 40, 55, seed=2)
    whole = bootstrap_metrics(scores, member, 17, seed=4)
    chunked = bootstrap_metrics(scores, member, 17, seed=4, chunk_bytes=8 * member.size * 3)
    other_seed = bootstrap_metrics(scores, member, 17, seed=5)
    for key in whole:
        assert np.array_equal(whole[key], chunked[key])
    assert not np.array_equal(whole["auc"], other_seed["auc"])


def test_labels_and_bad_inputs():
    assert metrics_fpr_label is fpr_label  # one copy: the metrics module uses the bootstrap's
    assert [fpr_label(f) for f in FPRS] == ["tpr@10%fpr", "tpr@1%fpr", "tpr@0.1%fpr", "tpr@0.01%fpr", "tpr@0%fpr"]
    assert fpr_label(0.01) == "tpr@1%fpr"
    member = np.array([True, False, True, False])
    with pytest.raises(ValueError, match="one class"):
        bootstrap_metrics(np.arange(4.0), np.ones(4, bool), 5)
    with pytest.raises(ValueError, match="NaN"):
        bootstrap_metrics(np.array([0.1, np.nan, 0.3, 0.2]), member, 5)
    with pytest.raises(ValueError, match="shape"):
        bootstrap_metrics(np.arange(5.0), member, 5)


def test_percentile_ci_hand_cases():
    assert percentile_ci(np.arange(101.0)) == (2.5, 97.5)
    assert percentile_ci(np.arange(101.0), level=0.5) == (25.0, 75.0)
    low, high = percentile_ci(np.stack([np.arange(11.0), 10 + np.arange(11.0)]), level=0.8)
    assert np.array_equal(low, [1.0, 11.0]) and np.array_equal(high, [9.0, 19.0])


def test_top_tie_block_hand_cases():
    rng = np.random.default_rng(0)
    distinct = np.linspace(0, 1, 100)
    assert top_tie_block(distinct) == 1
    saturated = np.r_[np.ones(7), distinct[:93] * 0.5]  # 7 scores of 1.0 at the top
    assert top_tie_block(rng.permutation(saturated)) == 7
    starts_inside = np.r_[9.0, 8.0, 8.0, 8.0, 8.0, np.linspace(0, 7, 195)]  # top 1% of 200 = {9, first 8}
    assert top_tie_block(rng.permutation(starts_inside)) == 4
    below = np.r_[9.0, 8.0, np.full(10, 7.0), np.linspace(0, 6, 188)]  # the block of 7s starts at rank 3
    assert top_tie_block(below) == 1
    assert top_tie_block(below, top_frac=0.015) == 10
    assert top_tie_block(np.array([3.0, 2.0, 2.0]), top_frac=0.0) == 1
