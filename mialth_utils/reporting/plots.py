"""One function per figure, each returning ``fig``; ``save_figure`` writes PNG (300 dpi) and PDF.

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

No function draws an empty figure: with nothing to draw it raises ``ValueError`` saying why, so
the caller can write that sentence into the report instead of a blank plot.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.colors import ListedColormap, LogNorm, Normalize, TwoSlopeNorm
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, NullLocator
from scipy import stats
from sklearn.metrics import auc as area_under_curve

log = logging.getLogger(__name__)

HEADLINE = ("lira_online", "lira_offline", "rmia", "loss", "modified_entropy", "samia")
COMPRESSION_HEADLINE = ("loss", "lira_offline", "rmia", "samia", "shokri", "cm_mia", "cm_mia_all")

# Okabe-Ito colours (readable by colour-blind readers), one per attack family.
FAMILY_STYLE = {
    "threshold": ("#009E73", "o"),
    "classifier": ("#E69F00", "s"),
    "lira": ("#D55E00", "^"),
    "rmia": ("#0072B2", "D"),
    "label_only": ("#CC79A7", "v"),
    "samia": ("#56B4E9", "P"),
    "cm_mia": ("#8C564B", "X"),
}
FAMILY_MEMBERS = {
    "threshold": ("loss", "correctness", "confidence", "entropy", "modified_entropy"),
    "classifier": ("shokri", "ml_leaks"),
    "lira": ("lira_online", "lira_offline", "lira_offline_fixvar"),
    "rmia": ("rmia",),
    "label_only": ("label_only",),
    "samia": ("samia",),
    "cm_mia": ("cm_mia", "cm_mia_all", "cm_mia_gauss", "cm_mia_empirical"),
}
LINESTYLES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)))
FILLSTYLES = ("full", "none", "left", "bottom", "right")  # tells a family's attacks apart where no line is drawn
ATTACK_LABELS = {
    "loss": "Loss threshold", "correctness": "Correctness", "confidence": "Confidence", "entropy": "Entropy",
    "modified_entropy": "Modified entropy", "shokri": "Shokri (shadow classifier)", "ml_leaks": "ML-Leaks",
    "lira_online": "LiRA online", "lira_offline": "LiRA offline", "lira_offline_fixvar": "LiRA offline, fixed var.",
    "rmia": "RMIA", "label_only": "Label-only", "samia": "SAMIA", "cm_mia": "CM-MIA",
    "cm_mia_all": "CM-MIA (every example tested)", "cm_mia_gauss": "CM-MIA (Gaussian test)",
    "cm_mia_empirical": "CM-MIA (empirical test)",
}
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


def _styled(function):
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


# ---------------------------------------------------------------- styles and labels

def attack_family(name: str) -> str | None:
    """The family of an attack (threshold, classifier, lira, rmia, label_only, samia, cm_mia)."""
    return next((family for family, members in FAMILY_MEMBERS.items() if name in members), None)


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


# ---------------------------------------------------------------- table helpers

def usable_rows(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Rows with a value: drop those where the attack could not run (``error`` set) or the metric is NaN."""
    if metric not in df:
        raise ValueError(f"the table has no column {metric!r}")
    keep = df[metric].notna()
    if "error" in df:
        keep &= df["error"].isna() | (df["error"].astype(str).str.strip() == "")
    return df[keep]


def check_one_setting(df: pd.DataFrame, by: list[str]) -> None:
    """Refuse rows of several runs (settings) in one curve: within each ``by`` group every row must
    share one ``settings_hash`` (seeds of one setting) and one data set / model."""
    columns = [c for c in ("settings_hash", "dataset", "model_arch") if c in df]
    by = [c for c in by if c in df]
    if not columns or df.empty:
        return
    counts = df.groupby(by)[columns].nunique() if by else df[columns].nunique().to_frame().T
    if (counts > 1).any().any():
        raise ValueError(f"rows of several runs mixed ({', '.join(columns)} differ within one curve): "
                         "select one data set, model and setting first")


