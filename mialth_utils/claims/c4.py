"""C4: attack accuracy varies directly with the sparsity of the network: Page's trend test over IMP levels with
seeds as blocks (analysis plan section C4), from ``attacks.csv``; no straight line is assumed.

Per (attack, metric) a seed's curve is its per-level mean over target models. The verdict reads Page's test
over all levels (increasing and decreasing) and on the deep half (sparsity >= ``deep_sparsity``, decreasing)
and shallow half (increasing). The estimate shown is the mean per-seed Spearman correlation of the metric
with the level (a monotone association, t-interval across seeds). Context rows (verdict "reported"): the
leakage at matched test accuracy and IMP against one-shot pruning at equal sparsity."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..analysis_plan import section
from ..stats import (
    CONTRADICTED,
    INCONCLUSIVE,
    REPORTED,
    SUPPORTED,
    min_detectable_effect,
    page_trend,
    seed_interval,
    t_p_value,
)
from .common import Claim, group_settings, join_notes, setting_label, verdict_frame, verdict_row
from .scores import (
    claim_attacks,
    holm_adjust,
    imp_attack_rows,
    level_sparsity,
    n_targets_note,
    primary_metric,
    seed_curves,
)

PLAN = section("C4")


RULE_C4 = (f"{PLAN['rule']} Page's test: seeds as blocks, IMP levels as ordered treatments, one-sided, alpha "
           f"{PLAN['alpha']}; deep half = sparsity >= {PLAN['deep_sparsity']}. Secondary rows: Holm over the "
           "secondary attacks and metrics on the all-level p-values (increasing and decreasing families).")


def few_seeds(n_seeds: int) -> str:
    return f"n seeds < {PLAN['min_seeds']}" if n_seeds < PLAN["min_seeds"] else ""


def verdict_c4(attacks: pd.DataFrame, compression: pd.DataFrame | None = None,
               compression_models: pd.DataFrame | None = None) -> pd.DataFrame:
    """C4 trend rows per setting, attack and metric; the two context comparisons where their tables exist."""
    rows = []
    for key, group in group_settings(attacks):
        present = claim_attacks(PLAN, group["attack"].unique())
        if PLAN["primary_attack"] not in present:
            continue
        metric, metric_note = primary_metric(imp_attack_rows(group, PLAN["primary_attack"]), PLAN)
        trend_rows = []
        for attack, column in dict.fromkeys([(a, metric) for a in present] + [(a, "auc") for a in present]):
            rows_attack = imp_attack_rows(group, attack)
            if column not in rows_attack or rows_attack[column].isna().all():
                continue
            primary = (attack, column) == (PLAN["primary_attack"], metric)
            trend = trend_test(seed_curves(rows_attack, column).dropna(), level_sparsity(rows_attack))
            if trend is not None:
                trend_rows.append(_trend_row(key, attack, column, trend, primary,
                                             join_notes(metric_note if column.startswith("tpr") else "",
                                                        n_targets_note(rows_attack))))
        _apply_holm([r for r in trend_rows if r["verdict_role"] == "secondary"])
        rows += [{k: v for k, v in r.items() if k != "_trend"} for r in trend_rows]
        rows += matched_accuracy_rows(key, imp_attack_rows(group, PLAN["primary_attack"]), metric)
        if compression is not None and compression_models is not None:
            rows += one_shot_rows(key, compression, compression_models)
    return verdict_frame(rows)


def trend_test(curves: pd.DataFrame, sparsity: pd.Series) -> dict | None:
    """Page's tests over all levels and the two halves, the shape and the peak of the seed-mean curve."""
    if curves.shape[0] < 2 or curves.shape[1] < 3:
        return None
    levels = list(curves.columns)
    deep = [lv for lv in levels if sparsity.get(lv, np.nan) >= PLAN["deep_sparsity"]]
    shallow = [lv for lv in levels if lv not in deep]
    result = {"n_seeds": curves.shape[0], "levels": levels, "deep": deep,
              "p_inc": page_trend(curves.to_numpy(), True)[1], "p_dec": page_trend(curves.to_numpy(), False)[1],
              "p_deep_dec": page_trend(curves[deep].to_numpy(), False)[1] if len(deep) >= 3 else np.nan,
              "p_shallow_inc": page_trend(curves[shallow].to_numpy(), True)[1] if len(shallow) >= 3 else np.nan}
    rho = [stats.spearmanr(levels, row).statistic if np.ptp(row) > 0 else 0.0 for row in curves.to_numpy()]
    result["rho"] = np.asarray(rho, float)
    mean = curves.mean(axis=0)
    result["peak"], result["peak_sparsity"] = int(mean.idxmax()), float(sparsity.get(mean.idxmax(), np.nan))
    return result


