"""Every compression method, every attack and shadow setting (E6)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .axes import aggregate, check_one_setting, clip_note, metric_axis, seeds_text, tpr_floor, usable_rows
from .style import COMPRESSION_HEADLINE, attack_style, metric_fpr, metric_label, styled

SHADOW_ORDER = ("matched", "mismatched", "mixture")


def _compression_axis(ax, here: pd.DataFrame, attacks: list[str], methods: list[str], metric: str) -> None:
    """One panel: per compressed target (x) and attack (dodged), mean and 95% interval of ``metric``."""
    floor = tpr_floor(here) if metric_fpr(metric) is not None else None
    width, clipped = 0.8 / len(attacks), False
    for k, attack in enumerate(attacks):
        summary = aggregate(here[here["attack"] == attack], ["compression"], metric)
        if summary.empty:
            continue
        style = attack_style(attack)
        x = np.array([methods.index(m) for m in summary["compression"]]) + (k - (len(attacks) - 1) / 2) * width
        mean, low, high = (summary[c].to_numpy() for c in ("mean", "low", "high"))
        if floor is not None:
            clipped |= bool((mean < floor).any())
            mean, low, high = (np.clip(v, floor, None) for v in (mean, low, high))
        ax.errorbar(x, mean, yerr=np.nan_to_num(np.abs(np.vstack([low, high]) - mean)), color=style["color"],
                    marker=style["marker"], fillstyle=style["fillstyle"], markerfacecoloralt="white",
                    linestyle="", markersize=4.5, capsize=1.5, linewidth=0.9, label=style["label"])
    metric_axis(ax, metric, floor)
    clip_note(ax, clipped, floor or 0)
    ax.grid(axis="x", visible=False)
    for boundary in np.arange(len(methods) - 1) + 0.5:
        ax.axvline(boundary, color="0.92", linewidth=0.6)


@styled
def compression_panel(compression: pd.DataFrame, attacks_shown=COMPRESSION_HEADLINE,
                      metrics=("auc", "tpr@1%fpr")):
    """E6: dot-and-interval plot (not bars from 0) of each metric per compressed target x attack, one
    row per shadow setting; mean over seeds with a 95% interval, chance line, TPR on a log axis."""
    rows = compression[compression["attack"].isin(attacks_shown)]
    rows = pd.concat([usable_rows(rows, m) for m in metrics]).drop_duplicates() if len(rows) else rows
    if rows.empty:
        raise ValueError(f"no compression results for attacks {list(attacks_shown)}")
    check_one_setting(rows, ["attack", "compression", "shadows"])
    attacks = [a for a in attacks_shown if a in set(rows["attack"])]
    methods = list(dict.fromkeys(rows["compression"]))
    settings = [s for s in SHADOW_ORDER if s in set(rows["shadows"])] + \
        sorted(set(rows["shadows"]) - set(SHADOW_ORDER))
    fig, axes = plt.subplots(len(settings), len(metrics), sharex=True, squeeze=False, layout="constrained",
                             figsize=(9.0, 2.3 * len(settings) + 1.0))
    for (i, setting), (j, metric) in ((a, b) for a in enumerate(settings) for b in enumerate(metrics)):
        _compression_axis(axes[i, j], usable_rows(rows[rows["shadows"] == setting], metric), attacks, methods,
                          metric)
        axes[i, j].set_title(f"{setting} shadows: {metric_label(metric)}", fontsize=8)
    for ax in axes[-1]:
        ax.set_xticks(range(len(methods)), methods, rotation=35, ha="right")
    interval = ("bootstrap 95% interval over examples (1 seed)" if seeds_text(rows) == "1 seed"
                else f"mean and 95% interval over {seeds_text(rows)}")
    fig.suptitle(f"Attacks on compressed targets (E6): {interval}", fontsize=9)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 4))
    return fig