def mean_interval(values) -> tuple[float, float, float]:
    """Mean and 95% t-interval of the mean across replicates (NaN bounds with fewer than 2)."""
    values = np.asarray(values, float)
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return np.nan, np.nan, np.nan
    mean = float(values.mean())
    if len(values) < 2:
        return mean, np.nan, np.nan
    sem = stats.sem(values)
    if sem == 0:
        return mean, mean, mean
    low, high = stats.t.interval(0.95, len(values) - 1, loc=mean, scale=sem)
    return mean, float(low), float(high)


def aggregate(df: pd.DataFrame, keys: list[str], metric: str) -> pd.DataFrame:
    """Per ``keys`` group: mean, 95% interval (t across rows = seeds; one row: its bootstrap CI),
    the number of rows and the mean sparsity when the table has one."""
    rows = []
    for key, group in df.groupby(keys, sort=True):
        mean, low, high = mean_interval(group[metric])
        if len(group) == 1 and f"{metric}_ci_low" in group:
            low, high = float(group[f"{metric}_ci_low"].iloc[0]), float(group[f"{metric}_ci_high"].iloc[0])
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        row.update(mean=mean, low=low, high=high, n=len(group))
        if "sparsity" in group:
            row["sparsity"] = float(group["sparsity"].mean())
        rows.append(row)
    return pd.DataFrame(rows)


def _tpr_floor(df: pd.DataFrame) -> float:
    """Where a TPR of 0 is drawn on a log axis: below the smallest positive mean possible, half of one
    member over the replicates averaged (0.5 / (n_in * seeds * subsets)); 1e-4 without n_in."""
    if "n_in" not in df or df["n_in"].isna().all():
        return 1e-4
    replicates = int(np.prod([df[c].nunique() for c in ("seed", "subset") if c in df]))
    return 0.5 / (float(df["n_in"].max()) * max(replicates, 1))


def _metric_axis(ax, metric: str, floor: float | None = None) -> None:
    """Label the axis, draw the chance line, and use a log scale for TPR at low FPR."""
    chance = chance_level(metric)
    if chance is not None:
        text = "chance (TPR = FPR)" if metric_fpr(metric) is not None else f"chance ({chance:g})"
        ax.axhline(chance, label=text, **CHANCE_STYLE)
    if metric_fpr(metric) is not None:
        ax.set_yscale("log")
        if floor is not None:
            ax.set_ylim(bottom=floor / 1.5)
    ax.set_ylabel(metric_label(metric))


def _sparsity_axis(ax, remaining) -> None:
    """Log x axis of % weights remaining, inverted (sparser to the right), ticks at the levels run."""
    values = np.unique(np.round(np.asarray(remaining, float), 1))
    values = values[values > 0][::-1]
    ticks = values[:: max(1, int(np.ceil(len(values) / 7)))]
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticks(ticks, [f"{t:.3g}" for t in ticks])
    ax.set_xlim(values.max() * 1.12, values.min() / 1.12)
    ax.set_xlabel("weights remaining (%)  ->  sparser")


def _clip_note(ax, clipped: bool, floor: float) -> None:
    if clipped:
        ax.text(0.01, 0.01, f"0 is drawn at {floor:.1g}", transform=ax.transAxes, fontsize=6, color="0.4",
                va="bottom")


def _legend_outside(ax, **kwargs) -> None:
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, **kwargs)


# ---------------------------------------------------------------- ROC

def _tpr_at(fpr: np.ndarray, tpr: np.ndarray, target: float) -> float:
    """Highest TPR reached at FPR <= target (the ROC's step convention)."""
    ok = fpr <= target + 1e-12
    return float(tpr[ok].max()) if ok.any() else 0.0


