"""C3: attack accuracy varies directly with the number of classes (once the train-test gap is
accounted for)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..stats import INCONCLUSIVE, ols, percentile_interval, sign_verdict
from .common import (
    CI_TEXT,
    Claim,
    format_interval,
    group_settings,
    join_notes,
    seed_note,
    setting_label,
    verdict_frame,
    verdict_row,
)

RULE_C3 = (f"OLS auc ~ 1 + n_classes + gap over units (seed, subset, n_classes) at level 0; {CI_TEXT} of the n_classes "
           "coefficient by a cluster bootstrap over seeds (over units with one seed): supported if ci_low > 0, "
           "contradicted if ci_high < 0, else inconclusive")


def _class_slopes(units: pd.DataFrame) -> tuple[float, float]:
    """(adjusted, unadjusted) n_classes coefficients; NaN where the design is rank deficient."""
    ones = np.ones(len(units))
    k, gap, auc = (units[c].to_numpy(float) for c in ("n_classes", "gap", "auc"))
    adjusted = ols(np.column_stack([ones, k, gap]), auc)
    unadjusted = ols(np.column_stack([ones, k]), auc)
    return (np.nan if adjusted is None else adjusted[1]), (np.nan if unadjusted is None else unadjusted[1])


def _cluster_bootstrap(units: pd.DataFrame, n_boot: int, seed: int = 0) -> np.ndarray:
    """(n_boot, 2) refitted slopes, resampling seeds with replacement (units when there is one seed)."""
    clusters = [g.index.to_numpy() for _, g in units.groupby("seed")]
    if len(clusters) < 2:
        clusters = [np.array([i]) for i in units.index]
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(clusters), size=(n_boot, len(clusters)))
    return np.array([_class_slopes(units.loc[np.concatenate([clusters[i] for i in draw])]) for draw in draws])


def verdict_c3(class_count: pd.DataFrame, attacks=None, n_boot: int = 2000) -> pd.DataFrame:
    """C3: does AUC rise with the number of classes once the train-test gap is accounted for?

    Units are (seed, subset, n_classes) rows at level 0 for each named attack (every attack in the
    table when ``attacks`` is None, each judged on its own); the verdict is on the gap-adjusted slope.
    """
    table = class_count
    if "level" in table.columns:
        table = table[table["level"] == 0]
    rows = []
    for key, group in group_settings(table, extra=("attack",)):
        attack = key.pop("attack")
        if attacks is not None and attack not in attacks:
            continue
        units = group[["seed", "n_classes", "gap", "auc"]].dropna().reset_index(drop=True)
        rows.append(_c3_row(key, attack, units, n_boot))
    return verdict_frame(rows)


def _c3_row(key, attack, units, n_boot) -> dict:
    n_seeds = units["seed"].nunique()
    adjusted, unadjusted = _class_slopes(units)
    gap_by_k = ", ".join(f"{k}: {g:.3f}" for k, g in units.groupby("n_classes")["gap"].mean().items())
    statistic, setting = "auc_per_class_adjusted_for_gap", setting_label(key, attack)
    context = f"mean gap per k: {gap_by_k}; {len(units)} units"
    if not np.isfinite(adjusted) or len(units) <= 3:
        reason = ("gap constant or collinear with n_classes: the class effect cannot be separated from the gap"
                  if not np.isfinite(adjusted) else "no more units than coefficients: needs several subsets per k")
        return verdict_row("C3", setting, RULE_C3, statistic, adjusted, np.nan, np.nan, n_seeds, INCONCLUSIVE,
                    detail=join_notes(reason, f"unadjusted slope {unadjusted:.4f}/class", context))
    samples = _cluster_bootstrap(units, n_boot)
    failed = int(np.isnan(samples[:, 0]).sum())
    low, high = percentile_interval(samples[:, 0]) if failed <= n_boot // 2 else (np.nan, np.nan)
    detail = join_notes(f"unadjusted slope {format_interval(unadjusted, *percentile_interval(samples[:, 1]))}/class", context,
                   "1 seed: bootstrap over units, the interval does not cover training seeds" if n_seeds < 2
                   else f"cluster bootstrap over {n_seeds} seeds",
                   f"{failed} of {n_boot} resamples rank deficient" + (" (dropped)" if failed <= n_boot // 2 else
                                                                         ": too many, no interval") if failed else "",
                   seed_note(n_seeds) if n_seeds > 1 else "")
    return verdict_row("C3", setting, RULE_C3, statistic, adjusted, low, high, n_seeds, sign_verdict(low, high),
                detail=detail)


def _notes(tables: dict) -> list[str]:
    """The train-test gap behind the verdict, by class count."""
    if "class_count" not in tables:
        return []
    cc = tables["class_count"]
    gap = cc[cc["level"] == 0].groupby("n_classes")["gap"].mean()
    return ["Mean train-test gap by class count: " + ", ".join(f"{k}: {v:.3f}" for k, v in gap.items()) + ".", ""]


def _judge(tables: dict, score_runs, attacks, n_boot: int):
    return verdict_c3(tables["class_count"], attacks) if "class_count" in tables else None


CLAIM = Claim("C3", "attack accuracy varies directly with the number of classes",
              "Attack accuracy varies directly with the number of classes.", _judge, notes=_notes)
