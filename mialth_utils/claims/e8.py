"""E8: seeing the dense model and its tickets together leaks more than either alone (CompLeak's setting on
the IMP chain), judged as the analysis plan's section E8 says, from ``chain.csv`` (11_ticket_chain) and
``attacks.csv`` (03_lth_attack).

Per seed: chain_mr over levels 0..L (L the deepest level) at the primary metric, the mean over the seed's
target models, minus the best single-model attack: the largest, over every attack with leave-one-out rows
and every level 0..L, of that attack's mean over the same target models. One-sided t across seeds.
The comparator is picked per seed after the fact, so it is biased upward: the test is conservative.
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
    rows_of_setting,
    setting_label,
    verdict_frame,
    verdict_row,
)
from .scores import n_targets_note, primary_metric

PLAN = section("E8")

RULE_E8 = (f"{PLAN['rule']} Per seed: the attack's mean over the seed's target models minus the best single-model "
           "attack's (the largest over the attacks with leave-one-out rows and the levels compared); 90% t-interval "
           "(the one-sided tests at alpha read its ends).")
RULE_E8_LEVEL = ("context: chain_mr over levels 0..L minus the best single-model attack over levels 0..L, per seed, "
                 "mean and 95% t-interval")


def leave_one_out_attacks(attacks: pd.DataFrame) -> list[str]:
    """The single-model attacks the comparator takes its maximum over: those with leave-one-out rows."""
    rows = attacks[attacks["target_model"] > 0] if "target_model" in attacks else attacks.iloc[:0]
    if "error" in rows:
        rows = rows[rows["error"].isna()]
    return sorted(rows["attack"].unique())


def best_single_model(attacks: pd.DataFrame, targets, levels, column: str) -> tuple[float, str]:
    """(value, "attack@level") of the best single-model attack of one seed's ``attacks`` rows: the largest
    mean over ``targets`` of ``column``, over the leave-one-out attacks and ``levels`` of the IMP branch;
    only (attack, level) pairs with a value for every target count. NaN and "" when none has."""
    targets, levels = set(int(t) for t in targets), set(int(v) for v in levels)
    if "target_model" not in attacks:  # a table from before leave-one-out: model 0 is every row's target
        attacks = attacks.assign(target_model=0)
    rows = attacks[attacks["attack"].isin(leave_one_out_attacks(attacks)) & attacks["target_model"].isin(targets)
                   & attacks["level"].isin(levels)]
    if "branch" in rows:
        rows = rows[rows["branch"] == "imp"]
    rows = rows.dropna(subset=[column])
    grouped = rows.groupby(["attack", "level"])
    means = grouped[column].mean()[grouped["target_model"].nunique() == len(targets)]
    if means.empty:
        return np.nan, ""
    attack, level = means.idxmax()
    return float(means.max()), f"{attack}@L{int(level)}"


def seed_gains(chain: pd.DataFrame, attacks: pd.DataFrame, attack: str, level: int, compared_levels,
               column: str) -> pd.DataFrame:
    """Per seed: ``attack`` at ``level`` (mean over targets), the best single-model attack over
    ``compared_levels(level)`` on the same targets, their difference and which attack was best."""
    rows = []
    for seed, group in chain[(chain["attack"] == attack) & (chain["level"] == level)].groupby("seed"):
        targets = group["target_model"].unique()
        best, which = best_single_model(attacks[attacks["seed"] == seed], targets, compared_levels(level), column)
        value = float(group[column].mean())
        rows.append({"seed": seed, "chain": value, "best": best, "best_attack": which, "gain": value - best})
    return pd.DataFrame(rows, columns=["seed", "chain", "best", "best_attack", "gain"])


def _row(key, name, gains: pd.DataFrame, statistic: str, role: str, p_greater: float, p_less: float, note: str):
    alpha = PLAN["alpha"]
    estimate, low, high = seed_interval(gains["gain"], 1 - 2 * alpha)
    verdict = SUPPORTED if p_greater < alpha else CONTRADICTED if p_less < alpha else INCONCLUSIVE
    verdict, gate = min_seeds_gate(verdict, len(gains), PLAN)
    best = ", ".join(f"seed {int(s)}: {w}" for s, w in zip(gains["seed"], gains["best_attack"]))
    detail = join_notes(gate, note, f"chain {gains['chain'].mean():.4f} vs best single {gains['best'].mean():.4f}",
                        f"best single-model attack per seed: {best}")
    return verdict_row("E8", setting_label(key, name), RULE_E8, statistic, estimate, low, high, len(gains), verdict,
                       0.0, detail, role=role, p_value=p_greater,
                       mde=min_detectable_effect(gains["gain"], alpha, PLAN["power"]),
                       deciding=gains["best_attack"].mode().iloc[0] if len(gains) else "")


def verdict_e8(chain: pd.DataFrame, attacks: pd.DataFrame) -> pd.DataFrame:
    """E8 per setting: the primary row (chain_mr over the whole chain at the primary metric), two secondary
    rows (chain_sr at the deepest level against dense and the deepest ticket; chain_mr at AUC), Holm over the
    secondaries, and a context row per level L (chain_mr over 0..L against the best single model over 0..L)."""
    rows = []
    for key, group in group_settings(chain):
        same = rows_of_setting(attacks, key)
        if same.empty:
            continue
        deepest = int(group["level"].max())
        metric, metric_note = primary_metric(group[group["attack"] == PLAN["primary_attack"]], PLAN)
        whole = lambda level: range(0, level + 1)  # noqa: E731 (the chain's levels up to L)
        ends = lambda level: (0, level)  # noqa: E731 (the dense model and the ticket at L)
        jobs = [(PLAN["primary_attack"], metric, whole, "primary", metric_note)]
        jobs += [(a, metric, ends, "secondary", "against the better of dense and the deepest ticket")
                 for a in PLAN["secondary_attacks"]]
        jobs += [(PLAN["primary_attack"], "auc", whole, "secondary", "AUC")]
        judged = []
        for attack, column, levels, role, note in jobs:
            gains = seed_gains(group, same, attack, deepest, levels, column).dropna(subset=["gain"])
            if gains.empty:
                continue
            p_greater, p_less = t_p_value(gains["gain"], 0.0, "greater"), t_p_value(gains["gain"], 0.0, "less")
            seen = f"L0..{deepest}" if levels is whole else f"L{deepest} vs L0"
            judged.append([key, f"{attack} {seen} vs best single ({column})", gains,
                           f"{attack}_minus_best_single_{column}", role, p_greater, p_less,
                           join_notes(note, n_targets_note(group[group["attack"] == attack]))])
        secondary = [j for j in judged if j[4] == "secondary"]
        for j, p_g, p_l in zip(secondary, holm_adjusted([j[5] for j in secondary], PLAN["alpha"]),
                               holm_adjusted([j[6] for j in secondary], PLAN["alpha"])):
            j[5], j[6], j[7] = p_g, p_l, join_notes(j[7], "Holm-adjusted p over the secondary rows")
        rows += [_row(*j) for j in judged]
        for level in sorted(group["level"].unique()):
            gains = seed_gains(group, same, PLAN["primary_attack"], int(level), whole, metric).dropna(subset=["gain"])
            if len(gains):
                rows.append(verdict_row("E8", setting_label(key, f"chain_mr L0..{int(level)}"), RULE_E8_LEVEL,
                                        f"chain_mr_minus_best_single_{metric}", *seed_interval(gains["gain"]),
                                        len(gains), REPORTED, role="context",
                                        deciding=gains["best_attack"].mode().iloc[0]))
    return verdict_frame(rows)


def _judge(tables: dict):
    if "chain" not in tables or "attacks" not in tables:
        return None
    return verdict_e8(tables["chain"], tables["attacks"])


CLAIM = Claim("E8", PLAN["title"],
              "CompLeak (USENIX Security 2026) reports that an adversary who sees an original model and its compressed "
              "versions together (SR: the original as the compressed model's reference; MR: several compressed "
              "versions combined) learns more about membership than from one model. An IMP run is that setting: a "
              "dense model and a chain of nested tickets trained on the same members.", _judge)