def _curve_summary(curve: dict) -> tuple[np.ndarray, np.ndarray, float, float]:
    fpr, tpr = np.asarray(curve["fpr"], float), np.asarray(curve["tpr"], float)
    auc_value = curve.get("auc")
    auc_value = area_under_curve(fpr, tpr) if auc_value is None or np.isnan(auc_value) else auc_value
    tpr_low = curve.get("tpr@0.1%fpr")
    tpr_low = _tpr_at(fpr, tpr, 1e-3) if tpr_low is None or np.isnan(tpr_low) else tpr_low
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
    marker sits at the top of a vertical step, at the TPR the tables report (``_tpr_at``)."""
    fpr = np.asarray(fpr, float)
    return sorted({int(i) for i in np.searchsorted(fpr, np.array([1e-3, 1e-2, 1e-1]) + 1e-12, side="right") - 1
                   if i >= 0})


@_styled
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
        _legend_outside(ax)
    return fig


# ---------------------------------------------------------------- against sparsity

def _band(ax, x, summary: pd.DataFrame, style: dict, floor: float | None, label: str) -> bool:
    """Mean line with markers and its 95% band; returns whether a value was clipped to the floor."""
    mean, low, high = summary["mean"].to_numpy(), summary["low"].to_numpy(), summary["high"].to_numpy()
    clipped = False
    if floor is not None:
        clipped = bool(np.nanmin(mean) < floor)
        mean, low, high = (np.clip(v, floor, None) for v in (mean, low, high))
    ax.plot(x, mean, color=style["color"], marker=style["marker"], linestyle=style["linestyle"],
            fillstyle=style["fillstyle"], markerfacecoloralt="white",
            markersize=4, linewidth=1.3, label=label)
    if np.isfinite(low).any():
        ax.fill_between(x, low, high, color=style["color"], alpha=0.13, linewidth=0)
    return clipped


def _gap_limits(ax, values: np.ndarray) -> None:
    """A y range that includes 0, so a gap of 0.17 and one of 0.02 do not look alike."""
    top, bottom = float(np.nanmax(values)), float(np.nanmin(values))
    margin = 0.1 * max(top - min(bottom, 0.0), 0.01)
    ax.set_ylim(min(0.0, bottom) - (margin if bottom < 0 else 0.0), max(top, 0.0) + margin)


def _seeds_text(rows: pd.DataFrame) -> str:
    n_seeds = int(rows["seed"].nunique()) if "seed" in rows and rows["seed"].notna().any() else 1
    return f"{n_seeds} seed" + ("" if n_seeds == 1 else "s")


def _absent_note(ax, wanted, present) -> None:
    """Name the requested attacks that have no value (not run or failed) under the legend."""
    absent = [attack_style(a)["label"] for a in wanted if a not in present]
    if absent:
        ax.text(1.01, 0.0, "no values (not run or failed):\n" + "\n".join(absent), transform=ax.transAxes,
                fontsize=6, color="0.4", va="bottom")


def _gap_panel(ax, rows: pd.DataFrame) -> None:
    """The target's train-test gap per level (one value per seed), mean and 95% interval, y from 0."""
    per_seed = rows.drop_duplicates([c for c in ("level", "seed") if c in rows])
    gap = aggregate(per_seed.drop(columns=["gap_ci_low", "gap_ci_high"], errors="ignore"), ["level"], "gap")
    x = remaining_percent(gap["sparsity"])
    ax.plot(x, gap["mean"], color="0.2", marker="o", markersize=3, linewidth=1.1)
    if np.isfinite(gap["low"]).any():
        ax.fill_between(x, gap["low"], gap["high"], color="0.2", alpha=0.15, linewidth=0)
    _gap_limits(ax, np.r_[gap["low"].to_numpy(), gap["high"].to_numpy(), gap["mean"].to_numpy()])
    ax.set_ylabel("train-test gap\n(target)")


