"""C3: attack accuracy varies directly with the number of classes (the total effect of the class count).

Judged as the analysis plan's section C3 says: per seed, the metric at level 0 for each class count
(target models averaged within a subset, subsets within a seed), then Page's trend test with seeds as
blocks and the class counts as ordered treatments, one-sided increasing. The train-test gap mediates
the effect (fewer classes, easier task, smaller gap), so the gap-adjusted coefficient is a context row,
never the verdict.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..analysis_plan import section
from ..stats import (
    CONTRADICTED,
    INCONCLUSIVE,
    REPORTED,
    SUPPORTED,
    min_detectable_effect,
    ols,
    page_trend,
    seed_interval,
    slopes,
)
from .scores import primary_metric
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

RULE_C3 = ("Page's trend test over n_classes at level 0 (seeds as blocks; target models, then class subsets averaged "
           "within a seed), one-sided at the plan's alpha: supported if the increasing trend is significant, "
           "contradicted if the decreasing one is, else inconclusive; < min_seeds seeds: inconclusive. Estimate: "
           "mean over seeds of the per-seed least-squares slope of the metric on n_classes (per class), 95% "
           "t-interval across seeds")
RULE_C3_SECONDARY = RULE_C3 + "; secondary attacks and AUC: Page's p-values Holm-adjusted within the claim"
RULE_C3_CONTEXT = ("context, never the verdict (the gap mediates the class effect): per seed the n_classes coefficient "
                   "of OLS metric ~ 1 + n_classes + gap over (subset, n_classes) units, mean and 95% t-interval "
                   "across seeds; corr(n_classes, gap) in the detail")


def seed_matrix(rows: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Seeds x ordered class counts: the metric averaged over target models within a subset, then subsets."""
    unit_keys = [c for c in ("seed", "subset", "n_classes") if c in rows.columns]
    units = rows.groupby(unit_keys, dropna=False)[metric].mean().reset_index()
    return units.groupby(["seed", "n_classes"])[metric].mean().unstack("n_classes").sort_index(axis=1)


def _trend(matrix: pd.DataFrame) -> dict:
    """Page's test both ways and the per-seed slopes on n_classes."""
    complete = matrix.dropna()
    ks = complete.columns.to_numpy(float)
    per_seed = (slopes(ks, complete.to_numpy(float).T) if len(complete) and len(ks) > 1
                else np.full(len(complete), np.nan))
    _, p_up = page_trend(complete.to_numpy(float), increasing=True)
    _, p_down = page_trend(complete.to_numpy(float), increasing=False)
    return {"per_seed": per_seed, "p_up": p_up, "p_down": p_down, "n_seeds": len(complete),
            "ks": [int(k) for k in ks]}


def _trend_verdict(p_up: float, p_down: float, alpha: float) -> str:
    return SUPPORTED if p_up < alpha else CONTRADICTED if p_down < alpha else INCONCLUSIVE


def _gap_coefficients(rows: pd.DataFrame, metric: str) -> tuple[np.ndarray, float]:
    """Per-seed n_classes coefficient of OLS metric ~ 1 + n_classes + gap (NaN where rank deficient), and the
    pooled corr(n_classes, gap) over the units."""
    unit_keys = [c for c in ("seed", "subset", "n_classes") if c in rows.columns]
    units = rows.groupby(unit_keys, dropna=False)[[metric, "gap"]].mean().reset_index().dropna()
    coefficients = []
    for _, seed_units in units.groupby("seed"):
        k, gap, y = (seed_units[c].to_numpy(float) for c in ("n_classes", "gap", metric))
        fit = ols(np.column_stack([np.ones(len(k)), k, gap]), y) if len(k) > 3 else None
        coefficients.append(np.nan if fit is None else fit[1])
    k, gap = units["n_classes"].to_numpy(float), units["gap"].to_numpy(float)
    corr = float(np.corrcoef(k, gap)[0, 1]) if len(units) > 2 and np.ptp(k) > 0 and np.ptp(gap) > 0 else np.nan
    return np.asarray(coefficients, float), corr


