"""The C2 figure: what the equivalence test sees. Per attack, ticket minus dense of one metric per IMP level,
paired within seed (a seed's value is the mean over its target models), the mean with its 90% t-interval
across seeds (TOST at alpha 0.05 reads this interval) and the equivalence margin shaded as a band."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..analysis_plan import section
from ..claims.scores import chance, imp_attack_rows, level_sparsity, seed_curves
from ..stats import seed_interval
from .axes import check_one_setting, seeds_text, sparsity_axis
from .style import attack_style, metric_label, remaining_percent, styled


def paired_differences(attacks: pd.DataFrame, attack: str, metric: str) -> tuple[pd.DataFrame, float]:
    """(per level: sparsity, mean, low90, high90 of ticket minus dense; the margin) for one attack."""
    plan = section("C2")
    rows = imp_attack_rows(attacks, attack)
    curves = seed_curves(rows, metric)
    if rows.empty or 0 not in curves.columns:
        return pd.DataFrame(columns=["level", "sparsity", "mean", "low", "high"]), np.nan
    margin = plan["margin_relative"] * float((curves[0] - chance(metric)).mean())
    sparsity = level_sparsity(rows)
    summary = []
    for level in curves.columns:
        mean, low, high = seed_interval(curves[level] - curves[0], 1 - 2 * plan["alpha"])
        summary.append({"level": level, "sparsity": sparsity[level], "mean": mean, "low": low, "high": high})
    return pd.DataFrame(summary), margin


@styled
def ticket_minus_dense(attacks: pd.DataFrame, metric: str = "tpr@1%fpr", attacks_shown=None, title: str = ""):
    """C2: one panel per attack (the plan's primary first), ticket minus dense per level with the 90% seed
    t-interval, zero line and the margin band (+-margin_relative x the dense advantage over chance)."""
    plan = section("C2")
    named = attacks_shown or [plan["primary_attack"], *plan["secondary_attacks"]]
    shown = [a for a in named if a in set(attacks["attack"]) and metric in attacks
             and attacks.loc[attacks["attack"] == a, metric].notna().any()]
    if not shown:
        raise ValueError(f"no {metric} values for attacks {list(named)}: nothing to draw")
    check_one_setting(attacks[attacks["attack"].isin(shown)], ["attack"])
    n_cols = min(3, len(shown))
    n_rows = int(np.ceil(len(shown) / n_cols))
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(3.3 * n_cols, 2.6 * n_rows), sharex=True, squeeze=False)
    for ax, attack in zip(axes.flat, shown):
        summary, margin = paired_differences(attacks, attack, metric)
        x = remaining_percent(summary["sparsity"])
        style = attack_style(attack)
        if np.isfinite(margin):
            ax.axhspan(-margin, margin, color="0.85", alpha=0.7, linewidth=0, label=f"margin +-{margin:.3g}")
        ax.axhline(0.0, color="0.3", linewidth=0.8, linestyle="--")
        errors = np.abs(summary[["low", "high"]].to_numpy(float).T - summary["mean"].to_numpy(float))
        ax.errorbar(x, summary["mean"], yerr=np.nan_to_num(errors), color=style["color"], marker=style["marker"],
                    markersize=3.5, linewidth=1.1, capsize=2, label="mean, 90% t-interval")
        ax.set_title(style["label"] + (" (primary)" if attack == plan["primary_attack"] else ""), fontsize=8)
        sparsity_axis(ax, x)
    axes.flat[0].legend(fontsize=6, loc="best")
    for ax in axes.flat[len(shown):]:
        ax.set_visible(False)
    for index, ax in enumerate(axes.flat[:len(shown)]):
        if index + n_cols < len(shown):  # a panel below draws the shared x axis
            ax.set_xlabel("")
            ax.tick_params(labelbottom=False)
        else:
            ax.tick_params(labelbottom=True)
    fig.set_layout_engine("constrained")
    for ax in axes[:, 0]:
        ax.set_ylabel(f"ticket - dense\n{metric_label(metric)}")
    fig.suptitle(title or f"Ticket minus dense, paired within seed ({seeds_text(attacks)}; band: equivalence "
                 "margin)", fontsize=9)
    return fig