@_styled
def attack_vs_sparsity(attacks: pd.DataFrame, metric: str = "auc", attacks_shown=HEADLINE, title: str = "",
                       branch: str = "imp"):
    """E3 / C4: an attack metric against % weights remaining (log, inverted), mean over seeds with a
    95% band, chance line; the target's train-test gap in a panel below on the same x axis, since the
    gap alone can explain a trend in the attack."""
    requested = attacks[attacks["attack"].isin(attacks_shown)]
    if "branch" in requested:
        requested = requested[requested["branch"] == branch]
    rows = usable_rows(requested, metric)
    if rows.empty:
        raise ValueError(f"no {metric} values for attacks {list(attacks_shown)} on branch {branch!r} "
                         "(not run, or every run failed)")
    check_one_setting(rows, ["attack"])
    fig, (ax, gap_ax) = plt.subplots(2, 1, sharex=True, figsize=(7.0, 4.6), height_ratios=(3, 1.1))
    floor = _tpr_floor(rows) if metric_fpr(metric) is not None else None
    clipped = False
    for attack in [a for a in attacks_shown if a in set(rows["attack"])]:
        summary = aggregate(rows[rows["attack"] == attack], ["level"], metric)
        style = attack_style(attack)
        clipped |= _band(ax, remaining_percent(summary["sparsity"]), summary, style, floor, style["label"])
    _metric_axis(ax, metric, floor)
    _clip_note(ax, clipped, floor or 0)
    seeds = _seeds_text(rows)
    interval = "bootstrap 95% CI" if seeds == "1 seed" else "95% t-interval over seeds"
    ax.set_title(title or f"{metric_label(metric)} against sparsity ({seeds}; band: {interval})")
    _legend_outside(ax)
    _absent_note(ax, [a for a in attacks_shown if a in set(requested["attack"])], set(rows["attack"]))
    _gap_panel(gap_ax, rows)
    _sparsity_axis(gap_ax, remaining_percent(rows["sparsity"]))
    fig.align_ylabels([ax, gap_ax])
    return fig


BRANCH_DODGE = {"imp": 1.0, "random_mask": 10 ** 0.008, "random_reinit": 10 ** -0.008}  # error bars apart


@_styled
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
    _sparsity_axis(ax, remaining_percent(rows["sparsity"]))
    ax.set_ylabel("test accuracy (%)")
    seeds = _seeds_text(rows)
    interval = "no interval with 1 seed" if seeds == "1 seed" else "95% t-interval over seeds"
    ax.set_title(title or f"Test accuracy of tickets and controls ({seeds}; {interval})")
    _legend_outside(ax)
    return fig


# ---------------------------------------------------------------- against the number of classes

def _points_with_mean(ax, positions, rows, column, style, rng, width, floor=None) -> bool:
    """Every row as a jittered dot at its category position and the mean with a 95% t-interval,
    the means joined by a thin line in the attack's line style (which tells a family's attacks apart)."""
    clipped, means = False, []
    for position, (_, group) in zip(positions, rows.groupby("n_classes", sort=True)):
        values = group[column].to_numpy(float)
        mean, low, high = mean_interval(values)
        if floor is not None:
            clipped |= bool((values < floor).any())
            values, mean, low, high = np.clip(values, floor, None), max(mean, floor), max(low, floor), max(high, floor)
        jitter = rng.uniform(-width / 3, width / 3, len(values))
        ax.scatter(position + jitter, values, s=7, color=style["color"], alpha=0.35, linewidths=0)
        error = [[mean - low], [high - mean]] if np.isfinite(low) else None
        ax.errorbar([position], [mean], yerr=error, color=style["color"], marker=style["marker"], markersize=5,
                    fillstyle=style.get("fillstyle", "full"), markerfacecoloralt="white", capsize=2, linewidth=1.2)
        means.append(mean)
    ax.plot(list(positions), means, color=style["color"], linestyle=style.get("linestyle", "-"), linewidth=0.8,
            alpha=0.6)
    return clipped