def trend_verdict(t: dict, p_inc: float, p_dec: float) -> tuple[str, str, str]:
    """(verdict, shape, deciding test) by the plan's rule, from the (possibly Holm-adjusted) all-level p."""
    alpha = PLAN["alpha"]
    deep_falls = t["p_deep_dec"] < alpha
    inverted_u = t["p_shallow_inc"] < alpha and deep_falls
    if inverted_u:
        shape = f"inverted U (rises in the shallow half, falls in the deep half; peak at level {t['peak']})"
    elif p_inc < alpha:
        shape = "rises, then falls in the deep half" if deep_falls else "monotone increasing"
    elif p_dec < alpha:
        shape = "monotone decreasing"
    else:
        shape = "flat (no significant trend)"
    if p_dec < alpha:
        return CONTRADICTED, shape, "all levels, decreasing"
    if inverted_u:
        return CONTRADICTED, shape, f"shallow half rises and deep half (sparsity >= {PLAN['deep_sparsity']}) falls"
    if p_inc < alpha:
        return ((INCONCLUSIVE, shape, f"deep half (sparsity >= {PLAN['deep_sparsity']}) falls") if deep_falls
                else (SUPPORTED, shape, "all levels, increasing"))
    return INCONCLUSIVE, shape, "all levels, increasing (not significant)"


# One parameter per piece of the row: setting, attack, metric, the trend test, its role and the notes.
def _trend_row(key, attack, metric, t, primary, notes) -> dict:
    verdict, shape, deciding = trend_verdict(t, t["p_inc"], t["p_dec"])
    n_seeds = t["n_seeds"]
    verdict = INCONCLUSIVE if few_seeds(n_seeds) else verdict
    detail = join_notes(f"shape: {shape}", f"peak of the seed-mean curve at level {t['peak']} "
                        f"(sparsity {t['peak_sparsity']:.3f})", f"Page p: increasing {t['p_inc']:.3g}, decreasing "
                        f"{t['p_dec']:.3g}, deep half decreasing {t['p_deep_dec']:.3g}, shallow half increasing "
                        f"{t['p_shallow_inc']:.3g}", f"levels {t['levels'][0]}-{t['levels'][-1]}, deep half "
                        f"{len(t['deep'])} levels", "estimate: mean per-seed Spearman rho of the metric with the level",
                        notes, few_seeds(n_seeds))
    row = verdict_row("C4", setting_label(key, attack), RULE_C4, f"page_trend_{metric}_vs_level (spearman rho)",
                      *seed_interval(t["rho"]), n_seeds, verdict, np.nan, detail,
                      "primary" if primary else "secondary", t["p_inc"],
                      min_detectable_effect(t["rho"], PLAN["alpha"], PLAN["power"]), deciding)
    row["_trend"] = t
    return row


def _apply_holm(rows: list[dict]) -> None:
    """Secondary rows: Holm within the family of all-level increasing p and of decreasing p; the verdict
    is re-read from the adjusted values (the half-curve tests are guards and stay unadjusted)."""
    adjusted_inc = holm_adjust(rows, PLAN["alpha"])
    adjusted_dec = holm_adjust([{"p_value": r["_trend"]["p_dec"]} for r in rows], PLAN["alpha"])
    for row, p_inc, p_dec in zip(rows, adjusted_inc, adjusted_dec):
        verdict, _, deciding = trend_verdict(row["_trend"], p_inc, p_dec)
        row["verdict"] = INCONCLUSIVE if few_seeds(row["n_seeds"]) else verdict
        row["p_value"], row["deciding"] = float(p_inc), deciding
        row["detail"] = join_notes(row["detail"], f"Holm over {len(rows)} secondary rows: increasing p "
                                   f"{p_inc:.3g}, decreasing p {p_dec:.3g}")


# ----------------------------------------------------------------- context rows (verdict "reported")
RULE_C4_MATCHED = ("leakage at matched test accuracy (plan C4 secondary): per seed, OLS over IMP levels of the primary "
                   "metric on test accuracy and sparsity jointly; t across seeds of the sparsity coefficient; reported, "
                   "decides nothing")


RULE_C4_ONE_SHOT = ("IMP against one-shot magnitude pruning at equal sparsity (plan C4 secondary): compression imp-L minus "
                    "the prune compression whose sparsity matches within 0.01, matched shadows, paired per seed, "
                    "t across seeds; reported, decides nothing")


ONE_SHOT_ATTACK, ONE_SHOT_METRICS, SPARSITY_TOLERANCE = "rmia", ("balanced_acc_fixed", "auc"), 0.01


