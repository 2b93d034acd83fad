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


# ---------------------------------------------------------------- C1 (analysis plan section C1)
def sparsity_of(level):
    return 1 - 0.8 ** level


def accuracy_table(n_seeds=6, drop=0.0, drop_from=99, reinit_cost=0.08, levels=17) -> pd.DataFrame:
    """model 0 per (seed, branch, level): IMP loses ``drop`` from ``drop_from``; controls cost more with sparsity."""
    rng = np.random.default_rng(1)
    rows = []
    for seed in range(n_seeds):
        dense = 0.90 + 0.01 * rng.standard_normal()
        for level in range(levels):
            lost = drop if level >= drop_from else 0.0
            imp = dense if level == 0 else dense - lost + 0.001 * rng.standard_normal()
            rows.append({**SETTING, "seed": seed, "branch": "imp", "level": level, "sparsity": sparsity_of(level),
                         "test_acc": imp, "role": "target"})
            for control, cost in (("random_mask", 0.05), ("random_reinit", reinit_cost)):
                if level:
                    rows.append({**SETTING, "seed": seed, "branch": control, "level": level, "role": "target",
                                 "sparsity": sparsity_of(level),
                                 "test_acc": imp - cost * sparsity_of(level) + 0.002 * rng.standard_normal()})
    return pd.DataFrame(rows)


def headline(table: pd.DataFrame, role="primary", setting=None, statistic=None) -> pd.Series:
    rows = table[table["verdict_role"] == role]
    if setting is not None:
        rows = rows[rows["setting"].str.endswith(setting)]
    if statistic is not None:
        rows = rows[rows["statistic"].str.startswith(statistic)]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def test_c1_both_halves_supported_with_deciding_rows():
    table = v.verdict_c1(accuracy_table())
    c1a, c1b = headline(table), headline(table, "secondary")
    assert c1a["statistic"].startswith("C1a") and c1a["verdict"] == "supported" and c1a["rule"] == v.RULE_C1A
    assert c1b["statistic"].startswith("C1b") and c1b["verdict"] == "supported" and c1b["rule"] == v.RULE_C1B
    assert c1a["deciding"].startswith("level ") and np.isfinite(c1a["mde"]) and c1a["ci_low"] < c1a["estimate"]
    assert c1a["n_seeds"] == 6 and (table["plan_hash"] != "").all()
    kept = headline(table, "context")
    assert kept["verdict"] == "reported" and kept["estimate"] == pytest.approx(sparsity_of(16))
    pairs = table[table["statistic"].str.startswith("imp_minus_random")]
    assert len(pairs) == 2 * 13  # every (level, control) pair at sparsity >= 0.5 (levels 4..16)
    assert "Holm family: 26 (level, control) pairs" in c1b["detail"]


def test_c1_drop_beyond_high_sparsity_still_supported_and_stop_reported():
    """Old rule (cut-off 0.8, 'consecutive levels'): a loss at 0.93 is outside the claim; the stop is reported."""
    table = v.verdict_c1(accuracy_table(drop=0.05, drop_from=12))
    assert headline(table)["verdict"] == "supported"
    kept = headline(table, "context")
    assert kept["estimate"] == pytest.approx(sparsity_of(11)) and kept["deciding"] == "level 12"
    assert "first level not shown to keep it: 12" in kept["detail"]


def test_c1_drop_at_high_sparsity_contradicted_with_that_level_deciding():
    row = headline(v.verdict_c1(accuracy_table(drop=0.05, drop_from=9)))
    assert row["verdict"] == "contradicted" and row["deciding"].startswith("level 9 ")
    assert row["estimate"] == pytest.approx(-0.05, abs=0.002)


def test_c1b_reinit_as_good_as_tickets_inconclusive_and_names_the_pair():
    """The old C1 headline looked at accuracy only; C1b fails on its own row when re-init matches IMP."""
    table = v.verdict_c1(accuracy_table(reinit_cost=0.0))
    assert headline(table)["verdict"] == "supported"
    c1b = headline(table, "secondary")
    assert c1b["verdict"] == "inconclusive" and c1b["deciding"].startswith("random_reinit at level")
    assert c1b["p_value"] >= 0.05


def test_c1_three_seeds_inconclusive_but_computed():
    table = v.verdict_c1(accuracy_table(n_seeds=3))
    assert (table.loc[table["verdict_role"] != "context", "verdict"] == "inconclusive").all()
    row = headline(table)
    assert "n seeds < 5" in row["detail"] and np.isfinite(row["ci_low"]) and np.isfinite(row["p_value"])


