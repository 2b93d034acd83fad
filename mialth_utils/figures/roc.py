"""Log-log ROC curves (every attack on one model, or one attack across IMP levels)."""
from __future__ import annotations

import re

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import Normalize
from sklearn.metrics import auc as area_under_curve

from ..evaluation.metrics import tpr_at_fpr
from .axes import legend_outside
from .style import (
    CHANCE_STYLE,
    attack_family,
    attack_order,
    attack_style,
    remaining_percent,
    sparsity_colorbar,
    sparsity_mappable,
    styled,
)


def _curve_summary(curve: dict) -> tuple[np.ndarray, np.ndarray, float, float]:
    fpr, tpr = np.asarray(curve["fpr"], float), np.asarray(curve["tpr"], float)
    auc_value = curve.get("auc")
    auc_value = area_under_curve(fpr, tpr) if auc_value is None or np.isnan(auc_value) else auc_value
    tpr_low = curve.get("tpr@0.1%fpr")
    tpr_low = tpr_at_fpr(fpr, tpr, 1e-3) if tpr_low is None or np.isnan(tpr_low) else tpr_low
    return fpr, tpr, float(auc_value), float(tpr_low)


def _level_colours(labels, sparsities, level_colors):
    """Colours for curves that are levels: by sparsity if given (also returns their % remaining for
    the colour bar), else by the level number in the label; (None, None, None) for attack curves."""
    if sparsities:
        missing = [label for label in labels if label not in sparsities]
        if missing:
            raise ValueError(f"no sparsity given for curves {missing}")
        mappable = sparsity_mappable(remaining_percent([sparsities[label] for label in labels]))
        colours = {label: mappable.to_rgba(remaining_percent(sparsities[label])) for label in labels}
        return colours, mappable, remaining_percent([sparsities[label] for label in labels])
    if not level_colors:
        return None, None, None
    numbers = [re.findall(r"\d+", str(label)) for label in labels]
    levels = [int(n[-1]) if n else i for i, n in enumerate(numbers)]
    mappable = matplotlib.cm.ScalarMappable(norm=Normalize(min(levels), max(max(levels), min(levels) + 1)),
                                            cmap="viridis")
    return {label: mappable.to_rgba(level) for label, level in zip(labels, levels)}, mappable, None


def _marker_positions(fpr: np.ndarray) -> list[int]:
    """Indices of the markers at FPR 1e-3, 1e-2, 1e-1: the last ROC point with FPR <= the target, so a
    marker sits at the top of a vertical step, at the TPR the tables report (``evaluation.metrics.tpr_at_fpr``)."""
    fpr = np.asarray(fpr, float)
    return sorted({int(i) for i in np.searchsorted(fpr, np.array([1e-3, 1e-2, 1e-1]) + 1e-12, side="right") - 1
                   if i >= 0})


@styled
def roc_loglog(curves: dict[str, dict], n_out: int, title: str = "ROC (log-log)", *, level_colors: bool = False,
               sparsities: dict[str, float] | None = None):
    """Log-log ROC curves ``{label: {"fpr", "tpr", optional "auc", "tpr@0.1%fpr"}}``.

    Labels are attack names (styled by ``attack_style``) or IMP levels (``sparsities`` = {label:
    sparsity}, ``level_colors=True``, or no label an attack name), coloured by a sequential map with a
    colour bar. The legend gives AUC and TPR at 0.1% FPR; FPRs below 1 / n_out cannot be measured
    with n_out non-members and are shaded."""
    curves = {label: c for label, c in curves.items() if np.asarray(c.get("fpr", [])).size > 1}
    if not curves:
        raise ValueError("no ROC curve to draw: every curve is empty (did the attack run at these levels?)")
    if n_out < 1:
        raise ValueError(f"n_out must be >= 1, got {n_out}")
    resolution = 1.0 / n_out
    floor = 10.0 ** np.floor(np.log10(0.5 * resolution))
    level_colors = level_colors or not any(attack_family(label) for label in curves)  # "level 3" etc.
    colours, mappable, remaining = _level_colours(list(curves), sparsities, level_colors)
    if colours is None:  # attack curves: legend grouped by family, in the style table's order
        curves = dict(sorted(curves.items(), key=lambda item: attack_order(item[0])))
    fig, ax = plt.subplots(figsize=(7.4, 4.4))
    for label, curve in curves.items():
        fpr, tpr, auc_value, tpr_low = _curve_summary(curve)
        style = attack_style(label) if colours is None else {"color": colours[label], "marker": None,
                                                            "linestyle": "-", "label": label}
        resolved = f"{100 * tpr_low:.1f}%" if resolution <= 1e-3 else "n/r"
        ax.plot(np.clip(fpr, floor, 1), np.clip(tpr, floor, 1), color=style["color"], linestyle=style["linestyle"],
                marker=style["marker"], fillstyle=style.get("fillstyle", "full"), markevery=_marker_positions(fpr),
                markersize=4, linewidth=1.3,
                label=f"{style['label']} (AUC {auc_value:.2f}, TPR@0.1% {resolved})")
    ax.plot([floor, 1], [floor, 1], label="chance (TPR = FPR)", **CHANCE_STYLE)
    ax.axvspan(floor, resolution, color="0.88", zorder=0, linewidth=0,
               label=f"FPR < 1/{n_out}: not resolvable with {n_out} non-members")
    ax.text(np.sqrt(floor * resolution), 0.6, f"not resolvable with\n{n_out} non-members", rotation=90,
            ha="center", va="top", fontsize=6, color="0.3")  # top left: where no ROC curve goes
    ax.set(xscale="log", yscale="log", xlim=(floor, 1), ylim=(floor, 1), title=title,
           xlabel="false positive rate (non-members flagged)", ylabel="true positive rate (members found)")
    if remaining is not None:
        sparsity_colorbar(fig, mappable, ax, remaining)
    elif mappable is not None:
        fig.colorbar(mappable, ax=ax, label="IMP level", pad=0.02)
    if mappable is not None:
        ax.legend(loc="lower right", fontsize=6)
    else:
        legend_outside(ax)
    return fig
