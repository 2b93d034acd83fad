"""The one statistics module: its t-interval agrees with scipy's, Holm with the hand-computed step-down,
and the interval decisions with their definitions."""
import numpy as np
import pytest
from scipy import stats as sps

from mialth_utils import stats


def test_seed_interval_is_scipys_t_interval():
    values = np.array([0.012, 0.004, 0.009, 0.015, 0.007])
    mean, low, high = stats.seed_interval(values)
    expected = sps.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=sps.sem(values))
    assert mean == pytest.approx(values.mean()) and (low, high) == pytest.approx(expected, rel=1e-12)
    assert np.isnan(stats.seed_interval([0.3])[1]) and stats.seed_interval([0.2, 0.2])[1:] == (0.2, 0.2)
    assert stats.seed_interval([np.nan, 1.0, np.inf, 3.0])[0] == 2.0  # NaN and inf dropped


def test_holm_matches_the_step_down_by_hand():
    rejected, adjusted = stats.holm([0.01, 0.04, 0.03])
    assert adjusted == pytest.approx([0.03, 0.06, 0.06])  # 3 * 0.01; max(2 * 0.03, 0.03); max(0.04, 0.06)
    assert rejected.tolist() == [True, False, False]


def test_tost_is_two_one_sided_t_tests_and_reads_the_90_percent_interval():
    values = np.array([0.010, 0.012, 0.008, 0.011, 0.009])
    out = stats.tost(values, margin=0.02)
    low = sps.ttest_1samp(values, -0.02, alternative="greater").pvalue
    high = sps.ttest_1samp(values, 0.02, alternative="less").pvalue
    assert out["p_tost"] == pytest.approx(max(low, high))
    half = sps.t.ppf(0.95, 4) * sps.sem(values)
    assert (out["low90"], out["high90"]) == pytest.approx((values.mean() - half, values.mean() + half))
    assert out["p_tost"] < 0.05 and out["p_zero"] < 0.05  # equivalent, yet different from zero
    assert stats.tost(values * 3, margin=0.02)["p_tost"] > 0.05  # mean 0.03: outside the band
    assert np.isnan(stats.tost([0.01, 0.01, 0.01], 0.02)["p_tost"])  # no spread: undefined, never significant


def test_page_trend_reads_the_hypothesised_order_and_rejects_only_a_trend():
    rising = np.array([[1, 2, 3, 4], [1, 3, 2, 5], [0, 1, 2, 3], [2, 3, 4, 6], [1, 2, 4, 5]], float)
    _, p_up = stats.page_trend(rising)
    _, p_down = stats.page_trend(rising, increasing=False)
    assert p_up < 0.01 < 0.5 < p_down
    rng = np.random.default_rng(0)
    long = rng.normal(size=(5, 17)) + np.arange(17) * 0.5  # 17 levels: the asymptotic p, no enumeration
    assert stats.page_trend(long)[1] < 1e-4
    assert np.isnan(stats.page_trend(rising[:1])[1]) and np.isnan(stats.page_trend(rising[:, :2])[1])


def test_smallest_detectable_effect_has_the_stated_power():
    values = np.array([0.01, -0.02, 0.015, 0.0, -0.005])
    mde = stats.min_detectable_effect(values)
    sd, n = values.std(ddof=1), len(values)
    noncentral = mde / (sd / np.sqrt(n))
    crit = sps.t.ppf(0.975, n - 1)
    power = sps.nct.sf(crit, n - 1, noncentral) + sps.nct.cdf(-crit, n - 1, noncentral)
    assert power == pytest.approx(0.80, abs=1e-4)


def test_slopes_and_ols_agree_with_linregress():
    x = np.array([0.0, 0.2, 0.36, 0.49])
    y = np.column_stack([0.5 + 0.1 * x, 0.6 - 0.3 * x + np.array([0.01, -0.01, 0.0, 0.005])])
    assert stats.slopes(x, y) == pytest.approx([sps.linregress(x, y[:, k]).slope for k in range(2)])
    design = np.column_stack([np.ones(4), x])
    assert stats.ols(design, y[:, 1])[1] == pytest.approx(sps.linregress(x, y[:, 1]).slope)
    assert stats.ols(np.column_stack([np.ones(4), np.ones(4)]), y[:, 0]) is None  # rank deficient