def test_c1_a_study_shallower_than_the_plan_reads_inconclusive():
    """10 IMP levels (the earlier study, sparsity 0.893) cannot show where tickets stop keeping accuracy."""
    deep = v.verdict_c1(accuracy_table())
    shallow = v.verdict_c1(accuracy_table(levels=11))
    assert (deep.loc[deep["verdict_role"] == "primary", "verdict"] == "supported").all()
    primary = shallow[shallow["verdict_role"] == "primary"].iloc[0]
    assert primary["verdict"] == "inconclusive" and "only 10 IMP levels" in primary["detail"]


# ---------------------------------------------------------------- C2 and C4 (from attacks.csv)
# One parameter per shape of the synthetic table: seeds, the per-level effect, noise, target models, n_out.
def attacks_table(n_seeds=6, effect=lambda level: 0.0, noise=0.002, n_targets=3, n_out=2000,
                  attacks=("rmia", "loss", "shokri"), noisy_level=None, balanced=False) -> pd.DataFrame:
    """attacks.csv rows per (seed, level, attack, target_model): dense AUC 0.65 and TPR@1% 0.05 plus
    ``effect(level)`` (scaled to each metric's dense advantage); shokri has target_model 0 only.
    ``balanced``: instead of random noise, ticket-minus-dense offsets that sum to 0 over the seeds at every
    level (no level can differ from dense by chance)."""
    rng = np.random.default_rng(5)
    rows = []
    for seed in range(n_seeds):
        offset = rng.normal(0, 0.01)  # seeds differ; the paired difference removes it
        for level in range(17):
            scale = 3 * noise if level == noisy_level else noise
            for attack in attacks:
                for target in range(1 if attack == "shokri" else n_targets):
                    jitter = (0.0005 * (seed // 2 + 1) * (-1) ** (seed + level) * (level > 0) if balanced
                              else rng.normal(0, scale))
                    auc = 0.65 + offset + 0.15 * effect(level) + jitter
                    tpr = 0.05 + 0.3 * offset + 0.04 * effect(level) + jitter
                    rows.append({**SETTING, "seed": seed, "level": level, "branch": "imp", "attack": attack,
                                 "target_model": target, "auc": auc, "tpr@1%fpr": tpr, "tpr@0.1%fpr": tpr / 4,
                                 "n_in": n_out, "n_out": n_out, "sparsity": sparsity_of(level),
                                 "test_acc": 0.9 - 0.2 * sparsity_of(level) ** 6 + rng.normal(0, 0.002),
                                 "train_acc": 1.0, "gap": 0.1})
    return pd.DataFrame(rows)


def test_c2_primary_metric_follows_the_non_member_count():
    assert headline(v.verdict_c2(attacks_table()))["statistic"].startswith("ticket_minus_dense_tpr@1%fpr")
    row = headline(v.verdict_c2(attacks_table(n_out=20000)))
    assert row["statistic"].startswith("ticket_minus_dense_tpr@0.1%fpr") and "n_out 20000" in row["detail"]
    assert "0.1% not resolved" in headline(v.verdict_c2(attacks_table()))["detail"]
    fallback = headline(v.verdict_c2(attacks_table(n_out=500)))  # 500 x 0.01 < 10: the plan's fallback, said so
    assert fallback["statistic"].startswith("ticket_minus_dense_tpr@1%fpr") and "fallback" in fallback["detail"]


def test_c2_identical_vulnerability_supported_with_relative_margin():
    table = v.verdict_c2(attacks_table(balanced=True))
    row = headline(table)
    assert row["verdict"] == "supported" and row["setting"].endswith("rmia")
    assert row["margin"] == pytest.approx(0.25 * 0.04, abs=0.002)  # 0.25 x (dense TPR 0.05 - chance 0.01)
    assert "no level differs measurably" in row["detail"]
    secondary = table[table["verdict_role"] == "secondary"]
    assert len(secondary) == 5 and "Holm over 5 secondary rows" in secondary["detail"].iloc[0]


def test_c2_gains_inside_the_margin_are_equivalent_but_different():
    """Old rule: every interval inside the margin read 'supported'; here tickets gain 0.1 x the dense advantage."""
    table = v.verdict_c2(attacks_table(effect=lambda level: 0.1 * (3 <= level <= 6)))
    row = headline(table)
    assert row["verdict"] == "equivalent_but_different"
    assert "tickets more vulnerable (95% interval above 0) at levels 3, 4, 5, 6" in row["detail"]
    assert (table["verdict"] != "supported").any()


def test_c2_claim_row_shows_the_deciding_level_not_the_largest_estimate():
    table = v.verdict_c2(attacks_table(effect=lambda level: 0.05 * (level == 2), noisy_level=9))
    row = headline(table)
    levels = table[(table["verdict_role"] == "level") & table["statistic"].eq("ticket_minus_dense_tpr@1%fpr")
                   & table["setting"].str.contains(", rmia, ")]
    worst = levels.loc[levels["p_value"].idxmax()]
    assert row["deciding"] == worst["setting"].rsplit(", ", 1)[1] and row["deciding"].startswith("level 9 ")
    assert levels.loc[levels["estimate"].abs().idxmax(), "setting"].endswith("level 2 (sparsity 0.360)")
    assert row["p_value"] == pytest.approx(worst["p_value"])


def test_c2_beyond_the_margin_contradicted_at_that_level():
    row = headline(v.verdict_c2(attacks_table(effect=lambda level: 1.0 * (level == 12))))
    assert row["verdict"] == "contradicted" and row["deciding"].startswith("level 12 ")
    assert "contradicting level" in row["detail"]


def test_c2_three_seeds_inconclusive():
    row = headline(v.verdict_c2(attacks_table(n_seeds=3)))
    assert row["verdict"] == "inconclusive" and "n seeds < 5" in row["detail"] and np.isfinite(row["ci_low"])


def inverted_u(level):
    return min(level, 5) / 5 - 0.6 * max(level - 8, 0) / 8


def test_c4_inverted_u_old_slope_positive_new_contradicted():
    table = attacks_table(effect=inverted_u)
    curve = table[table["attack"] == "rmia"].groupby("level")[["sparsity", "tpr@1%fpr"]].mean()
    assert stats.linregress(curve["sparsity"], curve["tpr@1%fpr"]).slope > 0  # the old rule's 'supported'
    row = headline(v.verdict_c4(table))
    assert row["verdict"] == "contradicted" and "inverted U" in row["detail"]
    assert "deep half" in row["deciding"] and "peak of the seed-mean curve at level" in row["detail"]


def test_c4_monotone_rise_supported_and_three_seeds_inconclusive():
    table = v.verdict_c4(attacks_table(effect=lambda level: level / 16))
    row = headline(table)
    assert row["verdict"] == "supported" and "monotone increasing" in row["detail"] and row["estimate"] > 0.9
    assert {"shokri"} <= {s.rsplit(", ", 1)[1] for s in table.loc[table["verdict_role"] == "secondary", "setting"]}
    few = headline(v.verdict_c4(attacks_table(n_seeds=3, effect=lambda level: level / 16)))
    assert few["verdict"] == "inconclusive" and "n seeds < 5" in few["detail"]


def test_c4_flat_inconclusive_and_context_rows():
    rng = np.random.default_rng(7)
    compression, models = [], []
    for seed in range(6):
        for label, sparsity, method in (("imp-5", 0.672, "imp"), ("prune-0.672", 0.6723, "prune"),
                                        ("prune-0.5", 0.5, "prune")):
            models.append({"dataset": "fake", "model_arch": "mlp", "settings_hash": "other", "seed": seed,
                           "compression": label, "sparsity": sparsity, "method": method, "test_acc": 0.9})
            for shadows in ("matched", "mixture"):
                compression.append({"dataset": "fake", "model_arch": "mlp", "settings_hash": "other", "seed": seed,
                                    "compression": label, "shadows": shadows, "attack": "rmia",
                                    "balanced_acc_fixed": 0.55 + 0.02 * (method == "imp") + rng.normal(0, 0.003),
                                    "auc": 0.6 + rng.normal(0, 0.003)})
    table = v.verdict_c4(attacks_table(), pd.DataFrame(compression), pd.DataFrame(models))
    row = headline(table)
    assert row["verdict"] == "inconclusive" and "flat" in row["detail"]
    context = table[table["verdict_role"] == "context"]
    assert (context["verdict"] == "reported").all()
    assert set(context["statistic"]) == {"sparsity_coefficient_tpr@1%fpr_at_matched_test_acc",
                                         "imp_minus_one_shot_balanced_acc_fixed", "imp_minus_one_shot_auc"}
    one_shot = context[context["statistic"] == "imp_minus_one_shot_balanced_acc_fixed"].iloc[0]
    assert one_shot["deciding"] == "imp-5 vs prune-0.672" and one_shot["estimate"] == pytest.approx(0.02, abs=0.005)

