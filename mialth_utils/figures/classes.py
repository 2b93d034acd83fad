"""Attack metric against the number of classes, every seed a point (C3): the statistic the C3 verdict tests."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from .axes import check_one_setting, clip_note, gap_limits, metric_axis, points_with_mean, tpr_floor, usable_rows
from .style import CHANCE_STYLE, HEADLINE, attack_style, chance_level, metric_fpr, metric_label, styled

C3_ATTACKS = (*HEADLINE, "shokri")


def seed_means(rows: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One row per (setting, attack, level, seed, n_classes): the metric and the gap averaged over target
    models within a class subset, then over subsets, as the C3 verdict forms a seed's statistic."""
    keys = [c for c in ("settings_hash", "dataset", "model_arch", "attack", "level", "seed", "n_classes") if c in rows]
    values = [c for c in (metric, "gap", "n_in") if c in rows]
    units = rows.groupby(keys + (["subset"] if "subset" in rows else []), dropna=False)[values].mean().reset_index()
    return units.groupby(keys, dropna=False)[values].mean().reset_index()


@styled
def attack_vs_classes(class_count: pd.DataFrame, metric: str | None = None, attacks_shown=C3_ATTACKS):
    """E4 / C3: an attack metric (default: the analysis plan's primary metric) against the number of
    classes k. Every seed is a dot (its mean over class subsets and target models), the mean over seeds a
    marker with its 95% t-interval across seeds; one column per IMP level; below, the target's train-test
    gap per k, the mediator (fewer classes -> easier task -> smaller gap)."""
    if metric is None:
        from ..analysis_plan import section
        from ..claims.scores import primary_metric

        metric = primary_metric(class_count, section("C3"))[0]
    rows = usable_rows(class_count[class_count["attack"].isin(attacks_shown)], metric)
    if rows.empty:
        raise ValueError(f"no {metric} values for attacks {list(attacks_shown)} in the class-count table")
    rows = seed_means(rows, metric)
    check_one_setting(rows, ["attack", "level"])
    attacks = [a for a in attacks_shown if a in set(rows["attack"])]
    levels = sorted(rows["level"].unique()) if "level" in rows else [None]
    ks = sorted(rows["n_classes"].unique())
    width = 0.8 / len(attacks)
    floor = tpr_floor(rows) if metric_fpr(metric) is not None else None
    rng = np.random.default_rng(0)
    fig, axes = plt.subplots(2, len(levels), sharex=True, sharey="row", squeeze=False, height_ratios=(3, 1.2),
                             figsize=(min(3.6 * len(levels) + 2.2, 9.0), 4.8))
    for column, level in enumerate(levels):
        ax, gap_ax = axes[0, column], axes[1, column]
        at_level = rows if level is None else rows[rows["level"] == level]
        clipped = False
        for j, attack in enumerate(attacks):
            positions = [ks.index(k) + (j - (len(attacks) - 1) / 2) * width
                         for k in sorted(at_level[at_level["attack"] == attack]["n_classes"].unique())]
            clipped |= points_with_mean(ax, positions, at_level[at_level["attack"] == attack], metric,
                                         attack_style(attack), rng, width, floor)
        metric_axis(ax, metric, floor)
        clip_note(ax, clipped, floor or 0)
        ax.set_title("dense model" if level == 0 else f"IMP level {level}")
        gap_rows = at_level.drop_duplicates([c for c in ("n_classes", "subset", "seed") if c in at_level])
        points_with_mean(gap_ax, [ks.index(k) for k in sorted(gap_rows["n_classes"].unique())], gap_rows, "gap",
                          {"color": "0.2", "marker": "o"}, rng, 0.5)
        gap_limits(gap_ax, gap_rows["gap"].to_numpy(float))
        gap_ax.set_xticks(range(len(ks)), [str(k) for k in ks])
        gap_ax.set_xlabel("number of classes k")
        if column > 0:
            ax.set_ylabel("")
    axes[1, 0].set_ylabel("train-test gap\n(target)")
    handles = [Line2D([], [], **attack_style(a)) for a in attacks]
    handles += [Line2D([], [], label="chance", **CHANCE_STYLE)] if chance_level(metric) is not None else []
    axes[0, -1].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.suptitle(f"{metric_label(metric)} against the number of classes (C3: Page's trend test on these)\n"
                 "dots: seeds (mean over class subsets and target models); marker: mean, 95% t-interval across seeds",
                 fontsize=8)
    fig.align_ylabels(axes[:, 0])
    return fig
