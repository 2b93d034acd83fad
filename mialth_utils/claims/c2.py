"""C2: tickets are equally vulnerable to MIA as the dense network: TOST per IMP level of ticket minus dense,
paired within seed (analysis plan section C2), from ``attacks.csv``.

Per (attack, metric): a seed's value at a level is the mean over its target models; the per-seed
difference ticket minus dense is tested against the margin ``margin_relative x (dense - chance)`` (dense
advantage averaged over seeds). The headline (``primary``) row is the plan's primary attack at the primary
metric (TPR at the lowest resolvable FPR); the plan's secondary attacks at that metric, and every attack at
AUC, are ``secondary`` rows whose claim-level p (the largest TOST p over levels) is Holm-adjusted together.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..analysis_plan import section
from ..stats import (
    CONTRADICTED,
    EQUIVALENT_BUT_DIFFERENT,
    INCONCLUSIVE,
    SUPPORTED,
    VERDICTS,
    min_detectable_effect,
    tost,
)
from .common import Claim, group_settings, join_notes, setting_label, verdict_frame, verdict_row
from .scores import (
    chance,
    claim_attacks,
    holm_adjust,
    imp_attack_rows,
    level_sparsity,
    levels_text,
    n_targets_note,
    primary_metric,
    seed_curves,
)

PLAN = section("C2")


RULE_C2_LEVEL = (f"ticket minus dense per seed (mean over target models), TOST at alpha {PLAN['alpha']} with margin "
                 f"m = {PLAN['margin_relative']} x (dense - chance): equivalent if the 90% t-interval lies in [-m, m]; "
                 "equivalent_but_different if also the 95% interval excludes 0; contradicted if the 95% interval "
                 "lies outside [-m, m]; else inconclusive")


RULE_C2 = (f"{PLAN['rule']} Claim-level p: {PLAN['claim_p']}; secondary rows: Holm over the secondary attacks and "
           "metrics of the setting (equivalence needs the adjusted p < alpha).")


def few_seeds(n_seeds: int) -> str:
    return f"n seeds < {PLAN['min_seeds']}" if n_seeds < PLAN["min_seeds"] else ""


def verdict_c2(attacks: pd.DataFrame) -> pd.DataFrame:
    """C2 level rows and claim rows per setting, attack (plan's primary and secondary) and metric."""
    rows = []
    for key, group in group_settings(attacks):
        present = claim_attacks(PLAN, group["attack"].unique())
        if PLAN["primary_attack"] not in present:
            continue
        metric, metric_note = primary_metric(imp_attack_rows(group, PLAN["primary_attack"]), PLAN)
        jobs = [(a, metric) for a in present] + [(a, PLAN["secondary_metric"]) for a in present]
        claim_rows = []
        for attack, column in dict.fromkeys(jobs):
            judged = judge_attack(imp_attack_rows(group, attack), column)
            if judged is None:
                continue
            primary = (attack, column) == (PLAN["primary_attack"], metric)
            level_rows = [_level_row(key, attack, column, lv) for lv in judged["levels"]]
            claim_rows.append(_claim_row(key, attack, column, judged, primary, metric_note))
            rows += level_rows
        _apply_holm([r for r in claim_rows if r["verdict_role"] == "secondary"])
        rows += claim_rows
    return verdict_frame(rows)


def judge_attack(rows: pd.DataFrame, metric: str) -> dict | None:
    """Per-level TOST of ticket minus dense for one attack and metric; None without dense and ticket values."""
    if rows.empty or metric not in rows or rows[metric].isna().all():
        return None
    curves = seed_curves(rows, metric)
    if 0 not in curves.columns or len(curves.columns) < 2:
        return None
    advantage = float((curves[0] - chance(metric)).mean())
    margin = PLAN["margin_relative"] * advantage
    sparsity = level_sparsity(rows)
    levels = []
    for level in [lv for lv in curves.columns if lv != 0]:
        values = (curves[level] - curves[0]).dropna().to_numpy()
        result = tost(values, margin, PLAN["alpha"]) if margin > 0 else tost(values, np.nan, PLAN["alpha"])
        levels.append({"level": int(level), "sparsity": float(sparsity.get(level, np.nan)), "values": values,
                       "margin": margin, **result, "verdict": level_verdict(result, margin, len(values))})
    return {"levels": levels, "advantage": advantage, "margin": margin, "dense": float(curves[0].mean()),
            "targets": n_targets_note(rows)}


def level_verdict(result: dict, margin: float, n_seeds: int) -> str:
    """The plan's per-level outcome from the TOST intervals (90% for equivalence, 95% for a difference)."""
    if few_seeds(n_seeds) or not margin > 0 or not np.isfinite(result["low90"]) or not np.isfinite(result["p_tost"]):
        return INCONCLUSIVE  # no interval, or no spread across seeds (the t-tests are undefined)
    if result["low95"] > margin or result["high95"] < -margin:
        return CONTRADICTED
    if -margin <= result["low90"] and result["high90"] <= margin:
        different = result["low95"] > 0 or result["high95"] < 0
        return EQUIVALENT_BUT_DIFFERENT if different else SUPPORTED
    return INCONCLUSIVE


def direction_text(levels: list[dict]) -> str:
    """Where the 95% interval excludes 0: tickets more / less vulnerable, by level."""
    more = [lv["level"] for lv in levels if lv["low95"] > 0]
    less = [lv["level"] for lv in levels if lv["high95"] < 0]
    parts = [f"tickets more vulnerable (95% interval above 0) at levels {levels_text(more)}" if more else "",
             f"tickets less vulnerable (95% interval below 0) at levels {levels_text(less)}" if less else ""]
    if not more and not less:
        return "no level differs measurably from dense (every 95% interval contains 0)"
    chance_count = PLAN["alpha"] * len(levels)  # the plan's per-level rule has no correction across levels
    return join_notes(*parts, f"{len(more) + len(less)} of {len(levels)} levels; about {chance_count:.1f} expected "
                      "by chance with no effect (the per-level test is uncorrected)")


def claim_verdict(levels: list[dict]) -> tuple[str, dict]:
    """(verdict, deciding level): the contradicting level farthest outside the margin, else the worst TOST p."""
    verdicts = [lv["verdict"] for lv in levels]
    contradicting = [lv for lv in levels if lv["verdict"] == CONTRADICTED]
    if contradicting:
        return CONTRADICTED, max(contradicting, key=lambda lv: max(lv["low95"], -lv["high95"]) - lv["margin"])
    deciding = max(levels, key=lambda lv: np.nan_to_num(lv["p_tost"], nan=np.inf))
    if all(v == SUPPORTED for v in verdicts):
        return SUPPORTED, deciding
    if all(v in (SUPPORTED, EQUIVALENT_BUT_DIFFERENT) for v in verdicts):
        return EQUIVALENT_BUT_DIFFERENT, deciding
    return INCONCLUSIVE, deciding


def _level_row(key, attack, metric, lv) -> dict:
    return verdict_row("C2", setting_label(key, attack, f"level {lv['level']} (sparsity {lv['sparsity']:.3f})"),
                       RULE_C2_LEVEL, f"ticket_minus_dense_{metric}", lv["estimate"], lv["low90"], lv["high90"],
                       len(lv["values"]), lv["verdict"], lv["margin"],
                       join_notes(f"95% interval [{lv['low95']:.4f}, {lv['high95']:.4f}]", few_seeds(len(lv["values"]))),
                       "level", lv["p_tost"], min_detectable_effect(lv["values"], PLAN["alpha"], PLAN["power"]),
                       f"level {lv['level']}")


# One parameter per piece of the claim row: the setting, the attack and metric judged, their levels, the role.
def _claim_row(key, attack, metric, judged, primary, metric_note) -> dict:
    levels = judged["levels"]
    verdict, deciding = claim_verdict(levels)
    n_seeds = min(len(lv["values"]) for lv in levels)
    verdict = INCONCLUSIVE if few_seeds(n_seeds) else verdict
    counts = [lv["verdict"] for lv in levels]
    p_claim = max(np.nan_to_num(lv["p_tost"], nan=1.0) for lv in levels)  # intersection-union: max over levels
    label = f"level {deciding['level']} (sparsity {deciding['sparsity']:.3f})"
    why = "contradicting level" if verdict == CONTRADICTED else "worst TOST p"
    chance_text = f"chance {chance(metric):g}"
    detail = join_notes(f"deciding: {label} ({why})", "levels: " + ", ".join(
        f"{counts.count(v)} {v}" for v in VERDICTS if v in counts), direction_text(levels),
        f"margin {judged['margin']:.4f} = {PLAN['margin_relative']} x dense advantage {judged['advantage']:.4f} "
        f"(dense {metric} {judged['dense']:.4f} - {chance_text}, mean over seeds)",
        metric_note if metric.startswith("tpr") else "", judged["targets"], few_seeds(n_seeds))
    return verdict_row("C2", setting_label(key, attack), RULE_C2, f"ticket_minus_dense_{metric} (deciding level)",
                       deciding["estimate"], deciding["low90"], deciding["high90"], n_seeds, verdict, judged["margin"],
                       detail, "primary" if primary else "secondary", p_claim,
                       min_detectable_effect(deciding["values"], PLAN["alpha"], PLAN["power"]), label)


def _apply_holm(rows: list[dict]) -> None:
    """Secondary rows: Holm-adjusted claim-level p; an equivalence not significant after Holm is inconclusive."""
    for row, adjusted in zip(rows, holm_adjust(rows, PLAN["alpha"])):
        row["p_value"] = float(adjusted)
        row["detail"] = join_notes(row["detail"], f"Holm over {len(rows)} secondary rows")
        if row["verdict"] in (SUPPORTED, EQUIVALENT_BUT_DIFFERENT) and not adjusted < PLAN["alpha"]:
            row["verdict"] = INCONCLUSIVE
            row["detail"] = join_notes(row["detail"], "equivalent before Holm, not after")


def _judge(tables: dict):
    return verdict_c2(tables["attacks"]) if "attacks" in tables else None


CLAIM = Claim("C2", "tickets are equally vulnerable as the dense network",
              "Tickets are equally vulnerable to MIA as the dense network.", _judge,
              level_statistics=tuple(f"ticket_minus_dense_{m}" for m in ("auc", "tpr@1%fpr", "tpr@0.1%fpr")))