@_styled
def attack_vs_classes(class_count: pd.DataFrame, metric: str = "auc", attacks_shown=HEADLINE):
    """E4 / C3: an attack metric against the number of classes k. Every (class subset, seed) is a dot,
    the mean over them a marker with its 95% t-interval; one column per IMP level; below, the target's
    train-test gap per k, the confounder (fewer classes -> easier task -> smaller gap)."""
    rows = usable_rows(class_count[class_count["attack"].isin(attacks_shown)], metric)
    if rows.empty:
        raise ValueError(f"no {metric} values for attacks {list(attacks_shown)} in the class-count table")
    check_one_setting(rows, ["attack", "level"])
    attacks = [a for a in attacks_shown if a in set(rows["attack"])]
    levels = sorted(rows["level"].unique()) if "level" in rows else [None]
    ks = sorted(rows["n_classes"].unique())
    width = 0.8 / len(attacks)
    floor = _tpr_floor(rows) if metric_fpr(metric) is not None else None
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
            clipped |= _points_with_mean(ax, positions, at_level[at_level["attack"] == attack], metric,
                                         attack_style(attack), rng, width, floor)
        _metric_axis(ax, metric, floor)
        _clip_note(ax, clipped, floor or 0)
        ax.set_title("dense model" if level == 0 else f"IMP level {level}")
        gap_rows = at_level.drop_duplicates([c for c in ("n_classes", "subset", "seed") if c in at_level])
        _points_with_mean(gap_ax, [ks.index(k) for k in sorted(gap_rows["n_classes"].unique())], gap_rows, "gap",
                          {"color": "0.2", "marker": "o"}, rng, 0.5)
        _gap_limits(gap_ax, gap_rows["gap"].to_numpy(float))
        gap_ax.set_xticks(range(len(ks)), [str(k) for k in ks])
        gap_ax.set_xlabel("number of classes k")
        if column > 0:
            ax.set_ylabel("")
    axes[1, 0].set_ylabel("train-test gap\n(target)")
    handles = [Line2D([], [], **attack_style(a)) for a in attacks]
    handles += [Line2D([], [], label="chance", **CHANCE_STYLE)] if chance_level(metric) is not None else []
    axes[0, -1].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.suptitle(f"{metric_label(metric)} against the number of classes (dots: class subsets x seeds; "
                 "marker: mean, 95% t-interval)", fontsize=8)
    fig.align_ylabels(axes[:, 0])
    return fig


# ---------------------------------------------------------------- transfer (C5)

def transfer_cost(transfer: pd.DataFrame, metric: str = "auc") -> pd.DataFrame:
    """Per row: cost = metric(fit level a -> target level b) - metric(fit level b -> target level b).

    The baseline is the attack fitted on the *target's own architecture* at the target's level
    (rows with fit_model == target_model == this target_model, fit_level == target_level, same
    attack and seed) when the table has it; otherwise the same panel's diagonal. Column
    ``baseline`` says which was used."""
    rows = transfer.dropna(subset=[metric]).copy()
    seed = ["seed"] if "seed" in rows else []
    diagonal = rows[rows["fit_level"] == rows["target_level"]]
    own = diagonal[diagonal["fit_model"] == diagonal["target_model"]]
    own = own[["attack", "target_model", "target_level"] + seed + [metric]].rename(columns={metric: "own"})
    panel = diagonal[["attack", "fit_model", "target_model", "target_level"] + seed + [metric]]
    rows = rows.merge(own, on=["attack", "target_model", "target_level"] + seed, how="left")
    rows = rows.merge(panel.rename(columns={metric: "panel"}), how="left",
                      on=["attack", "fit_model", "target_model", "target_level"] + seed)
    rows["baseline"] = np.where(rows["own"].notna(), "own", "panel")
    rows["cost"] = rows[metric] - rows["own"].fillna(rows["panel"])
    return rows.drop(columns=["own", "panel"])


