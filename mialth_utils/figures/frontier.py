"""The privacy-utility frontier: attack metric against test accuracy for IMP levels, compressed models
and defences."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from .axes import clip_note, mean_interval, metric_axis, seeds_text, usable_rows
from .style import CHANCE_STYLE, attack_style, remaining_percent, sparsity_colorbar, sparsity_mappable, styled

FRONTIER_KINDS = {  # kind: (marker, legend label)
    "imp": ("o", "IMP level (colour: sparsity)"),
    "random_mask": ("s", "random mask control"),
    "random_reinit": ("^", "random re-init control"),
    "compression": ("D", "compression method"),
    "defence": ("P", "defence setting (colour: sparsity)"),
}


COMPRESSION_COLOUR = "#CC3311"


def frontier_points(accuracy: pd.DataFrame, attacks: pd.DataFrame, compression_models: pd.DataFrame | None = None,
                    compression: pd.DataFrame | None = None, attack: str = "lira_online") -> pd.DataFrame:
    """The privacy-utility points of one run: every IMP level and control (test accuracy from
    ``accuracy``, attack metrics from ``attacks``) and every compression method (shadows "matched").
    Columns: kind, label, level, seed, test_acc, auc, tpr@0.1%fpr, sparsity, attack."""
    columns = ["kind", "label", "level", "seed", "test_acc", "auc", "tpr@0.1%fpr", "sparsity"]
    lth = usable_rows(attacks[attacks["attack"] == attack], "auc")
    seed = ["seed"] if "seed" in lth and "seed" in accuracy else []
    keys = [c for c in ["branch", "level"] + seed if c in lth and c in accuracy]
    lth = lth.drop(columns=["test_acc", "sparsity"], errors="ignore").merge(
        accuracy[keys + ["test_acc", "sparsity"]], on=keys, how="left")
    lth = lth.assign(kind=lth.get("branch", "imp"),
                     label=[f"L{int(level)}" for level in lth["level"]])
    frames = [lth]
    if compression is not None and compression_models is not None and len(compression):
        rows = usable_rows(compression[(compression["attack"] == attack) & (compression["shadows"] == "matched")],
                           "auc")
        seed = ["seed"] if "seed" in rows and "seed" in compression_models else []
        rows = rows.drop(columns=["test_acc", "sparsity"], errors="ignore").merge(
            compression_models[["compression"] + seed + ["test_acc", "sparsity"]], on=["compression"] + seed,
            how="left")
        frames.append(rows.assign(kind="compression", label=rows["compression"], level=np.nan))
    points = pd.concat(frames, ignore_index=True)
    for column in columns:
        if column not in points:
            points[column] = np.nan
    return points[columns].assign(attack=attack)


def _frontier_summary(points: pd.DataFrame) -> pd.DataFrame:
    """Mean and 95% t-interval over seeds per (kind, label) of test accuracy and the two attack metrics."""
    rows = []
    for (kind, label), group in points.groupby(["kind", "label"], sort=False):
        row = {"kind": kind, "label": label, "sparsity": group["sparsity"].mean(),
               "level": group["level"].mean() if "level" in group else np.nan}
        for column in ("test_acc", "auc", "tpr@0.1%fpr"):
            row[column], row[column + "_low"], row[column + "_high"] = mean_interval(group[column])
        rows.append(row)
    return pd.DataFrame(rows)


def _frontier_axis(ax, summary: pd.DataFrame, metric: str, mappable, floor: float | None) -> None:
    for kind, (marker, legend) in FRONTIER_KINDS.items():
        part = summary[summary["kind"] == kind].sort_values("level")
        if part.empty:
            continue
        y, low, high = (part[metric + s].to_numpy(float) for s in ("", "_low", "_high"))
        if floor is not None:
            y, low, high = (np.clip(v, floor, None) for v in (y, low, high))
        x = 100 * part["test_acc"].to_numpy(float)
        x_error = 100 * np.abs(part[["test_acc_low", "test_acc_high"]].to_numpy(float).T - part["test_acc"].to_numpy())
        colours = ([COMPRESSION_COLOUR] * len(part) if kind == "compression"
                   else [mappable.to_rgba(v) for v in remaining_percent(part["sparsity"].fillna(0))])
        ax.errorbar(x, y, xerr=np.nan_to_num(x_error), yerr=np.nan_to_num(np.abs(np.vstack([low, high]) - y)),
                    fmt="none", ecolor="0.6", elinewidth=0.7, capsize=1.5, zorder=1)
        if kind == "imp":
            ax.plot(x, y, color="0.7", linewidth=0.8, zorder=1)
        ax.scatter(x, y, c=colours, marker=marker, s=30, edgecolors="0.15", linewidths=0.5, zorder=2)
        if kind in ("imp", "compression", "defence"):
            offset = (4, -8) if kind == "compression" else (3, 3)  # apart when a method sits on a level
            for xi, yi, text in zip(x, y, part["label"]):
                ax.annotate(text, (xi, yi), xytext=offset, textcoords="offset points", fontsize=5.5, color="0.25")
    metric_axis(ax, metric, floor)
    clip_note(ax, floor is not None and bool((summary[metric] < floor).any()), floor or 0)
    ax.set_xlabel("test accuracy (%)")


@styled
def privacy_utility_frontier(points: pd.DataFrame, title: str = ""):
    """The question a user who compresses a model asks: how much accuracy against how much leakage.

    ``points``: ``frontier_points`` (kind, label, test_acc, auc, tpr@0.1%fpr, sparsity, optional
    seed). Left: TPR at 0.1% FPR (log); right: AUC; x: test accuracy. IMP levels are coloured by
    sparsity and labelled L<level>, controls share that colour with their own marker, compression
    methods are labelled red diamonds; error bars: 95% t-interval over seeds."""
    points = points.dropna(subset=["test_acc", "auc"])
    if points.empty:
        raise ValueError("no privacy-utility point has both a test accuracy and an attack AUC")
    summary = _frontier_summary(points)
    lth = summary[summary["kind"] != "compression"]
    mappable = sparsity_mappable(remaining_percent(lth["sparsity"].fillna(0)) if len(lth) else np.array([100.0]))
    floor = 0.5 * float(points["tpr@0.1%fpr"][points["tpr@0.1%fpr"] > 0].min()) \
        if (points["tpr@0.1%fpr"] > 0).any() else 1e-4
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.9))
    _frontier_axis(axes[0], summary, "tpr@0.1%fpr", mappable, floor)
    _frontier_axis(axes[1], summary, "auc", mappable, None)
    if len(lth):
        sparsity_colorbar(fig, mappable, axes, remaining_percent(lth["sparsity"].fillna(0)))
    handles = [Line2D([], [], marker=marker, linestyle="", markerfacecolor=COMPRESSION_COLOUR if kind == "compression"
                      else "0.75", markeredgecolor="0.15", label=legend)
               for kind, (marker, legend) in FRONTIER_KINDS.items() if kind in set(summary["kind"])]
    handles.append(Line2D([], [], label="chance", **CHANCE_STYLE))
    fig.legend(handles=handles, loc="upper center", ncol=len(handles), bbox_to_anchor=(0.45, 0.02))
    attack = f", {attack_style(points['attack'].iloc[0])['label']}" if "attack" in points else ""
    fig.suptitle(title or f"Privacy-utility frontier{attack} ({seeds_text(points)}; up = more leakage, "
                          "right = more accurate)", fontsize=9)
    return fig
