"""Verdict rules on small constructed tables and score arrays whose right verdict is known."""
from __future__ import annotations


import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mialth_utils.reporting import verdicts as v

SETTING = {"settings_hash": "abc123", "dataset": "fake", "model_arch": "mlp"}


# ---------------------------------------------------------------- intervals
def test_seed_interval_hand_case():
    mean, low, high = v.seed_interval([1.0, 2.0, 3.0])
    half = stats.t.ppf(0.975, 2) * 1.0 / np.sqrt(3)  # sd 1, n 3
    assert mean == pytest.approx(2.0)
    assert (low, high) == pytest.approx((2.0 - half, 2.0 + half))
    assert low == pytest.approx(-0.4841, abs=1e-4)


def test_seed_interval_one_seed_and_nan():
    mean, low, high = v.seed_interval([0.7])
    assert mean == 0.7 and np.isnan(low) and np.isnan(high)
    assert v.seed_interval([1.0, np.nan, 3.0])[0] == pytest.approx(2.0)  # NaN seeds are dropped
    assert all(np.isnan(v.seed_interval([])))


def test_hierarchical_samples_draws_seeds_with_replacement():
    n_boot = 4000
    samples = v.hierarchical_samples([np.zeros(n_boot), np.ones(n_boot)], seed=3)
    assert samples.shape == (n_boot,)
    assert set(np.unique(samples)) == {0.0, 0.5, 1.0}  # both-same-seed draws exist: with replacement
    assert np.mean(samples == 0.5) == pytest.approx(0.5, abs=0.03)


def test_hierarchical_samples_keeps_each_resample_index():
    per_seed = [np.arange(5.0), np.arange(5.0) + 10]
    samples = v.hierarchical_samples(per_seed)
    offsets = samples - np.arange(5.0)  # sample b only mixes the b-th values of the seeds
    assert set(np.round(offsets, 9)) <= {0.0, 5.0, 10.0}
    one = np.array([0.3, 0.1, 0.7])
    np.testing.assert_array_equal(v.hierarchical_samples([one]), one)


def test_slopes_match_linregress():
    rng = np.random.default_rng(0)
    x, y = rng.random(6), rng.random((6, 3))
    expected = [stats.linregress(x, y[:, j]).slope for j in range(3)]
    np.testing.assert_allclose(v.slopes(x, y), expected)


@pytest.mark.parametrize("low, high, sign, noninferior, equivalent", [
    (0.005, 0.015, "supported", "supported", "supported"),          # inside +/-0.02 and above 0
    (-0.015, 0.005, "inconclusive", "supported", "supported"),      # straddles 0, inside the band
    (-0.03, -0.01, "contradicted", "inconclusive", "inconclusive"),  # straddles -0.02
    (-0.05, -0.03, "contradicted", "contradicted", "contradicted"),  # entirely below -0.02
    (0.03, 0.05, "supported", "supported", "contradicted"),          # entirely above +0.02
    (np.nan, np.nan, "inconclusive", "inconclusive", "inconclusive"),
])
def test_decision_rules_on_hand_intervals(low, high, sign, noninferior, equivalent):
    assert v.sign_verdict(low, high) == sign
    assert v.noninferiority_verdict(low, high, 0.02) == noninferior
    assert v.equivalence_verdict(low, high, 0.02) == equivalent


# ---------------------------------------------------------------- C1
def accuracy_table(n_seeds=3, drop=0.0, drop_from=3) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = []
    for seed in range(n_seeds):
        dense = 0.90 + 0.01 * rng.standard_normal()
        for level in range(11):
            lost = drop if level >= drop_from else 0.0
            accuracy = dense if level == 0 else dense - lost + 0.001 * rng.standard_normal()
            rows.append({**SETTING, "seed": seed, "branch": "imp", "level": level,
                         "sparsity": 1 - 0.8 ** level, "test_acc": accuracy})
        for control, cost in (("random_mask", 0.05), ("random_reinit", 0.08)):
            rows.append({**SETTING, "seed": seed, "branch": control, "level": 10, "sparsity": 1 - 0.8 ** 10,
                         "test_acc": accuracy - cost + 0.002 * rng.standard_normal()})
    return pd.DataFrame(rows)


def summary(table: pd.DataFrame, statistic: str) -> pd.Series:
    rows = table[table["statistic"] == statistic]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def test_c1_tickets_keep_accuracy_supported():
    table = v.verdict_c1(accuracy_table())
    row = summary(table, "max sparsity kept")
    assert row["verdict"] == "supported"
    assert row["estimate"] == pytest.approx(1 - 0.8 ** 10)
    assert row["rule"] == v.RULE_C1 and row["n_seeds"] == 3 and row["margin"] == v.C1_ACCURACY_MARGIN
    levels = table[table["statistic"] == "imp_minus_dense_test_acc"]
    assert len(levels) == 10 and (levels["verdict"] == "supported").all()
    for control in ("random_mask", "random_reinit"):  # the lottery-ticket signature
        assert summary(table, f"imp_minus_{control}_test_acc")["verdict"] == "supported"


