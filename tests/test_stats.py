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


def test_interval_decisions():
    assert stats.equivalence_verdict(-0.01, 0.01, 0.02) == "supported"
    assert stats.equivalence_verdict(0.03, 0.05, 0.02) == "contradicted"
    assert stats.equivalence_verdict(-0.01, 0.03, 0.02) == "inconclusive"
    assert stats.noninferiority_verdict(-0.015, 0.2, 0.02) == "supported"
    assert stats.noninferiority_verdict(-0.3, -0.021, 0.02) == "contradicted"
    assert [stats.sign_verdict(*b) for b in ((0.1, 0.2), (-0.2, -0.1), (-0.1, 0.1))] == list(stats.VERDICTS)


def test_slopes_and_ols_agree_with_linregress():
    x = np.array([0.0, 0.2, 0.36, 0.49])
    y = np.column_stack([0.5 + 0.1 * x, 0.6 - 0.3 * x + np.array([0.01, -0.01, 0.0, 0.005])])
    assert stats.slopes(x, y) == pytest.approx([sps.linregress(x, y[:, k]).slope for k in range(2)])
    design = np.column_stack([np.ones(4), x])
    assert stats.ols(design, y[:, 1])[1] == pytest.approx(sps.linregress(x, y[:, 1]).slope)
    assert stats.ols(np.column_stack([np.ones(4), np.ones(4)]), y[:, 0]) is None  # rank deficient
