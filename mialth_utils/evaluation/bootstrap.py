"""Bootstrap samples of AUC and TPR at fixed FPR, vectorised over resamples from one sort.

Why: calling sklearn once per resample spends most of its time validating inputs. A resample of
the membership game (members and non-members drawn separately, with replacement) only changes how
many times each example is counted, so it is a row of counts per example. Members and non-members
are sorted once by descending score; for each non-member we also know how many members score above
it and how many tie with it (the block of equal scores it sits in). Per resample, with cumulative
counted members M_k (top k members) and non-members F_k (top k non-members):

- AUC = sum over non-members i of count_i * (M_above(i) + M_at_or_above(i)) / (2 n_in n_out): the
  Mann-Whitney statistic with ties counted 1/2, which equals the trapezoid over the step ROC and
  sklearn ``roc_auc_score``. The numerator is an exact integer, divided once.
- TPR at FPR f = the highest TPR among the points of sklearn ``roc_curve(drop_intermediate=False)``
  with FPR <= f + 1e-12, (0, 0) included (as ``metrics.tpr_at_fpr``). If p is the first non-member
  (descending) whose count lifts F above the most that FPR f allows, the allowed points are the
  thresholds strictly above its score, and the best of them counts the members scoring above it:
  M_above(p) (all members when no non-member exceeds). p is found by one ``searchsorted`` per chunk.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np

FPRS = (0.1, 0.01, 0.001, 0.0001, 0.0)
CHUNK_BYTES = 1_000_000  # bytes of one (resamples x examples) int64 array per chunk: stays in cache


def fpr_label(fpr: float) -> str:
    """Column name of the TPR at FPR ``fpr``, e.g. ``tpr@1%fpr`` (the same as ``metrics.fpr_label``)."""
    return f"tpr@{fpr * 100:g}%fpr"


def resample_counts(n_in: int, n_out: int, n_boot: int, seed: int = 0,
                    chunk_size: int | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (counts_in (b, n_in), counts_out (b, n_out)) int64 for ``n_boot`` resamples, b <= chunk_size.

    Row r says how often each member / non-member (in their order in the data) is drawn into
    resample r. The draws are those of ``rng.choice(n, n)`` for the members, then the non-members,
    resample after resample, so they do not depend on ``chunk_size`` and equal the index draws of
    the per-resample loop in ``metrics.evaluate`` with the same seed.
    """
    rng = np.random.default_rng(seed)
    chunk_size = max(1, chunk_size or n_boot)
    for start in range(0, n_boot, chunk_size):
        size = min(chunk_size, n_boot - start)
        counts_in, counts_out = np.empty((size, n_in), np.int64), np.empty((size, n_out), np.int64)
        for row in range(size):
            counts_in[row] = np.bincount(rng.integers(0, n_in, n_in), minlength=n_in)
            counts_out[row] = np.bincount(rng.integers(0, n_out, n_out), minlength=n_out)
        yield counts_in, counts_out


def _check(scores: np.ndarray, member: np.ndarray) -> None:
    if scores.shape[-1:] != member.shape:
        raise ValueError(f"scores shape {scores.shape} does not end in membership shape {member.shape}")
    if not np.isfinite(scores).all():
        raise ValueError("scores contain NaN or inf: check the attack's inputs")
    if member.all() or not member.any():
        raise ValueError("the evaluated set has only one class (all members or all non-members)")


def _ranks(scores: np.ndarray, member: np.ndarray) -> tuple[np.ndarray, ...]:
    """Sort members and non-members once by descending score. For each non-member in that order:
    how many members score above it and at or above it (the two differ by the members tied with it)."""
    scores_in, scores_out = scores[member], scores[~member]
    order_in, order_out = np.argsort(-scores_in, kind="stable"), np.argsort(-scores_out, kind="stable")
    ascending_in, descending_out = scores_in[order_in[::-1]], scores_out[order_out]
    above = scores_in.size - np.searchsorted(ascending_in, descending_out, side="right")
    at_or_above = scores_in.size - np.searchsorted(ascending_in, descending_out, side="left")
    return order_in, order_out, above, at_or_above


def _workspace(size: int, n_in: int, n_out: int) -> dict[str, np.ndarray]:
    """Arrays reused by every chunk and score vector: fresh large arrays per chunk would cost more in
    page faults than the arithmetic. Column 0 of the cumulative counts is the ROC's (0, 0) point."""
    return {"members": np.zeros((size, n_in + 1), np.int64), "non_members": np.zeros((size, n_out + 1), np.int64),
            "pairs": np.empty((size, n_out), np.int64), "ties": np.empty((size, n_out), np.int64)}


