"""Per-example exposure from level to level (E7): rank correlation, churn and per-class exposure."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import TwoSlopeNorm

from .axes import check_one_setting
from .style import CHANCE_STYLE, styled


def churn_noise_floor(summary: pd.DataFrame, top_frac: float) -> pd.DataFrame:
    """Expected members entering / leaving the top set if two levels ranked examples independently.

    With the top set = the top ``top_frac`` of all examples, an example in the top set at level b was
    in it at level a with probability top_frac under an independent ranking, so the expected number
    newly exposed is K_b (1 - top_frac) and newly protected K_a (1 - top_frac), K_a, K_b = members in
    the top set at a, b (for two fully random rankings K = n_members * top_frac, which gives
    n_members * top_frac * (1 - top_frac))."""
    members_from = summary["exposed_both"] + summary["newly_protected"]
    members_to = summary["exposed_both"] + summary["newly_exposed"]
    return pd.DataFrame({"to_level": summary["to_level"], "newly_exposed": members_to * (1 - top_frac),
                         "newly_protected": members_from * (1 - top_frac)})


def _churn_axis(ax, summary: pd.DataFrame, floor: pd.DataFrame, top_frac: float) -> None:
    levels = summary["to_level"].to_numpy()
    for offset, column, colour, label in ((-0.2, "newly_exposed", "#D55E00", "newly exposed (enter)"),
                                          (0.2, "newly_protected", "#0072B2", "newly protected (leave)")):
        ax.bar(levels + offset, summary[column], 0.4, color=colour, label=label)
        ax.hlines(floor[column], levels + offset - 0.2, levels + offset + 0.2, colors="0.1", linestyles="--",
                  linewidth=1.0, label="noise floor: independent rankings" if column == "newly_exposed" else None)
    ax.set(xlabel="level (change from the level before)", ylabel="members",
           title=f"members entering / leaving the top {top_frac:.0%}")
    ax.set_xticks(levels)
    ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)


@styled
def trajectory_panel(summary: pd.DataFrame, per_class: pd.DataFrame, classes=None, top_frac: float = 0.05):
    """E7: how per-example exposure moves with sparsity. Left: Spearman correlation of the scores
    between consecutive levels (0 = independent rankings); middle: members entering / leaving the
    top set with the noise floor of independent rankings (``churn_noise_floor``); right: per class
    and level, the share of the class's members in the top set (chance: top_frac)."""
    if summary.empty or per_class.empty:
        raise ValueError("no trajectory rows to draw (the attack needs at least two levels)")
    check_one_setting(summary, ["from_level", "to_level"])
    if "attack" in summary and summary["attack"].nunique() > 1:
        raise ValueError(f"trajectories of several attacks mixed: {sorted(summary['attack'].unique())}")
    summary = summary.groupby("to_level", as_index=False)[["spearman", "newly_exposed", "newly_protected",
                                                           "exposed_both"]].mean()
    fig, axes = plt.subplots(1, 3, figsize=(11.5, 3.6), width_ratios=(1, 1.2, 1.4))
    axes[0].plot(summary["to_level"], summary["spearman"], "o-", color="0.2")
    axes[0].axhline(0.0, label="independent rankings", **CHANCE_STYLE)
    axes[0].set(xlabel="level (vs the level before)", ylabel="Spearman rank correlation",
                title="score rank stability", ylim=(min(-0.05, summary["spearman"].min() - 0.05), 1.02))
    axes[0].legend(fontsize=6, loc="center right")
    _churn_axis(axes[1], summary, churn_noise_floor(summary, top_frac), top_frac)
    table = per_class.pivot_table(index="label", columns="level", values="exposed_frac", aggfunc="mean")
    if classes is not None:
        table.index = [str(classes[int(i)]) for i in table.index]
    values = 100 * table.to_numpy()
    chance = 100 * top_frac
    norm = TwoSlopeNorm(vcenter=chance, vmin=min(np.nanmin(values), chance * 0.9),
                        vmax=max(np.nanmax(values), chance * 1.1))
    image = axes[2].imshow(values, cmap="PuOr_r", norm=norm, aspect="auto")
    axes[2].grid(False)
    axes[2].set_xticks(range(table.shape[1]), table.columns)
    axes[2].set_yticks(range(table.shape[0]), table.index)
    axes[2].set(xlabel="level", title="share of each class's members in the top set")
    fig.colorbar(image, ax=axes[2], label=f"% of the class's members in the top set\n(white = chance, {top_frac:.0%})",
                 pad=0.02)
    fig.suptitle(f"Per-example trajectories: top set = the top {top_frac:.0%} of scores at a level "
                 "(members and non-members ranked together); exposed = a member in the top set", fontsize=8.5)
    fig.tight_layout()
    return fig