# One parameter per part of the trend row (setting, attack, metric, the trend, its role, p, plan, notes).
def _trend_row(key, attack, metric, trend, role, p_value, verdict, plan, note="") -> dict:
    estimate, low, high = seed_interval(trend["per_seed"])
    verdict, gate = min_seeds_gate(verdict, trend["n_seeds"], plan)
    ks = "<".join(map(str, trend["ks"]))
    detail = join_notes(gate, f"Page's p increasing {trend['p_up']:.4g}, decreasing {trend['p_down']:.4g}",
                        "estimate: mean per-seed slope per class", note)
    return verdict_row("C3", setting_label(key, attack), RULE_C3 if role == "primary" else RULE_C3_SECONDARY,
                       f"trend_{metric}_vs_n_classes", estimate, low, high, trend["n_seeds"], verdict, detail=detail,
                       role=role, p_value=p_value, mde=min_detectable_effect(trend["per_seed"], plan["alpha"],
                                                                             plan["power"]),
                       deciding=f"level 0, n_classes {ks}")


def _context_row(key, attack, metric, rows, plan) -> dict:
    coefficients, corr = _gap_coefficients(rows, metric)
    estimate, low, high = seed_interval(coefficients)
    n_fitted = int(np.isfinite(coefficients).sum())
    detail = join_notes(f"corr(n_classes, gap) = {corr:.3f} over (seed, subset, n_classes) units",
                        f"{len(coefficients) - n_fitted} seeds rank deficient (too few units or gap collinear)"
                        if n_fitted < len(coefficients) else "")
    return verdict_row("C3", setting_label(key, attack), RULE_C3_CONTEXT, f"{metric}_per_class_adjusted_for_gap",
                       estimate, low, high, n_fitted, REPORTED, detail=detail, role="context",
                       mde=min_detectable_effect(coefficients, plan["alpha"], plan["power"]), deciding="level 0")


def verdict_c3(class_count: pd.DataFrame, attacks=None, plan: dict | None = None) -> pd.DataFrame:
    """C3 per setting: the primary row (the plan's primary attack and metric), secondary rows (the other
    attacks on the primary metric, every attack on AUC; Holm within the claim) and context rows (the
    gap-adjusted coefficient of the primary attack)."""
    plan = plan or section("C3")
    table = class_count[class_count["level"] == 0] if "level" in class_count.columns else class_count
    rows = []
    for key, group in group_settings(table):
        metric, note = primary_metric(group, plan)
        present = [a for a in dict.fromkeys(group["attack"]) if attacks is None or a in attacks]
        tests = [(a, m) for m in dict.fromkeys((metric, "auc")) for a in present if m in group.columns]
        trends = {test: _trend(seed_matrix(group[group["attack"] == test[0]], test[1])) for test in tests}
        primary = (plan["primary_attack"], metric)
        secondary = [t for t in tests if t != primary and np.isfinite(trends[t]["p_up"])]
        if primary in trends:
            trend = trends[primary]
            rows.append(_trend_row(key, primary[0], metric, trend, "primary", trend["p_up"],
                                   _trend_verdict(trend["p_up"], trend["p_down"], plan["alpha"]), plan, note))
        rows += _secondary_rows(key, secondary, trends, plan, note)
        if primary[0] in present and "gap" in group.columns:
            at = group[group["attack"] == primary[0]]
            rows += [_context_row(key, primary[0], m, at, plan) for m in dict.fromkeys((metric, "auc"))
                     if m in group.columns]
    return verdict_frame(rows)


def _secondary_rows(key, tests, trends, plan, note) -> list[dict]:
    """Holm over the secondary tests, once for the increasing and once for the decreasing direction."""
    if not tests:
        return []
    alpha = plan["alpha"]
    up = holm_adjusted([trends[t]["p_up"] for t in tests], alpha)
    down = holm_adjusted([trends[t]["p_down"] for t in tests], alpha)
    return [_trend_row(key, attack, metric, trends[(attack, metric)], "secondary", p_up,
                       _trend_verdict(p_up, p_down, alpha), plan, join_notes(note, "p_value Holm-adjusted; the Page p-values here raw"))
            for (attack, metric), p_up, p_down in zip(tests, up, down)]


def _notes(tables: dict) -> list[str]:
    """The train-test gap behind the verdict, by class count."""
    if "class_count" not in tables:
        return []
    cc = tables["class_count"]
    gap = cc[cc["level"] == 0].groupby("n_classes")["gap"].mean()
    return ["Mean train-test gap by class count: " + ", ".join(f"{k}: {v:.3f}" for k, v in gap.items()) + ".", ""]


def _judge(tables: dict):
    plan = section("C3")
    attacks = [plan["primary_attack"], *plan["secondary_attacks"]]
    return verdict_c3(tables["class_count"], attacks, plan) if "class_count" in tables else None


CLAIM = Claim("C3", "attack accuracy varies directly with the number of classes",
              "Attack accuracy varies directly with the number of classes.", _judge, notes=_notes)
