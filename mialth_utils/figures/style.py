"""The figure style, in one place: rc settings, colours and markers per attack (from the attack table
``attacks.registry.ATTACKS``), metric labels, chance levels, the sparsity colour map, ``save_figure``.

The figures follow the field's conventions so that a reader of MIA and lottery-ticket papers can
read them without a legend hunt:

- one colour and one marker per attack *family*, the same in every figure (``attack_style``);
  attacks of one family differ by line style;
- sparsity on a log axis of *% of weights remaining*, inverted so that sparser is to the right
  (as in the lottery-ticket papers), and a sequential colour map wherever colour means sparsity;
- ROC curves log-log with the FPR range below 1 / n_out shaded (the data cannot resolve it);
- TPR at a low FPR on a log axis; a chance line on every attack axis; human axis labels;
- intervals across seeds: a 95% t-interval of the mean when there are >= 2 seeds, else the row's
  own bootstrap interval (``<metric>_ci_low`` / ``_ci_high``) when the table has one.

No figure function draws an empty figure: with nothing to draw it raises ``ValueError`` saying why, so
the caller can write that sentence into the report instead of a blank plot.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullLocator

from ..attacks import registry

log = logging.getLogger(__name__)


HEADLINE = ("lira_online", "lira_offline", "rmia", "base_online", "bavaria_offline", "loss", "modified_entropy", "samia")


COMPRESSION_HEADLINE = ("loss", "lira_offline", "rmia", "samia", "shokri", "cm_mia", "cm_mia_all")


FAMILY_STYLE = registry.FAMILY_STYLE  # (colour, marker) per attack family
# Each family's attacks in the attack table's order (their place gives the line style and marker fill).
FAMILY_MEMBERS = {family: tuple(info.name for info in registry.ATTACKS if info.family == family)
                  for family in FAMILY_STYLE}


LINESTYLES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)))


FILLSTYLES = ("full", "none", "left", "bottom", "right")  # tells a family's attacks apart where no line is drawn


ATTACK_LABELS = {info.name: info.label for info in registry.ATTACKS}


METRIC_LABELS = {
    "auc": "AUC", "balanced_acc": "balanced accuracy", "advantage": "membership advantage (TPR - FPR)",
    "precision": "attack precision", "recall": "attack recall", "gap": "train-test gap",
    "test_acc": "test accuracy", "train_acc": "train accuracy", "sparsity": "sparsity (fraction of weights zero)",
    "remaining": "weights remaining (%)", "spearman": "Spearman rank correlation",
}


BRANCH_STYLE = {
    "imp": ("#0072B2", "o", "-", "IMP (lottery ticket)"),
    "random_mask": ("#E69F00", "s", "--", "random mask (control)"),
    "random_reinit": ("#009E73", "^", ":", "random re-init (control)"),
}


SPARSITY_CMAP = "viridis_r"


CHANCE_STYLE = {"color": "0.35", "linestyle": (0, (1, 1.5)), "linewidth": 1.0}


RC = {"axes.grid": True, "grid.color": "0.9", "grid.linewidth": 0.6, "axes.spines.top": False,
      "axes.spines.right": False, "font.size": 8, "axes.titlesize": 9, "axes.labelsize": 8,
      "legend.fontsize": 7, "legend.frameon": False, "xtick.labelsize": 7, "ytick.labelsize": 7}


_TPR_METRIC = re.compile(r"^tpr@([0-9.]+)%fpr$")


def styled(function):
    """Draw inside the module's rc settings, leaving the caller's global matplotlib state alone. The
    figure is closed in pyplot: it displays once, where a notebook shows it, not again at cell end."""
    def wrapper(*args, **kwargs):
        with plt.rc_context(RC):
            fig = function(*args, **kwargs)
        if isinstance(fig, Figure):
            plt.close(fig)
        return fig
    wrapper.__name__, wrapper.__doc__, wrapper.__wrapped__ = function.__name__, function.__doc__, function
    return wrapper


def save_figure(fig, name: str, results_dir: str | Path) -> list[Path]:
    """Write ``figures/<name>.png`` (300 dpi) and ``.pdf``, then close the figure (it still displays
    when returned to a notebook, but is not drawn twice by the inline backend)."""
    folder = Path(results_dir) / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{name}.png", folder / f"{name}.pdf"]
    fig.savefig(paths[0], dpi=300, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight")
    plt.close(fig)
    return paths


def attack_family(name: str) -> str | None:
    """The family of an attack (threshold, classifier, lira, rmia, label_only, samia, cm_mia)."""
    info = registry.attack_info(name)
    return info.family if info is not None else None


def attack_order(name: str) -> int:
    """Position of an attack in the style table (families grouped); unknown names last."""
    order = [attack for members in FAMILY_MEMBERS.values() for attack in members]
    return order.index(name) if name in order else len(order)


def attack_style(name: str) -> dict:
    """``dict(color, marker, linestyle, fillstyle, label)`` for an attack, identical in every figure
    (every key is a ``Line2D`` property, so ``ax.plot(x, y, **attack_style(name))`` works).

    Colour and marker come from the family; the line style and the marker fill (full, open, half)
    from the attack's place in it; an unknown name gets grey and a dot (and is logged) rather than a
    colour another attack owns."""
    family = attack_family(name)
    label = ATTACK_LABELS.get(name, name.replace("_", " "))
    if family is None:
        log.warning("attack %r belongs to no known family: drawn in grey", name)
        return {"color": "0.45", "marker": ".", "linestyle": "-", "fillstyle": "full", "label": label}
    color, marker = FAMILY_STYLE[family]
    index = FAMILY_MEMBERS[family].index(name)
    return {"color": color, "marker": marker, "linestyle": LINESTYLES[index % len(LINESTYLES)],
            "fillstyle": FILLSTYLES[index % len(FILLSTYLES)], "label": label}


def metric_label(metric: str) -> str:
    """Human axis label for a table column: ``tpr@0.1%fpr`` -> ``TPR at 0.1% FPR``."""
    match = _TPR_METRIC.match(metric)
    if match:
        return f"TPR at {match.group(1)}% FPR"
    return METRIC_LABELS.get(metric, metric.replace("_", " "))


def metric_fpr(metric: str) -> float | None:
    """The FPR of a ``tpr@X%fpr`` metric as a fraction (None for other metrics)."""
    match = _TPR_METRIC.match(metric)
    return float(match.group(1)) / 100 if match else None


def chance_level(metric: str) -> float | None:
    """What a guessing attacker scores: AUC / balanced accuracy 0.5, advantage 0, TPR = FPR."""
    fpr = metric_fpr(metric)
    if fpr is not None:
        return fpr if fpr > 0 else None
    return {"auc": 0.5, "balanced_acc": 0.5, "advantage": 0.0, "auc_abnormal": 0.5}.get(metric)


def remaining_percent(sparsity) -> np.ndarray:
    """% of prunable weights left: 100 * (1 - sparsity)."""
    return 100.0 * (1.0 - np.asarray(sparsity, float))


def sparsity_mappable(remaining: np.ndarray) -> matplotlib.cm.ScalarMappable:
    """Sequential colour map over % weights remaining (log), shared by every sparsity-coloured figure."""
    remaining = np.asarray(remaining, float)
    low = max(float(np.nanmin(remaining)), 0.1)
    norm = LogNorm(vmin=low / 1.05, vmax=max(float(np.nanmax(remaining)), low * 1.1))
    return matplotlib.cm.ScalarMappable(norm=norm, cmap=SPARSITY_CMAP)


def sparsity_colorbar(fig, mappable, ax, remaining) -> None:
    """Colour bar of % weights remaining with plain ticks at (some of) the levels drawn."""
    values = np.unique(np.round(np.asarray(remaining, float), 1))[::-1]
    ticks = values[:: max(1, int(np.ceil(len(values) / 7)))]
    bar = fig.colorbar(mappable, ax=ax, label="weights remaining (%)", pad=0.02, shrink=0.9)
    bar.ax.yaxis.set_major_locator(FixedLocator(ticks))
    bar.ax.yaxis.set_minor_locator(NullLocator())
    bar.ax.set_yticklabels([f"{t:.3g}" for t in ticks])
