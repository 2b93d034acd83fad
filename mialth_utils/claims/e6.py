"""E6: CM-MIA beats the existing attacks on compressed models (Jin et al. 2023: +10.5% attack success rate).

Judged as the analysis plan's section E6 says: CM-MIA's attack success rate by its own decision rule
(``asr``: balanced accuracy of its p < alpha decisions) minus each named baseline's balanced accuracy at
a threshold fixed on reference models (``balanced_acc_fixed``), per seed the mean over compressions
(mixture shadows); one-sided t across seeds against 0 (beats) and against the paper's gain, Holm over
the baselines. The comparison on CM-MIA's abnormal subset (``auc_abnormal``) is shown as context.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..analysis_plan import section
from ..stats import CONTRADICTED, INCONCLUSIVE, REPORTED, SUPPORTED, min_detectable_effect, seed_interval, t_p_value
from .common import (
    Claim,
    group_settings,
    holm_adjusted,
    join_notes,
    min_seeds_gate,
    setting_label,
    verdict_frame,
    verdict_row,
)

E6_PAPER_GAIN = section("E6")["paper_gain"]


# cm_mia_empirical is tabulated but not judged: with the study's 8 shadows its smallest p-value is 1/9 > alpha_cmmia,
# so it can never declare a member (its asr is 0.5 by construction).
E6_CMMIA_VARIANTS = ("cm_mia",)


E6_BASELINES = tuple(section("E6")["baselines"])


RULE_E6_BASELINE = ("CM-MIA's asr minus the baseline's balanced_acc_fixed, per seed the mean over compressions (mixture "
                    "shadows), 90% t-interval (the one-sided tests at alpha 0.05 read its ends); one-sided t against 0, Holm over the baselines: supported (beats) if "
                    "the adjusted p < alpha, contradicted if the baseline is significantly better (Holm), else "
                    "inconclusive")
RULE_E6 = ("supported if CM-MIA beats every named baseline after Holm; contradicted if any baseline is significantly "
           "better after Holm; else inconclusive (a baseline missing from the table: inconclusive); < min_seeds "
           "seeds: inconclusive. The hardest baseline (largest adjusted p) decides and is shown")
RULE_E6_GAIN = ("reaches the paper's gain: one-sided t of the same differences against paper_gain, Holm over the "
                "baselines: supported if every baseline is exceeded by more than paper_gain, contradicted if the gain "
                "over any baseline is significantly below it, else inconclusive")
RULE_E6_CONTEXT = "context: CM-MIA minus the baseline auc_abnormal (CM-MIA's abnormal subset), mean over compressions"


def per_seed_differences(table: pd.DataFrame, attack: str, baseline: str, metric: str = "asr",
                         baseline_metric: str = "balanced_acc_fixed") -> pd.Series:
    """Per seed: mean over compressions of ``attack``'s ``metric`` minus ``baseline``'s ``baseline_metric``
    on the same (seed, compression)."""
    def values(name, column):
        rows = table[table["attack"] == name]
        if column not in rows.columns:
            return pd.Series(dtype=float)
        return rows.groupby(["seed", "compression"])[column].mean()

    difference = (values(attack, metric) - values(baseline, baseline_metric)).dropna()
    return difference.groupby(level="seed").mean() if len(difference) else pd.Series(dtype=float)


def _baseline_tests(table, attack, baselines, alpha) -> pd.DataFrame:
    tests = pd.DataFrame([{"baseline": b, "per_seed": per_seed_differences(table, attack, b)} for b in baselines])
    tests["n_seeds"] = tests["per_seed"].map(len)
    for name, null, side in (("beats", 0.0, "greater"), ("worse", 0.0, "less"),
                             ("reaches", E6_PAPER_GAIN, "greater"), ("short", E6_PAPER_GAIN, "less")):
        tests[f"p_{name}"] = holm_adjusted([t_p_value(v, null, side) for v in tests["per_seed"]], alpha)
    return tests


def _decide(tests: pd.DataFrame, yes: str, no: str, alpha: float) -> tuple[str, pd.Series]:
    """Every baseline must pass ``p_<yes>`` (intersection-union); any significant ``p_<no>`` contradicts."""
    if (tests[f"p_{no}"] < alpha).any():
        return CONTRADICTED, tests.loc[tests[f"p_{no}"].idxmin()]
    deciding = tests.loc[tests[f"p_{yes}"].fillna(np.inf).idxmax()]
    missing = (tests["n_seeds"] == 0).any()
    return (SUPPORTED if not missing and (tests[f"p_{yes}"] < alpha).all() else INCONCLUSIVE), deciding


# One parameter per part of the claim row (setting, variant, the tests, which test, role, rule, plan).
def _claim_row(key, attack, tests, test, role, rule, plan) -> dict:
    yes, no = test
    verdict, deciding = _decide(tests, yes, no, plan["alpha"])
    per_seed = deciding["per_seed"]
    estimate, low, high = seed_interval(per_seed, 1 - 2 * plan["alpha"])
    verdict, gate = min_seeds_gate(verdict, len(per_seed), plan)
    missing = [b for b, n in zip(tests["baseline"], tests["n_seeds"]) if n == 0]
    passing = int((tests[f"p_{yes}"] < plan["alpha"]).sum())
    detail = join_notes(gate, f"{passing} of {len(tests)} baselines passed", "missing baselines: " + ", ".join(missing)
                        if missing else "", f"paper gain +{E6_PAPER_GAIN}", "Holm-adjusted p")
    statistic = f"{attack}_asr_minus_baseline_balanced_acc_fixed" + ("_vs_paper_gain" if yes == "reaches" else "")
    return verdict_row("E6", setting_label(key, attack), rule, statistic,
                       estimate, low, high, len(per_seed), verdict, E6_PAPER_GAIN if yes == "reaches" else np.nan,
                       detail, role=role, p_value=deciding[f"p_{yes}"],
                       mde=min_detectable_effect(per_seed, plan["alpha"], plan["power"]), deciding=deciding["baseline"])


def _baseline_row(key, attack, test, plan) -> dict:
    estimate, low, high = seed_interval(test["per_seed"], 1 - 2 * plan["alpha"])
    alpha = plan["alpha"]
    verdict = SUPPORTED if test["p_beats"] < alpha else CONTRADICTED if test["p_worse"] < alpha else INCONCLUSIVE
    verdict, gate = min_seeds_gate(verdict, test["n_seeds"], plan)
    detail = join_notes(gate, f"against +{E6_PAPER_GAIN}: Holm-adjusted p {test['p_reaches']:.4g} (reaches), "
                              f"{test['p_short']:.4g} (falls short)")
    return verdict_row("E6", setting_label(key, f"{attack} vs {test['baseline']}"), RULE_E6_BASELINE,
                       f"{attack}_asr_minus_{test['baseline']}_balanced_acc_fixed", estimate, low, high,
                       test["n_seeds"], verdict, detail=detail, role="level", p_value=test["p_beats"],
                       mde=min_detectable_effect(test["per_seed"], alpha, plan["power"]), deciding=test["baseline"])


def _context_rows(key, table, attack, baselines, plan) -> list[dict]:
    rows = []
    for baseline in baselines:
        per_seed = per_seed_differences(table, attack, baseline, "auc_abnormal", "auc_abnormal")
        if len(per_seed):
            rows.append(verdict_row("E6", setting_label(key, f"{attack} vs {baseline}"), RULE_E6_CONTEXT,
                                    f"{attack}_minus_{baseline}_auc_abnormal", *seed_interval(per_seed),
                                    len(per_seed), REPORTED, role="context", deciding=baseline,
                                    mde=min_detectable_effect(per_seed, plan["alpha"], plan["power"])))
    return rows


def verdict_e6(compression: pd.DataFrame, baselines=E6_BASELINES, attacks=E6_CMMIA_VARIANTS,
               plan: dict | None = None) -> pd.DataFrame:
    """E6 per setting and CM-MIA variant with an ``asr``: the claim row (primary for ``cm_mia``, secondary for
    the other variants), the row on reaching the paper's gain (secondary), one level row per baseline and
    the auc_abnormal context rows."""
    plan = plan or section("E6")
    table = compression[compression["shadows"] == "mixture"] if "shadows" in compression.columns else compression
    rows = []
    for key, group in group_settings(table):
        for attack in attacks:
            at = group[group["attack"] == attack]
            if "asr" not in group.columns or at["asr"].isna().all():
                continue
            tests = _baseline_tests(group, attack, baselines, plan["alpha"])
            role = "primary" if attack == attacks[0] else "secondary"
            rows += [_claim_row(key, attack, tests, ("beats", "worse"), role, RULE_E6, plan),
                     _claim_row(key, attack, tests, ("reaches", "short"), "secondary", RULE_E6_GAIN, plan)]
            rows += [_baseline_row(key, attack, test, plan) for _, test in tests.iterrows()]
            rows += _context_rows(key, group, attack, baselines, plan)
    return verdict_frame(rows)


def _notes(tables: dict) -> list[str]:
    """CM-MIA's tested share and its cost against testing every example."""
    if "compression" not in tables or "tested_frac" not in tables["compression"]:
        return []
    cm = tables["compression"][tables["compression"]["attack"] == "cm_mia"]
    full = tables["compression"][tables["compression"]["attack"] == "cm_mia_all"]
    if not len(cm) or not len(full):
        return []
    line = (f"CM-MIA tested {100 * cm['tested_frac'].mean():.1f}% of the examples on average (test used: "
            f"{', '.join(sorted(set(cm['test_used'].dropna())))}); end-to-end cost {cm['cost_seconds'].mean():.3f} s "
            f"vs {full['cost_seconds'].mean():.3f} s testing every example.")
    return [line, ""]


def _judge(tables: dict):
    return verdict_e6(tables["compression"]) if "compression" in tables else None


CLAIM = Claim("E6", "CM-MIA beats the baselines on compressed models (paper: +0.105)",
              "CM-MIA beats existing attacks on compressed models (+10.5% attack success rate on average) at lower "
              "cost, since only abnormal samples are tested.", _judge, notes=_notes)