def test_c1_five_point_drop_contradicted():
    row = summary(v.verdict_c1(accuracy_table(drop=0.05, drop_from=3)), "max sparsity kept")
    assert row["verdict"] == "contradicted"
    assert row["estimate"] == pytest.approx(1 - 0.8 ** 2)  # levels 1 and 2 kept, level 3 lost
    assert "first level not shown to keep it: 3" in row["detail"]


def test_c1_one_seed_inconclusive():
    table = v.verdict_c1(accuracy_table(n_seeds=1))
    assert (table["verdict"] == "inconclusive").all()
    assert table["ci_low"].isna().all()
    assert "needs >= 2 seeds" in summary(table, "max sparsity kept")["detail"]


# ---------------------------------------------------------------- C2 and C4
def score_run(seed: int, n: int, effects: dict, same_noise=False, attack="loss") -> dict:
    """Scores = effect x member + noise per level; ``same_noise`` makes levels with equal effects identical."""
    rng = np.random.default_rng(seed)
    member = np.zeros(n, bool)
    member[rng.permutation(n)[: n // 2]] = True
    base = rng.standard_normal(n)
    scores = {(level, attack): effect * member + (base if same_noise else rng.standard_normal(n))
              for level, effect in effects.items()}
    return {**SETTING, "seed": seed, "member": member, "eval_idx": np.arange(n), "scores": scores,
            "sparsity": {level: 1 - 0.8 ** level for level in effects}}


def c2_summary(runs, metric="auc") -> pd.Series:
    return summary(v.verdict_c2(runs, ["loss"], n_boot=200), f"largest_ticket_minus_dense_{metric}")


def test_c2_identical_scores_supported():
    runs = [score_run(seed, 600, {0: 1.0, 1: 1.0, 2: 1.0}, same_noise=True) for seed in range(3)]
    table = v.verdict_c2(runs, ["loss"], n_boot=200)
    assert len(table) == 2 * (2 + 1)  # per metric: two ticket levels and one summary row
    assert (table["verdict"] == "supported").all()
    assert table["estimate"].abs().max() == 0.0
    assert summary(table, "largest_ticket_minus_dense_auc")["margin"] == v.C2_MARGINS["auc"]


def test_c2_tickets_more_separating_contradicted():
    runs = [score_run(seed, 600, {0: 0.5, 1: 3.0, 2: 3.0}) for seed in range(3)]
    row = c2_summary(runs)
    assert row["verdict"] == "contradicted" and row["ci_low"] > v.C2_MARGINS["auc"]
    level_rows = v.verdict_c2(runs, ["loss"], n_boot=200)
    assert level_rows["detail"].str.contains("tickets more vulnerable").any()


def test_c2_tiny_noisy_data_inconclusive():
    runs = [score_run(seed, 40, {0: 0.3, 1: 0.3}) for seed in range(3)]
    for metric in v.C2_METRICS:
        row = c2_summary(runs, metric)
        assert row["verdict"] == "inconclusive"
        assert row["ci_low"] < -v.C2_MARGINS[metric] < v.C2_MARGINS[metric] < row["ci_high"]


def test_c2_only_named_attacks_and_eval_subset():
    runs = [score_run(seed, 400, {0: 1.0, 1: 1.0}, same_noise=True) for seed in range(2)]
    for run in runs:
        run["eval_idx"] = np.arange(0, 400, 2)
    assert v.verdict_c2(runs, ["lira_online"], n_boot=50).empty  # not in the scores: nothing judged
    table = v.verdict_c2(runs, ["loss"], n_boot=50)
    assert set(table["n_seeds"]) == {2}


def test_c4_increasing_auc_supported():
    effects = {level: 0.2 + 2.0 * (1 - 0.8 ** level) for level in range(0, 11, 2)}
    runs = [score_run(seed, 800, effects) for seed in range(3)]
    table = v.verdict_c4(runs, ["loss"], n_boot=200)
    row = summary(table, "slope_auc_vs_sparsity")
    assert row["verdict"] == "supported" and row["ci_low"] > 0 and row["n_seeds"] == 3
    assert "gap slope not available" in row["detail"]


def test_c4_reports_gap_slope_from_attack_table():
    runs = [score_run(seed, 300, {0: 0.5, 1: 0.5, 2: 0.5}) for seed in range(2)]
    attack_table = pd.DataFrame([{**SETTING, "seed": seed, "attack": "loss", "branch": "imp", "level": level,
                                  "sparsity": 1 - 0.8 ** level, "gap": 0.1 * (1 - 0.8 ** level),
                                  "auc": 0.6, "tpr@1%fpr": 0.02} for seed in range(2) for level in range(3)])
    row = summary(v.verdict_c4(runs, ["loss"], attack_table, n_boot=50), "slope_auc_vs_sparsity")
    assert "train-test gap slope vs sparsity (t across seeds): 0.1000" in row["detail"]
    from_table = summary(v.verdict_c4(None, ["loss"], attack_table), "slope_auc_vs_sparsity")
    assert from_table["rule"] == v.RULE_C4_TABLE["auc"] and from_table["estimate"] == pytest.approx(0.0)