@_styled
def transfer_cost_heatmap(transfer: pd.DataFrame, attack=None, metric: str = "auc"):
    """E5 / C5: one figure, one panel per (attack, fit model -> target model), cells = transfer cost
    (row: level the attack was fitted at, column: target level), mean over seeds, on ONE diverging
    colour scale centred at 0 with a labelled colour bar (red: the transferred attack is weaker)."""
    attacks = [attack] if isinstance(attack, str) else attack
    rows = transfer if attacks is None else transfer[transfer["attack"].isin(attacks)]
    rows = transfer_cost(rows, metric).dropna(subset=["cost"]) if len(rows) else rows
    if rows.empty:
        raise ValueError(f"no transfer rows with a {metric} and a same-level baseline for attack(s) {attack}")
    check_one_setting(rows, ["attack", "fit_model", "target_model"])
    groups = list(rows.groupby(["attack", "fit_model", "target_model"], sort=False))
    limit = max(float(rows.groupby(["attack", "fit_model", "target_model", "fit_level", "target_level"])["cost"]
                      .mean().abs().max()), 1e-3)
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-limit, vmax=limit)
    n_columns = min(len(groups), 2)
    n_rows = int(np.ceil(len(groups) / n_columns))
    fig, axes = plt.subplots(n_rows, n_columns, squeeze=False, figsize=(3.9 * n_columns + 1.2, 3.7 * n_rows),
                             layout="constrained")
    for ax, ((name, fit_model, target_model), group) in zip(axes.flat, groups):
        table = group.pivot_table(index="fit_level", columns="target_level", values="cost", aggfunc="mean")
        image = ax.imshow(table.to_numpy(), cmap="RdBu", norm=norm, aspect="equal")
        for (i, j), value in np.ndenumerate(table.to_numpy()):
            if np.isfinite(value):
                ax.text(j, i, f"{value:+.2f}".replace("+0.00", "0").replace("-0.00", "0"), ha="center",
                        va="center", fontsize=6, color="white" if abs(value) > 0.6 * limit else "0.1")
        ax.set_xticks(range(table.shape[1]), table.columns)
        ax.set_yticks(range(table.shape[0]), table.index)
        ax.set(xlabel="target level b", ylabel="fitted at level a")
        ax.grid(False)
        baseline = "own fit at b" if (group["baseline"] == "own").all() else "same-panel diagonal"
        ax.set_title(f"{attack_style(name)['label']}: {fit_model} -> {target_model}\n(baseline: {baseline})",
                     fontsize=8)
    for ax in list(axes.flat)[len(groups):]:
        ax.set_visible(False)
    fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.85,
                 label=f"transfer cost: {metric_label(metric)}(a -> b) - {metric_label(metric)}(b -> b)")
    fig.suptitle(f"Attack transfer across levels (C5), mean over {_seeds_text(rows)}; red = weaker after transfer",
                 fontsize=9)
    return fig


# ---------------------------------------------------------------- compression (E6)

SHADOW_ORDER = ("matched", "mismatched", "mixture")


def _compression_axis(ax, here: pd.DataFrame, attacks: list[str], methods: list[str], metric: str) -> None:
    """One panel: per compressed target (x) and attack (dodged), mean and 95% interval of ``metric``."""
    floor = _tpr_floor(here) if metric_fpr(metric) is not None else None
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
    _metric_axis(ax, metric, floor)
    _clip_note(ax, clipped, floor or 0)
    ax.grid(axis="x", visible=False)
    for boundary in np.arange(len(methods) - 1) + 0.5:
        ax.axvline(boundary, color="0.92", linewidth=0.6)


@_styled
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
    interval = ("bootstrap 95% interval over examples (1 seed)" if _seeds_text(rows) == "1 seed"
                else f"mean and 95% interval over {_seeds_text(rows)}")
    fig.suptitle(f"Attacks on compressed targets (E6): {interval}", fontsize=9)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 4))
    return fig


