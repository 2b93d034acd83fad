"""Axis and table helpers the figures share: usable rows, one setting per curve, means with 95%
t-intervals across seeds, log axes for TPR at low FPR and for % weights remaining."""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.ticker import FixedLocator, NullLocator

from ..stats import seed_interval
from .style import CHANCE_STYLE, attack_style, chance_level, metric_fpr, metric_label


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


mean_interval = seed_interval  # the figures' interval across seeds is the verdicts' one


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


def tpr_floor(df: pd.DataFrame) -> float:
    """Where a TPR of 0 is drawn on a log axis: below the smallest positive mean possible, half of one
    member over the replicates averaged (0.5 / (n_in * seeds * subsets)); 1e-4 without n_in."""
    if "n_in" not in df or df["n_in"].isna().all():
        return 1e-4
    replicates = int(np.prod([df[c].nunique() for c in ("seed", "subset") if c in df]))
    return 0.5 / (float(df["n_in"].max()) * max(replicates, 1))


def metric_axis(ax, metric: str, floor: float | None = None) -> None:
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


def sparsity_axis(ax, remaining) -> None:
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


def clip_note(ax, clipped: bool, floor: float) -> None:
    if clipped:
        ax.text(0.01, 0.01, f"0 is drawn at {floor:.1g}", transform=ax.transAxes, fontsize=6, color="0.4",
                va="bottom")


def legend_outside(ax, **kwargs) -> None:
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, **kwargs)


def band(ax, x, summary: pd.DataFrame, style: dict, floor: float | None, label: str) -> bool:
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


def gap_limits(ax, values: np.ndarray) -> None:
    """A y range that includes 0, so a gap of 0.17 and one of 0.02 do not look alike."""
    top, bottom = float(np.nanmax(values)), float(np.nanmin(values))
    margin = 0.1 * max(top - min(bottom, 0.0), 0.01)
    ax.set_ylim(min(0.0, bottom) - (margin if bottom < 0 else 0.0), max(top, 0.0) + margin)


def seeds_text(rows: pd.DataFrame) -> str:
    n_seeds = int(rows["seed"].nunique()) if "seed" in rows and rows["seed"].notna().any() else 1
    return f"{n_seeds} seed" + ("" if n_seeds == 1 else "s")


def absent_note(ax, wanted, present) -> None:
    """Name the requested attacks that have no value (not run or failed) under the legend."""
    absent = [attack_style(a)["label"] for a in wanted if a not in present]
    if absent:
        ax.text(1.01, 0.0, "no values (not run or failed):\n" + "\n".join(absent), transform=ax.transAxes,
                fontsize=6, color="0.4", va="bottom")


def points_with_mean(ax, positions, rows, column, style, rng, width, floor=None) -> bool:
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
