"""What a defence buys, by a rule in code: its attack metrics against the undefended model's, with intervals.

For every defence and level: LiRA (online) at TPR@0.1% and TPR@1% FPR, and the strongest attack (the
highest TPR@1% FPR among all attacks on that defended model: heuristic defences are judged by the
best attack against them, Aerni et al. 2024, not by the one they were designed against) against the
strongest attack on the undefended model. Intervals are the attacks' bootstrap 95% intervals
(members and non-members resampled; one training seed per row).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

LIRA = "lira_online"
METRICS = ("tpr@0.1%fpr", "tpr@1%fpr")
RULE = ("reduces: the defended upper 95% bound lies below the undefended point estimate; increases: the "
        "defended lower bound lies above it; otherwise no measurable change; not resolvable: the FPR is below "
        "1 / n_out of the evaluation set")


def effect(defended_low: float, defended_high: float, undefended: float) -> str:
    """The rule (``RULE``) that turns an interval and a reference value into a statement."""
    if not np.isfinite([defended_low, defended_high, undefended]).all():
        return "not measured"
    if defended_high < undefended:
        return "reduces"
    if defended_low > undefended:
        return "increases"
    return "no measurable change"


def strongest(rows: pd.DataFrame, metric: str = "tpr@1%fpr") -> pd.Series:
    """The attack row with the highest ``metric`` (ties: higher AUC) among the rows where it is measured;
    discrete-score attacks (``score_kind``) compete too: no row is filtered by its score kind."""
    usable = rows.dropna(subset=[metric])
    return usable.sort_values([metric, "auc"], ascending=False).iloc[0]


def _judged(rows: pd.DataFrame, judged_by: str, metric: str) -> pd.Series | None:
    if judged_by == "strongest":
        return strongest(rows, metric) if rows[metric].notna().any() else None
    hit = rows[rows["attack"] == judged_by].dropna(subset=[metric])
    return hit.iloc[0] if len(hit) else None


def defence_effects(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (setting, seed, defence, level, judged_by, metric) of a ``defences`` table."""
    keys = [k for k in ("settings_hash", "seed") if k in table]
    out = []
    for group_key, group in table.groupby(keys) if keys else [((), table)]:
        for level, at_level in group.groupby("level"):
            base = at_level[at_level["defence"] == "none"]
            if base.empty:
                continue
            for defence, rows in at_level[at_level["defence"] != "none"].groupby("defence", sort=False):
                for judged_by in (LIRA, "strongest"):
                    for metric in METRICS:
                        out.append(_effect_row(dict(zip(keys, np.atleast_1d(group_key))), defence, level, rows,
                                               base, judged_by, metric))
    return pd.DataFrame([r for r in out if r is not None])


def _effect_row(key: dict, defence: str, level: int, rows, base, judged_by: str, metric: str) -> dict | None:
    d, u = _judged(rows, judged_by, metric), _judged(base, judged_by, metric)
    if d is None or u is None:
        return None
    return {**key, "defence": defence, "defence_setting": d["defence_setting"], "level": level,
            "sparsity": d["sparsity"], "judged_by": judged_by, "metric": metric,
            "strongest_attack": d["attack"] if judged_by == "strongest" else np.nan,
            "undefended_strongest_attack": u["attack"] if judged_by == "strongest" else np.nan,
            "defended": d[metric], "defended_ci_low": d.get(metric + "_ci_low", np.nan),
            "defended_ci_high": d.get(metric + "_ci_high", np.nan), "undefended": u[metric],
            "undefended_ci_low": u.get(metric + "_ci_low", np.nan),
            "undefended_ci_high": u.get(metric + "_ci_high", np.nan),
            "test_acc": d["test_acc"], "undefended_test_acc": u["test_acc"],
            "accuracy_cost": u["test_acc"] - d["test_acc"],
            "dp_epsilon_spent": d.get("dp_epsilon_spent", np.nan),
            "effect": (effect(d.get(metric + "_ci_low", np.nan), d.get(metric + "_ci_high", np.nan), u[metric])
                       if _resolvable(d, metric) and _resolvable(u, metric) else "not resolvable"),
            "rule": RULE}


def _resolvable(row: pd.Series, metric: str) -> bool:
    """An FPR below 1 / n_out cannot be measured: its TPR is 0 or a single example."""
    flag = row.get(metric + "_resolvable", True)
    return bool(flag) if pd.notna(flag) else True


def report_lines(effects: pd.DataFrame) -> list[str]:
    """The report section's statements, one per defence and level, generated from ``defence_effects``."""
    if effects is None or effects.empty:
        return ["- (the defences notebook did not run in this study)", ""]
    lines = [f"Rule: {RULE}. Intervals: bootstrap 95% over examples (one training seed per row).", ""]
    for _, r in effects.sort_values(["defence", "level", "judged_by", "metric"]).iterrows():
        who = "LiRA (online)" if r["judged_by"] == LIRA else \
            f"the strongest attack ({r['strongest_attack']}; undefended: {r['undefended_strongest_attack']})"
        eps = f", epsilon spent {r['dp_epsilon_spent']:.2f}" if np.isfinite(r.get("dp_epsilon_spent", np.nan)) else ""
        lines.append(f"- {r['defence']} ({r['defence_setting']}{eps}), level {int(r['level'])}, seed "
                     f"{r.get('seed', '?')}: **{r['effect']}** {who}'s {r['metric'].upper()}: "
                     f"{100 * r['defended']:.2f}% [{100 * r['defended_ci_low']:.2f}, {100 * r['defended_ci_high']:.2f}]"
                     f" vs {100 * r['undefended']:.2f}% [{100 * r['undefended_ci_low']:.2f}, "
                     f"{100 * r['undefended_ci_high']:.2f}] undefended; test accuracy {100 * r['test_acc']:.1f}% vs "
                     f"{100 * r['undefended_test_acc']:.1f}% (cost {100 * r['accuracy_cost']:.1f} points).")
    return lines + [""]


def frontier_points(table: pd.DataFrame, attack: str = LIRA) -> pd.DataFrame:
    """Privacy-utility points (``plots.privacy_utility_frontier``): one per defence setting and level;
    the undefended model set is the ``imp`` line, each defence a labelled ``defence`` point."""
    rows = table[table["attack"] == attack].dropna(subset=["auc"])
    points = pd.DataFrame({"kind": np.where(rows["defence"] == "none", "imp", "defence"),
                           "label": [f"L{int(lvl)}" if d == "none" else f"{d} L{int(lvl)}"
                                     for d, lvl in zip(rows["defence"], rows["level"])],
                           "level": rows["level"].to_numpy(), "seed": rows["seed"].to_numpy() if "seed" in rows else 0,
                           "test_acc": rows["test_acc"].to_numpy(), "auc": rows["auc"].to_numpy(),
                           "tpr@0.1%fpr": rows["tpr@0.1%fpr"].to_numpy(), "sparsity": rows["sparsity"].to_numpy(),
                           "attack": attack})
    return points.reset_index(drop=True)