def matched_accuracy_rows(key, rows: pd.DataFrame, metric: str) -> list[dict]:
    """The sparsity coefficient of metric ~ 1 + test_acc + sparsity, per seed over levels (mean over targets)."""
    if rows.empty or not {"test_acc", "sparsity", metric} <= set(rows.columns):
        return []
    per_level = rows.groupby(["seed", "level"])[[metric, "test_acc", "sparsity"]].mean().dropna()
    coefficients, correlations = [], []
    for _, seed_rows in per_level.groupby(level="seed"):
        design = np.column_stack([np.ones(len(seed_rows)), seed_rows["test_acc"], seed_rows["sparsity"]])
        if len(seed_rows) < 4 or np.linalg.matrix_rank(design) < 3:
            continue
        coefficients.append(np.linalg.lstsq(design, seed_rows[metric].to_numpy(), rcond=None)[0][2])
        correlations.append(np.corrcoef(seed_rows["test_acc"], seed_rows["sparsity"])[0, 1])
    if not coefficients:
        return []
    values = np.asarray(coefficients)
    detail = join_notes(f"{PLAN['primary_attack']} {metric}; mean corr(test_acc, sparsity) over seeds "
                        f"{np.mean(correlations):.3f} (collinear predictors widen the interval)",
                        f"two-sided p {t_p_value(values, 0.0, 'two-sided'):.3g}", few_seeds(len(values)))
    return [verdict_row("C4", setting_label(key, PLAN["primary_attack"]), RULE_C4_MATCHED,
                        f"sparsity_coefficient_{metric}_at_matched_test_acc", *seed_interval(values), len(values),
                        REPORTED, np.nan, detail, "context", t_p_value(values, 0.0, "two-sided"),
                        min_detectable_effect(values, PLAN["alpha"], PLAN["power"]), "all levels")]


def one_shot_pairs(models: pd.DataFrame) -> list[tuple[str, str]]:
    """(imp compression, one-shot prune compression) pairs whose mean sparsity agrees within the tolerance."""
    method = models["method"] if "method" in models else models["compression"].str.split("-").str[0]
    sparsity = models.assign(method=method).groupby(["method", "compression"])["sparsity"].mean()
    imp = sparsity.get("imp", pd.Series(dtype=float))
    prune = sparsity.get("prune", pd.Series(dtype=float))
    pairs = []
    for label, value in imp.items():
        close = (prune - value).abs()
        if len(close) and close.min() <= SPARSITY_TOLERANCE:
            pairs.append((label, close.idxmin()))
    return pairs


def one_shot_rows(key, compression: pd.DataFrame, models: pd.DataFrame) -> list[dict]:
    """Per matched (imp-L, prune-s) pair and metric: IMP minus one-shot per seed (matched shadows, rmia)."""
    same_model = {c: v for c, v in key.items() if c != "settings_hash"}  # 06 has settings of its own
    table, models = (_setting(t, same_model) for t in (compression, models))
    if "shadows" in table:
        table = table[table["shadows"] == "matched"]
    table = table[table["attack"] == ONE_SHOT_ATTACK] if "attack" in table else table.iloc[0:0]
    if table.empty or models.empty or "sparsity" not in models:
        return []
    rows = []
    for imp, prune in one_shot_pairs(models):
        for metric in [m for m in ONE_SHOT_METRICS if m in table]:
            wide = table.pivot_table(index="seed", columns="compression", values=metric, aggfunc="mean")
            if imp not in wide or prune not in wide:
                continue
            values = (wide[imp] - wide[prune]).dropna().to_numpy()
            p = t_p_value(values, 0.0, "two-sided")
            rows.append(verdict_row("C4", setting_label(key, ONE_SHOT_ATTACK, f"{imp} vs {prune}"), RULE_C4_ONE_SHOT,
                                    f"imp_minus_one_shot_{metric}", *seed_interval(values), len(values), REPORTED,
                                    np.nan, join_notes(f"two-sided p {p:.3g}", few_seeds(len(values))), "context", p,
                                    min_detectable_effect(values, PLAN["alpha"], PLAN["power"]), f"{imp} vs {prune}"))
    return rows


def _setting(table: pd.DataFrame, key: dict) -> pd.DataFrame:
    for column, value in key.items():
        if column in table:
            table = table[table[column] == value]
    return table


def _judge(tables: dict):
    if "attacks" not in tables:
        return None
    return verdict_c4(tables["attacks"], tables.get("compression"), tables.get("compression_models"))


CLAIM = Claim("C4", "attack accuracy varies directly with sparsity",
              "Attack accuracy varies directly with the sparsity of the network.", _judge)
