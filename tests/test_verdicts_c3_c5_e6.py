"""C3, C5 and E6 as the analysis plan judges them, on synthetic per-seed tables where the old rules
(gap-adjusted slope, mean over pairs, three baselines on the fixed threshold) and the new ones disagree."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mialth_utils.analysis_plan import plan_hash, section
from mialth_utils.claims import c3, c5, e6
from mialth_utils.reporting import verdicts as v

SETTING = {"settings_hash": "abc", "dataset": "digits", "model_arch": "mlp"}


def role_row(table: pd.DataFrame, role: str, **match) -> pd.Series:
    rows = table[table["verdict_role"] == role]
    for column, value in match.items():
        rows = rows[rows[column].str.contains(value, regex=False)]
    assert len(rows) == 1, rows
    return rows.iloc[0]


# ---------------------------------------------------------------- C3
def class_count_table(n_seeds=6, class_effect=0.0, attacks=("rmia", "loss", "shokri")) -> pd.DataFrame:
    """The gap mediates everything: metric = f(gap) only, gap rising with k (corr(k, gap) ~ 0.9)."""
    rng = np.random.default_rng(2)
    rows = []
    for seed in range(n_seeds):
        for n_classes in (2, 5, 10):
            for subset in range(3):
                gap = 0.012 * n_classes + 0.01 * rng.standard_normal()
                for attack in attacks:
                    for target_model in range(2 if attack != "shokri" else 1):
                        auc = 0.5 + class_effect * n_classes + 0.8 * gap + 0.004 * rng.standard_normal()
                        rows.append({**SETTING, "seed": seed, "attack": attack, "level": 0, "n_classes": n_classes,
                                     "subset": subset, "target_model": target_model, "gap": gap, "auc": auc,
                                     "tpr@1%fpr": 0.01 + (auc - 0.5) / 4, "n_out": 2000})
    return pd.DataFrame(rows)


def test_c3_mediator_total_effect_supported_while_gap_adjusted_coefficient_is_not():
    table = c3.verdict_c3(class_count_table())
    primary = role_row(table, "primary")
    assert primary["setting"].endswith("rmia") and primary["statistic"] == "trend_tpr@1%fpr_vs_n_classes"
    assert primary["verdict"] == "supported" and primary["p_value"] < 0.05 and primary["n_seeds"] == 6
    assert primary["estimate"] > 0 and primary["deciding"] == "level 0, n_classes 2<5<10"
    assert np.isfinite(primary["mde"]) and primary["plan_hash"] == plan_hash()
    # the old rule's statistic (n_classes coefficient adjusted for the gap) cannot tell: its interval covers 0
    old = role_row(table, "context", statistic="tpr@1%fpr_per_class_adjusted_for_gap")
    assert old["verdict"] == "reported" and old["ci_low"] < 0 < old["ci_high"]
    corr = float(old["detail"].split("corr(n_classes, gap) = ")[1].split(" ")[0])
    assert corr > 0.8
    secondary = table[table["verdict_role"] == "secondary"]
    assert {"loss", "shokri"} <= {s.rsplit(", ", 1)[1] for s in secondary["setting"]}  # shokri judged too
    assert len(secondary) == 5 and (secondary["verdict"] == "supported").all()  # 2 attacks x tpr + 3 x auc
    assert secondary["detail"].str.contains("Holm-adjusted").all()


def test_c3_three_seeds_inconclusive_but_computed():
    primary = role_row(c3.verdict_c3(class_count_table(n_seeds=3)), "primary")
    assert primary["verdict"] == "inconclusive" and "n seeds < 5" in primary["detail"]
    assert primary["n_seeds"] == 3 and primary["estimate"] > 0 and np.isfinite(primary["ci_low"])


def test_c3_decreasing_trend_contradicted():
    table = class_count_table()
    table["tpr@1%fpr"] = 0.2 - table["tpr@1%fpr"]
    assert role_row(c3.verdict_c3(table), "primary")["verdict"] == "contradicted"


# ---------------------------------------------------------------- C5
def transfer_table(n_seeds=6, costs=None, attacks=("rmia", "lira_offline"), native_column=True) -> pd.DataFrame:
    """Native balanced accuracy 0.62 (margin 0.25 x 0.12 = 0.03); ``costs`` maps (fit, target) level pairs
    to the transferred-minus-native difference (default 0)."""
    rng = np.random.default_rng(3)
    costs = costs or {}
    rows = []
    for seed in range(n_seeds):
        for attack in attacks:
            for fit_arch, target_arch in (("mlp", "mlp"), ("lenet-300-100", "mlp")):
                for fit_level in (0, 2, 4):
                    for target_level in (0, 2, 4):
                        native = 0.62 + 0.003 * rng.standard_normal()
                        cost = costs.get((fit_level, target_level), 0.0) if fit_arch == target_arch else 0.0
                        if fit_arch == target_arch and fit_level == target_level:
                            cost = 0.0
                        row = {**SETTING, "seed": seed, "attack": attack, "fit_arch": fit_arch,
                               "target_arch": target_arch, "fit_level": fit_level, "target_level": target_level,
                               "balanced_acc_transferred": native + cost + 0.002 * rng.standard_normal(), "auc": 0.7}
                        rows.append(row | ({"balanced_acc_native": native} if native_column else {}))
    return pd.DataFrame(rows)


def test_c5_gains_cancel_losses_old_mean_passes_new_all_pairs_fails_with_worst_pair():
    costs = {(0, 2): -0.10, (0, 4): +0.10, (2, 0): 0.0}
    table = c5.verdict_c5(transfer_table(costs=costs))
    mean = role_row(table, "context")
    assert mean["verdict"] == "reported" and abs(mean["estimate"]) < 0.01  # the old rule's mean over pairs
    assert mean["ci_low"] > -0.03  # the old rule (mean within the margin) would pass
    primary = role_row(table, "primary")
    assert primary["setting"].endswith("rmia") and primary["verdict"] == "contradicted"
    assert primary["deciding"] == "mlp level 0 -> mlp level 2"
    assert primary["estimate"] == pytest.approx(-0.10, abs=0.01)
    assert primary["margin"] == pytest.approx(0.25 * 0.12, abs=0.003)
    assert "worst pair mlp level 0 -> mlp level 2" in primary["detail"]
    pairs = table[(table["verdict_role"] == "level") & table["setting"].str.contains("rmia")]
    assert len(pairs) == 6 + 9  # same-arch off-diagonal pairs, and every cross-architecture pair
    assert role_row(table, "secondary")["setting"].endswith("lira_offline")


def test_c5_every_pair_passes_supported_and_diagonal_native_fallback():
    table = c5.verdict_c5(transfer_table())
    primary = role_row(table, "primary")
    assert primary["verdict"] == "supported" and primary["p_value"] < 0.05 and "15 of 15 pairs" in primary["detail"]
    assert np.isfinite(primary["mde"]) and primary["deciding"]
    fallback = c5.verdict_c5(transfer_table(native_column=False, attacks=("rmia",)))
    pairs = fallback[fallback["verdict_role"] == "level"]
    assert pairs["detail"].str.contains("own-architecture diagonal").all() and len(pairs) == 15


def test_c5_three_seeds_inconclusive():
    primary = role_row(c5.verdict_c5(transfer_table(n_seeds=3)), "primary")
    assert primary["verdict"] == "inconclusive" and "n seeds < 5" in primary["detail"]


def test_c5_a_pair_without_native_advantage_is_untestable_never_contradicted():
    table = transfer_table(attacks=("rmia",))
    weak = (table["target_arch"] == "mlp") & (table["fit_arch"] == "mlp") & (table["target_level"] == 4)
    table.loc[weak, "balanced_acc_native"] = 0.49  # the target at level 4 is attacked at chance or below
    table.loc[weak, "balanced_acc_transferred"] = 0.49
    primary = role_row(c5.verdict_c5(table), "primary")
    assert primary["verdict"] == "inconclusive"  # two pairs cannot pass: not supported, and not contradicted
    pairs = c5.verdict_c5(table)
    untestable = pairs[pairs["detail"].str.contains("untestable")]
    assert len(untestable) == 2 and (untestable["verdict"] == "inconclusive").all()


def test_c5_secondary_attack_held_back_by_holm():
    """A secondary attack whose every pair passes on its own reads inconclusive when its Holm-adjusted
    claim p (over the secondary attacks) is above alpha, and supported when it is below."""
    plan = section("C5")
    tests = c5._pair_tests(c5.transfer_pairs(transfer_table(attacks=("lira_offline",))), plan)
    assert c5._decide(tests, plan["alpha"])[0] == "supported"
    held = c5._claim_row(SETTING, "lira_offline", tests, "secondary", 0.06, plan)
    assert held["verdict"] == "inconclusive" and "not after" in held["detail"]
    assert c5._claim_row(SETTING, "lira_offline", tests, "secondary", 0.01, plan)["verdict"] == "supported"


# ---------------------------------------------------------------- E6
def compression_table(n_seeds=6, asr=0.70, baseline_values=None) -> pd.DataFrame:
    baseline_values = {b: 0.55 for b in e6.E6_BASELINES} | (baseline_values or {})
    rng = np.random.default_rng(4)
    rows = []
    for seed in range(n_seeds):
        for compression in ("prune-0.5", "quant-4", "imp-10"):
            for shadows in ("mixture", "matched"):
                for attack in ("cm_mia", *e6.E6_BASELINES):
                    value = baseline_values.get(attack, 0.55) + 0.004 * rng.standard_normal()
                    row = {**SETTING, "seed": seed, "compression": compression, "shadows": shadows,
                           "attack": attack, "balanced_acc_fixed": value, "auc_abnormal": value + 0.05}
                    if attack == "cm_mia":
                        row["asr"] = (asr if shadows == "mixture" else 0.4) + 0.004 * rng.standard_normal()
                    rows.append(row)
    return pd.DataFrame(rows)


def test_e6_five_baselines_rmia_decides_and_paper_gain_separately():
    assert set(e6.E6_BASELINES) == {"loss", "modified_entropy", "lira_offline", "lira_online", "rmia"}
    table = e6.verdict_e6(compression_table(asr=0.64, baseline_values={"rmia": 0.62}))
    primary = role_row(table, "primary")
    # the old rule (three baselines) would see +0.09 everywhere; rmia, now included, is the hardest
    assert primary["verdict"] == "supported" and primary["deciding"] == "rmia"
    assert primary["estimate"] == pytest.approx(0.02, abs=0.005)
    gain = role_row(table, "secondary", rule=e6.RULE_E6_GAIN)
    assert gain["verdict"] == "contradicted" and gain["margin"] == e6.E6_PAPER_GAIN
    levels = table[table["verdict_role"] == "level"]
    assert len(levels) == 5 and levels["deciding"].tolist() == list(e6.E6_BASELINES)
    assert len(table[table["verdict_role"] == "context"]) == 5  # auc_abnormal, reported


def test_e6_a_better_baseline_contradicts_and_asr_is_the_metric():
    table = e6.verdict_e6(compression_table(asr=0.60, baseline_values={"lira_online": 0.66}))
    primary = role_row(table, "primary")
    assert primary["verdict"] == "contradicted" and primary["deciding"] == "lira_online"
    assert primary["estimate"] == pytest.approx(-0.06, abs=0.005)  # asr (mixture) minus balanced_acc_fixed


def test_e6_three_seeds_inconclusive_and_gain_reached():
    table = e6.verdict_e6(compression_table(n_seeds=3, asr=0.80))
    primary = role_row(table, "primary")
    assert primary["verdict"] == "inconclusive" and "n seeds < 5" in primary["detail"] and primary["estimate"] > 0.2
    assert role_row(e6.verdict_e6(compression_table(asr=0.80)), "secondary")["verdict"] == "supported"


# ---------------------------------------------------------------- all claims and the report
def test_report_lines_show_plan_primary_row_and_count_level_rows():
    tables = {"class_count": class_count_table(), "transfer": transfer_table(), "compression": compression_table()}
    table = v.all_verdicts(tables)
    assert list(table.columns) == list(v.COLUMNS) and set(table["verdict"]) <= set(v.VERDICTS)
    assert list(dict.fromkeys(table["claim"])) == ["C3", "C5", "E6"]
    for claim in ("C3", "C5", "E6"):
        assert (table[table["claim"] == claim]["verdict_role"] == "primary").sum() == 1
    lines = v.verdict_lines(table, runs=pd.DataFrame({"git_sha": ["not-a-commit"]}))
    assert [i for i, line in enumerate(lines) if plan_hash() in line] == [0]  # the plan's hash once, at the top
    assert "whether the plan changed" in lines[0] or "plan did not change" in lines[0] or "CHANGED" in lines[0]
    primary = [line for line in lines if line.startswith("- **primary**")]
    assert len(primary) == 3 and all("deciding:" in line and "MDE" in line and "seeds" in line for line in primary)
    assert any(line.startswith("Per-pair / per-level rows (verdicts.csv): 30 supported") for line in lines)
    assert section("C5")["margin_relative"] == 0.25
