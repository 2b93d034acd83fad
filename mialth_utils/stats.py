"""The statistics every verdict and figure shares, one copy each: the t-interval across seeds, least
squares (slopes and OLS), Holm's multiplicity rule, and the analysis plan's tests on per-seed statistics (one-sample t,
TOST, Page's trend test, the smallest detectable effect).

scipy gives the t quantiles and standard errors, statsmodels Holm's adjustment; the formulas here are
written out only where the result must stay bitwise what the committed tables hold (``seed_interval``).
"""
from __future__ import annotations

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
VERDICTS = ("supported", "contradicted", "inconclusive", "equivalent_but_different", "reported")
SUPPORTED, CONTRADICTED, INCONCLUSIVE, EQUIVALENT_BUT_DIFFERENT, REPORTED = VERDICTS
# equivalent_but_different: equal within the margin, yet measurably different from zero (its own outcome,
# never folded into "supported"); reported: a context row that decides nothing.


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


def holm(p_values, alpha: float = 1 - CONFIDENCE) -> tuple[np.ndarray, np.ndarray]:
    """Holm's step-down rule over a family of tests: (rejected, adjusted p-values), by statsmodels."""
    from statsmodels.stats.multitest import multipletests

    rejected, adjusted, _, _ = multipletests(np.asarray(p_values, float), alpha=alpha, method="holm")
    return rejected, adjusted


# ----------------------------------------------------------------- the analysis plan's tests (issue 20)
# Every test below takes per-seed statistics: the training seed is the unit of inference.

def t_p_value(values, null: float = 0.0, alternative: str = "greater") -> float:
    """One-sample t-test p-value of the per-seed ``values`` against ``null`` (scipy); NaN for < 2 seeds
    or no spread (every seed equal: the test is undefined, never "significant")."""
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    if len(values) < 2 or np.ptp(values) == 0:
        return np.nan
    return float(stats.ttest_1samp(values, null, alternative=alternative).pvalue)


def tost(values, margin: float, alpha: float = 0.05) -> dict:
    """Two one-sided t-tests of equivalence within [-margin, margin] across seeds.

    Returns the mean, the (1 - 2 alpha) interval (90% at alpha 0.05: equivalent iff it lies inside the
    band), the (1 - alpha) two-sided interval (is the effect different from zero?), ``p_tost`` (the
    larger of the two one-sided p-values: equivalent iff below alpha) and ``p_zero`` (two-sided, against 0)."""
    estimate, low90, high90 = seed_interval(values, 1 - 2 * alpha)
    _, low95, high95 = seed_interval(values, 1 - alpha)
    p_low = t_p_value(values, -margin, "greater")
    p_high = t_p_value(values, margin, "less")
    return {"estimate": estimate, "low90": low90, "high90": high90, "low95": low95, "high95": high95,
            "p_tost": float(np.fmax(p_low, p_high)) if np.isfinite(p_low) and np.isfinite(p_high) else np.nan,
            "p_zero": t_p_value(values, 0.0, "two-sided")}


def page_trend(matrix, increasing: bool = True) -> tuple[float, float]:
    """Page's L test of an ordered trend (scipy.stats.page_trend_test): ``matrix`` is seeds (blocks) x
    ordered conditions (columns in the hypothesised order). ``increasing=False`` tests a decreasing trend.
    Rows with a missing value are dropped. Returns (L, one-sided p); NaN for < 2 seeds or < 3 conditions."""
    data = np.asarray(matrix, float)
    data = data[np.isfinite(data).all(axis=1)]
    if data.shape[0] < 2 or data.shape[1] < 3:
        return np.nan, np.nan
    if not increasing:
        data = data[:, ::-1]
    # exact only for few conditions: the exact null enumerates every permutation of the k ranks (k! rows;
    # 17 IMP levels would need terabytes), as scipy's own "auto" rule knows (exact for k <= 8)
    small = data.shape[1] <= 8 and data.shape[0] * data.shape[1] <= 60
    result = stats.page_trend_test(data, method="exact" if small else "auto")
    return float(result.statistic), float(result.pvalue)


def min_detectable_effect(values, alpha: float = 0.05, power: float = 0.80) -> float:
    """The smallest mean effect a one-sample two-sided t-test over these seeds detects with ``power`` at
    ``alpha``, from the observed standard deviation of the per-seed ``values`` (statsmodels)."""
    from statsmodels.stats.power import TTestPower

    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    if len(values) < 2 or values.std(ddof=1) == 0:
        return np.nan
    d = TTestPower().solve_power(effect_size=None, nobs=len(values), alpha=alpha, power=power, alternative="two-sided")
    return float(d * values.std(ddof=1))
