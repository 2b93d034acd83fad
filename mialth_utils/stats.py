"""The statistics every verdict and figure shares, one copy each: the 95% t-interval across seeds, the
two-level (seeds, examples) bootstrap and its percentile interval, least-squares slopes, the interval
decisions (sign, non-inferiority, equivalence by two one-sided bounds) and Holm's multiplicity rule.

scipy gives the t quantiles and standard errors, statsmodels Holm's adjustment; the formulas here are
written out only where the result must stay bitwise what the committed tables hold (``seed_interval``).
"""
from __future__ import annotations

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
VERDICTS = ("supported", "contradicted", "inconclusive")
SUPPORTED, CONTRADICTED, INCONCLUSIVE = VERDICTS


def seed_interval(values, confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """Mean and t-interval across seeds of a per-seed statistic (NaN and inf dropped); NaN bounds for
    fewer than 2 seeds, the mean itself for both bounds when every seed agrees."""
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return np.nan, np.nan, np.nan
    mean = float(values.mean())
    if len(values) < 2:
        return mean, np.nan, np.nan
    half = stats.t.ppf(0.5 + confidence / 2, len(values) - 1) * stats.sem(values)
    return mean, float(mean - half), float(mean + half)


def hierarchical_samples(per_seed: list[np.ndarray], seed: int = 0) -> np.ndarray:
    """Two-level bootstrap: sample b = mean over seeds drawn with replacement of their b-th resample.

    ``per_seed[i]`` holds a statistic over B example resamples of training seed i; percentiles of
    the result cover both example resampling and the choice of training seeds.
    """
    stack = np.stack([np.asarray(values, float) for values in per_seed])  # (S, B)
    n_seeds, n_boot = stack.shape
    picks = np.random.default_rng(seed).integers(0, n_seeds, size=(n_boot, n_seeds))
    return stack[picks, np.arange(n_boot)[:, None]].mean(axis=1)


def percentile_interval(samples, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Central percentile interval, ignoring NaN resamples."""
    samples = np.asarray(samples, float)
    if not np.isfinite(samples).any():
        return np.nan, np.nan
    low, high = np.nanpercentile(samples, [50 * (1 - confidence), 50 * (1 + confidence)])
    return float(low), float(high)


def slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares slopes of each column of ``y`` (K, B) against ``x`` (K,); NaN propagates."""
    x = np.asarray(x, float)
    centred = x - x.mean()
    y = np.asarray(y, float)
    return (centred[:, None] * (y - y.mean(axis=0))).sum(axis=0) / (centred ** 2).sum()


def ols(design: np.ndarray, response: np.ndarray) -> np.ndarray | None:
    """Least-squares coefficients (LAPACK via numpy), or None when the design is rank deficient."""
    coefficients, _, rank, _ = np.linalg.lstsq(design, response, rcond=None)
    return coefficients if rank == design.shape[1] else None


def sign_verdict(low: float, high: float) -> str:
    """Positive effect: supported if the interval is above 0, contradicted if below, else inconclusive."""
    return SUPPORTED if low > 0 else CONTRADICTED if high < 0 else INCONCLUSIVE


def noninferiority_verdict(low: float, high: float, margin: float) -> str:
    """No worse than -margin: supported if ci_low >= -margin, contradicted if ci_high < -margin."""
    return SUPPORTED if low >= -margin else CONTRADICTED if high < -margin else INCONCLUSIVE


def equivalence_verdict(low: float, high: float, margin: float) -> str:
    """Equal within +/-margin (two one-sided bounds, TOST read on an interval): supported inside the band,
    contradicted entirely outside it."""
    if -margin <= low and high <= margin:
        return SUPPORTED
    return CONTRADICTED if low > margin or high < -margin else INCONCLUSIVE


def holm(p_values, alpha: float = 1 - CONFIDENCE) -> tuple[np.ndarray, np.ndarray]:
    """Holm's step-down rule over a family of tests: (rejected, adjusted p-values), by statsmodels."""
    from statsmodels.stats.multitest import multipletests

    rejected, adjusted, _, _ = multipletests(np.asarray(p_values, float), alpha=alpha, method="holm")
    return rejected, adjusted