def _chunk_metrics(ranks: tuple, counts_in: np.ndarray, counts_out: np.ndarray, fprs, work: dict) -> dict:
    """AUC and TPR at each FPR of one score vector over a chunk of resamples (see the module docstring)."""
    order_in, order_out, above, at_or_above = ranks
    size, n_in = counts_in.shape
    n_out = counts_out.shape[1]
    members, non_members = work["members"][:size], work["non_members"][:size]
    pairs, ties = work["pairs"][:size], work["ties"][:size]
    np.take(counts_in, order_in, axis=1, out=members[:, 1:], mode="clip")
    np.cumsum(members[:, 1:], axis=1, out=members[:, 1:])  # members[:, k]: counted among the top k members
    weights = non_members[:, 1:]
    non_members[:, 0] = 0
    np.take(counts_out, order_out, axis=1, out=weights, mode="clip")
    np.take(members, above, axis=1, out=pairs, mode="clip")
    np.take(members, at_or_above, axis=1, out=ties, mode="clip")
    pairs += ties  # 2 x (members above) + (members tied), per non-member
    out = {"auc": np.einsum("ij,ij->i", weights, pairs) / (2 * n_in * n_out)}
    np.cumsum(weights, axis=1, out=weights)  # non_members[:, k]: counted among the top k non-members
    offsets = np.arange(size) * (n_out + 1)
    non_members += offsets[:, None]  # rows made disjoint so one searchsorted serves every resample
    flat, rows = non_members.ravel(), np.arange(size)
    above_all, allowed_fpr = np.append(above, n_in), np.arange(n_out + 1) / n_out
    for f in fprs:
        most = np.count_nonzero(allowed_fpr <= f + 1e-12) - 1  # most non-members a point may count
        first_excess = np.searchsorted(flat, offsets + most, side="right") - offsets - 1
        out[fpr_label(f)] = members[rows, above_all[first_excess]] / n_in
    return out


def bootstrap_metrics(scores: np.ndarray, member: np.ndarray, n_boot: int, seed: int = 0, fprs=FPRS, *,
                      chunk_bytes: int = CHUNK_BYTES) -> dict[str, np.ndarray]:
    """Bootstrap samples of "auc" and each ``fpr_label(f)`` of ``scores`` against ``member`` (N,) bool.

    ``scores`` (N,) gives arrays (n_boot,); (K, N) gives (K, n_boot), every score vector evaluated on
    the same resamples (paired: row k equals a call with ``scores[k]`` and the same seed). Members and
    non-members are resampled separately (``resample_counts``), in chunks of resamples small enough
    that one (resamples x N) array stays under ``chunk_bytes``.
    """
    scores, member = np.asarray(scores, float), np.asarray(member, bool)
    matrix = np.atleast_2d(scores)
    _check(matrix, member)
    n_in, n_out = int(member.sum()), int((~member).sum())
    ranks = [_ranks(row, member) for row in matrix]
    out = {key: np.empty((len(matrix), n_boot)) for key in ["auc"] + [fpr_label(f) for f in fprs]}
    chunk_size = int(np.clip(chunk_bytes // (8 * member.size), 1, max(n_boot, 1)))
    work, start = _workspace(chunk_size, n_in, n_out), 0
    for counts_in, counts_out in resample_counts(n_in, n_out, n_boot, seed, chunk_size):
        stop = start + len(counts_in)
        for k, row_ranks in enumerate(ranks):
            for key, values in _chunk_metrics(row_ranks, counts_in, counts_out, fprs, work).items():
                out[key][k, start:stop] = values
        start = stop
    return out if scores.ndim == 2 else {key: values[0] for key, values in out.items()}


def percentile_ci(samples: np.ndarray, level: float = 0.95) -> tuple:
    """Percentile interval (low, high) holding ``level`` of ``samples`` along the last axis."""
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(samples, np.round([tail, 100 - tail], 10), axis=-1)
    return low, high


def top_tie_block(scores: np.ndarray, top_frac: float = 0.01) -> int:
    """Size of the largest block of exactly equal scores that reaches into the top ``top_frac`` of the
    scores (at least one example), counted whole. Large values flag saturated scores (e.g. float32
    probabilities of 1.0), which erase the resolution of TPR at low FPR."""
    scores = np.asarray(scores, float).ravel()
    n_top = max(1, int(np.floor(top_frac * scores.size + 1e-9)))
    _, sizes = np.unique(-scores, return_counts=True)  # blocks in descending score order
    starts = np.cumsum(sizes) - sizes
    return int(sizes[starts < n_top].max())
