"""Per-seed attack statistics as C2 and C4 read them from ``attacks.csv``: the plan's primary metric (TPR at
the lowest FPR the non-member count resolves), the attack's advantage over chance, and per-seed curves over
IMP levels (a seed's value at a level is the mean over its target models: the plan's ``leave_one_out``).
The claims judge these tables only; per-example scores are not read."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .common import holm_adjusted


def tpr_column(fpr: float) -> str:
    """The attacks table's column of TPR at ``fpr`` (0.01 -> ``tpr@1%fpr``, 0.001 -> ``tpr@0.1%fpr``)."""
    return f"tpr@{100 * fpr:g}%fpr"


def primary_metric(rows: pd.DataFrame, plan: dict) -> tuple[str, str]:
    """(column, sentence): the lowest candidate FPR with ``n_out * fpr >= min_false_positives`` (the
    smallest non-member count of ``rows`` decides), else the largest candidate, said so (``fpr_fallback``)."""
    candidates = sorted(float(f) for f in plan["fpr_candidates"])
    needed = int(plan["min_false_positives"])
    n_out = float(rows["n_out"].min()) if "n_out" in rows and rows["n_out"].notna().any() else np.nan
    for i, fpr in enumerate(candidates):
        if np.isfinite(n_out) and n_out * fpr >= needed and tpr_column(fpr) in rows:
            lower = "".join(f" ({100 * f:g}% not resolved: n_out x {f:g} < {needed})" for f in candidates[:i])
            return tpr_column(fpr), (f"primary metric TPR at {100 * fpr:g}% FPR: n_out {n_out:.0f} x {fpr:g} "
                                     f">= {needed} false positives{lower}")
    fpr = candidates[-1]
    lower = ", ".join(f"{100 * f:g}%" for f in candidates[:-1])
    why = f"n_out {n_out:.0f} resolves no lower FPR ({lower} needs >= {needed} non-members above the threshold)" \
        if np.isfinite(n_out) else "no n_out column: the resolution of lower FPRs is unknown"
    return tpr_column(fpr), f"primary metric TPR at {100 * fpr:g}% FPR (the plan's fallback): {why}"


def chance(metric: str) -> float:
    """An attack's value at chance: AUC 0.5, TPR at x% FPR the FPR itself."""
    if metric == "auc":
        return 0.5
    if metric.startswith("tpr@") and metric.endswith("%fpr"):
        return float(metric[4:-4]) / 100
    raise ValueError(f"no chance level known for metric {metric!r}")


def imp_attack_rows(table: pd.DataFrame, attack: str) -> pd.DataFrame:
    rows = table[table["attack"] == attack]
    if "branch" in rows:
        rows = rows[rows["branch"] == "imp"]
    if "error" in rows:
        rows = rows[rows["error"].isna() | (rows["error"].astype(str).str.strip() == "")]
    return rows


def seed_curves(rows: pd.DataFrame, column: str) -> pd.DataFrame:
    """Seeds x IMP levels of ``column``: per (seed, level) the mean over the seed's target models."""
    return rows.pivot_table(index="seed", columns="level", values=column, aggfunc="mean").sort_index(axis=1)


def level_sparsity(rows: pd.DataFrame) -> pd.Series:
    return rows.groupby("level")["sparsity"].mean().sort_index()


def n_targets_note(rows: pd.DataFrame) -> str:
    if "target_model" not in rows:
        return "one target model per seed (no target_model column)"
    per_seed = rows.groupby("seed")["target_model"].nunique()
    low, high = int(per_seed.min()), int(per_seed.max())
    return f"per-seed value = mean over {low if low == high else f'{low}-{high}'} target model(s)"


def claim_attacks(plan: dict, present) -> list[str]:
    """The plan's primary attack then its secondary attacks, those present in the table."""
    named = [plan["primary_attack"], *plan["secondary_attacks"]]
    return [attack for attack in dict.fromkeys(named) if attack in set(present)]


def holm_adjust(rows: list[dict], alpha: float) -> np.ndarray:
    """Holm-adjusted ``p_value`` of ``rows`` (NaN p-values are left out of the family and stay NaN)."""
    return holm_adjusted([row["p_value"] for row in rows], alpha)


def levels_text(levels) -> str:
    return ", ".join(str(int(level)) for level in levels) or "none"
