"""The lottery-ticket figures: test accuracy against sparsity (C1), attack metric against sparsity
beside the train-test gap (C2, C4)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .axes import (
    absent_note,
    aggregate,
    band,
    check_one_setting,
    clip_note,
    gap_limits,
    legend_outside,
    metric_axis,
    seeds_text,
    sparsity_axis,
    tpr_floor,
    usable_rows,
)
from .style import BRANCH_STYLE, HEADLINE, attack_style, metric_fpr, metric_label, remaining_percent, styled


def _gap_panel(ax, rows: pd.DataFrame) -> None:
    """The target's train-test gap per level (one value per seed), mean and 95% interval, y from 0."""
    per_seed = rows.drop_duplicates([c for c in ("level", "seed") if c in rows])
    gap = aggregate(per_seed.drop(columns=["gap_ci_low", "gap_ci_high"], errors="ignore"), ["level"], "gap")
    x = remaining_percent(gap["sparsity"])
    ax.plot(x, gap["mean"], color="0.2", marker="o", markersize=3, linewidth=1.1)
    if np.isfinite(gap["low"]).any():
        ax.fill_between(x, gap["low"], gap["high"], color="0.2", alpha=0.15, linewidth=0)
    gap_limits(ax, np.r_[gap["low"].to_numpy(), gap["high"].to_numpy(), gap["mean"].to_numpy()])
    ax.set_ylabel("train-test gap\n(target)")


def per_seed(rows: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One row per (seed, level, attack): the mean over the seed's target models (the plan's leave_one_out),
    so the band is a t-interval across seeds, not across target models."""
    if "target_model" not in rows or rows.empty:
        return rows
    keys = [c for c in ("settings_hash", "dataset", "model_arch", "seed", "branch", "attack", "level") if c in rows]
    values = [c for c in (metric, "sparsity", "gap", "n_in", "n_out") if c in rows and c not in keys]
    return rows.groupby(keys, as_index=False, dropna=False)[values].mean()


@styled
def attack_vs_sparsity(attacks: pd.DataFrame, metric: str = "auc", attacks_shown=HEADLINE, title: str = "",
                       branch: str = "imp"):
    """E3 / C4: an attack metric against % weights remaining (log, inverted), mean over seeds with a
    95% band, chance line; the target's train-test gap in a panel below on the same x axis, since the
    gap alone can explain a trend in the attack."""
    requested = attacks[attacks["attack"].isin(attacks_shown)]
    if "branch" in requested:
        requested = requested[requested["branch"] == branch]
    rows = per_seed(usable_rows(requested, metric), metric)
    if rows.empty:
        raise ValueError(f"no {metric} values for attacks {list(attacks_shown)} on branch {branch!r} "
                         "(not run, or every run failed)")
    check_one_setting(rows, ["attack"])
    fig, (ax, gap_ax) = plt.subplots(2, 1, sharex=True, figsize=(7.0, 4.6), height_ratios=(3, 1.1))
    floor = tpr_floor(rows) if metric_fpr(metric) is not None else None
    clipped = False
    for attack in [a for a in attacks_shown if a in set(rows["attack"])]:
        summary = aggregate(rows[rows["attack"] == attack], ["level"], metric)
        style = attack_style(attack)
        clipped |= band(ax, remaining_percent(summary["sparsity"]), summary, style, floor, style["label"])
    metric_axis(ax, metric, floor)
    clip_note(ax, clipped, floor or 0)
    seeds = seeds_text(rows)
    interval = "bootstrap 95% CI" if seeds == "1 seed" else "95% t-interval over seeds"
    ax.set_title(title or f"{metric_label(metric)} against sparsity ({seeds}; band: {interval})")
    legend_outside(ax)
    absent_note(ax, [a for a in attacks_shown if a in set(requested["attack"])], set(rows["attack"]))
    _gap_panel(gap_ax, rows)
    sparsity_axis(gap_ax, remaining_percent(rows["sparsity"]))
    fig.align_ylabels([ax, gap_ax])
    return fig


BRANCH_DODGE = {"imp": 1.0, "random_mask": 10 ** 0.008, "random_reinit": 10 ** -0.008}  # error bars apart


@styled
def accuracy_vs_sparsity(accuracy: pd.DataFrame, title: str = ""):
    """E1 / C1: target test accuracy of IMP and the two controls against % weights remaining (log,
    inverted), mean with 95% error bars over seeds; the dense accuracy as a line with a +-1 point band."""
    rows = usable_rows(accuracy, "test_acc")
    if rows.empty:
        raise ValueError("no test accuracy to draw: the accuracy table is empty")
    rows = rows if "branch" in rows else rows.assign(branch="imp")
    check_one_setting(rows, ["branch"])
    dense = rows[(rows["level"] == 0) & (rows["branch"] == "imp")]["test_acc"]
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    if len(dense):
        dense_pct = 100 * float(dense.mean())
        ax.axhspan(dense_pct - 1, dense_pct + 1, color="0.85", alpha=0.6, linewidth=0)
        ax.axhline(dense_pct, color="0.3", linewidth=1.0, linestyle="--",
                   label=f"dense {dense_pct:.1f}% (band: +-1 point)")
    branches = [b for b in BRANCH_STYLE if b in set(rows["branch"])]
    for branch in branches:
        summary = aggregate(rows[rows["branch"] == branch], ["level"], "test_acc")
        color, marker, linestyle, label = BRANCH_STYLE[branch]
        x = remaining_percent(summary["sparsity"]) * BRANCH_DODGE[branch]
        errors = 100 * np.abs(summary[["low", "high"]].to_numpy().T - summary["mean"].to_numpy())
        ax.errorbar(x, 100 * summary["mean"], yerr=np.nan_to_num(errors), color=color, marker=marker,
                    linestyle=linestyle, markersize=4, linewidth=1.2, capsize=2, label=label)
    sparsity_axis(ax, remaining_percent(rows["sparsity"]))
    ax.set_ylabel("test accuracy (%)")
    seeds = seeds_text(rows)
    interval = "no interval with 1 seed" if seeds == "1 seed" else "95% t-interval over seeds"
    ax.set_title(title or f"Test accuracy of tickets and controls ({seeds}; {interval})")
    legend_outside(ax)
    return fig