# ---------------------------------------------------------------- privacy-utility frontier

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
    _metric_axis(ax, metric, floor)
    _clip_note(ax, floor is not None and bool((summary[metric] < floor).any()), floor or 0)
    ax.set_xlabel("test accuracy (%)")


@_styled
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
    fig.suptitle(title or f"Privacy-utility frontier{attack} ({_seeds_text(points)}; up = more leakage, "
                          "right = more accurate)", fontsize=9)
    return fig


# ---------------------------------------------------------------- membership design and trajectories

KEEP_COLOURS = ListedColormap(["#E6E6E6", "#0072B2"])  # OUT, IN


@_styled
def keep_matrix(keep: np.ndarray, n_show: int = 80):
    """The keep-matrix (rows: models, columns: pool examples; IN = the model trains on the example)
    for the first ``n_show`` examples, the target (row 0) set apart above the reference models."""
    keep = np.asarray(keep, bool)
    if keep.ndim != 2 or keep.size == 0:
        raise ValueError(f"keep must be a non-empty (models, examples) bool array, got shape {keep.shape}")
    n_models, n_examples = keep.shape
    shown = keep[:, :n_show]
    n_refs = n_models - 1
    fig, axes = plt.subplots(2 if n_refs else 1, 1, sharex=True, squeeze=False,
                             figsize=(7.2, 0.9 + 0.16 * n_models + (0.35 if n_refs else 0)),
                             height_ratios=(1, max(n_refs, 1)) if n_refs else None,
                             gridspec_kw={"hspace": 0.5})
    panels = [(axes[0, 0], shown[:1], ["target"])]
    if n_refs:
        panels.append((axes[1, 0], shown[1:], [str(i) for i in range(1, n_models)]))
    for ax, block, labels in panels:
        ax.imshow(block, cmap=KEEP_COLOURS, vmin=0, vmax=1, aspect="auto", interpolation="nearest")
        ax.grid(False)
        ax.set_yticks(range(len(labels)), labels if len(labels) <= 16 else
                      [label if i % 4 == 0 else "" for i, label in enumerate(labels)])
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
    axes[0, 0].set_title(f"Target: IN for {keep[0].sum()} of {n_examples} pool examples", fontsize=8, loc="left")
    if n_refs:
        low, high = keep[1:].sum(0).min(), keep[1:].sum(0).max()
        count = f"exactly {low}" if low == high else f"{low} to {high}"
        axes[1, 0].set_title(f"{n_refs} reference models: each example IN for {count} of them", fontsize=8,
                             loc="left")
        axes[1, 0].set_ylabel("reference model")
    axes[-1, 0].set_xlabel(f"pool example (first {shown.shape[1]} of {n_examples})")
    fig.legend(handles=[Patch(color=KEEP_COLOURS(1), label="IN (trains on it)"),
                        Patch(color=KEEP_COLOURS(0), label="OUT")], loc="upper right", ncol=2,
               bbox_to_anchor=(0.98, 1.02))
    fig.suptitle("keep-matrix", x=0.02, ha="left", y=1.02, fontsize=9)
    return fig


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


@_styled
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


@_styled
def example_images(data, pool_idx: np.ndarray, member: np.ndarray, labels: np.ndarray):
    """A few pool examples with their class and whether the target trained on them (IN / OUT)."""
    if len(pool_idx) == 0:
        raise ValueError("no pool examples to show")
    n = len(pool_idx)
    fig, axes = plt.subplots(2, (n + 1) // 2, figsize=(8, 2.4), squeeze=False)
    import torch

    x = data.train_x[torch.as_tensor(pool_idx)].float().cpu() / 255
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            img = x[i].permute(1, 2, 0)
            ax.imshow(img.squeeze(-1) if img.shape[-1] == 1 else img, cmap="gray")
            ax.set_title(("IN " if member[i] else "OUT ") + str(data.classes[int(labels[i])])[:8], fontsize=6)
    fig.suptitle("Pool examples: IN = a member of the target's training set", fontsize=8)
    return fig
