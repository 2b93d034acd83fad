"""E8 and the zero-reference estimates (11_ticket_chain): what the adversary who sees the whole IMP chain finds,
against the best single-model attack, and how well the zero-reference estimates track LiRA's TPR. Every value
is a seed's mean over its target models; lines are the mean over seeds with the 95% t-interval."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..claims.common import SETTING_COLUMNS, rows_of_setting
from ..stats import seed_interval
from .axes import band, check_one_setting, metric_axis, seeds_text, sparsity_axis, tpr_floor
from .style import CHANCE_STYLE, attack_style, remaining_percent, styled

# The chain attacks are not rows of the attack registry (they read a chain of outputs, not one model's),
# so their style is set here, in colours no registry family uses.
CHAIN_STYLE = {
    "chain_mr": {"color": "#882255", "marker": "h", "linestyle": "-", "fillstyle": "full",
                 "label": "chain MR (levels 0..L together)"},
    "chain_sr": {"color": "#44AA99", "marker": "d", "linestyle": "--", "fillstyle": "full",
                 "label": "chain SR (level L relative to dense)"},
    "best_single": {"color": "0.25", "marker": "o", "linestyle": ":", "fillstyle": "none",
                    "label": "best single-model attack, levels 0..L"},
}


def per_level(rows: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per level: mean over seeds (of the seed's mean over target models), 95% t-interval, sparsity."""
    rows = one_seed_if_none(rows)
    curves = rows.pivot_table(index="seed", columns="level", values=column, aggfunc="mean")
    sparsity = rows.groupby("level")["sparsity"].mean()
    out = [dict(zip(("mean", "low", "high"), seed_interval(curves[level])), level=level, sparsity=sparsity[level])
           for level in curves.columns]
    return pd.DataFrame(out).sort_values("level")


def one_seed_if_none(rows: pd.DataFrame) -> pd.DataFrame:
    """A run's own table (before the recorder adds ``seed``) is one seed."""
    return rows if "seed" in rows else rows.assign(seed=0)


def best_single_curve(attacks: pd.DataFrame, targets: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per seed and level L: the largest, over the single-model attacks with leave-one-out rows and the levels
    0..L, of that attack's mean over the seed's target models (what E8's rule compares chain_mr with)."""
    from ..claims.e8 import best_single_model

    rows = []
    for seed, group in attacks.groupby("seed"):
        chosen = targets.loc[targets["seed"] == seed, "target_model"].unique()
        for level in sorted(targets["level"].unique()):
            value = best_single_model(group, chosen, range(0, int(level) + 1), column)[0]
            rows.append({"seed": seed, "level": level, column: value})
    merged = pd.DataFrame(rows).merge(targets.groupby("level")["sparsity"].mean().reset_index(), on="level")
    return merged


@styled
def chain_gain(chain: pd.DataFrame, tables: dict | None = None, metric: str = "tpr@1%fpr"):
    """E8: TPR at 1% FPR of chain_mr (levels 0..L) and chain_sr (level L against dense) per IMP level L, beside
    the best single-model attack over levels 0..L (from the attacks table, when given) and LiRA online on the
    level-L model alone (from the zero_reference table, when given)."""
    check_one_setting(chain, ["attack", "level"])
    key = {c: chain[c].iloc[0] for c in SETTING_COLUMNS if c in chain and len(chain)}
    tables = {name: rows_of_setting(table, key) for name, table in (tables or {}).items()}
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    floor = tpr_floor(chain)
    for name in ("chain_mr", "chain_sr"):
        rows = chain[chain["attack"] == name]
        if len(rows):
            summary = per_level(rows, metric)
            band(ax, remaining_percent(summary["sparsity"]), summary, CHAIN_STYLE[name], floor, CHAIN_STYLE[name]["label"])
    if "attacks" in tables:
        single = best_single_curve(tables["attacks"], chain[chain["attack"] == "chain_mr"], metric)
        summary = per_level(single, metric)
        band(ax, remaining_percent(summary["sparsity"]), summary, CHAIN_STYLE["best_single"], floor,
             CHAIN_STYLE["best_single"]["label"])
    if "zero_reference" in tables:
        zr = tables["zero_reference"]
        summary = per_level(zr[zr["level"] >= 1], "measured_tpr")
        style = attack_style("lira_online")
        band(ax, remaining_percent(summary["sparsity"]), summary, style, floor, f"{style['label']}, level L alone")
    metric_axis(ax, metric, floor)
    sparsity_axis(ax, remaining_percent(chain["sparsity"]))
    ax.set_title(f"Dense model and tickets seen together ({seeds_text(chain)}; mean, 95% t-interval)", fontsize=8)
    ax.legend(fontsize=6, loc="best")
    return fig


@styled
def zero_reference(zr: pd.DataFrame, tables: dict | None = None):
    """Zero-reference estimates: (left) the loss-tail estimate against LiRA online's measured TPR at 1% FPR, one
    point per (seed, level), the diagonal where they agree; (right) LT-IQR's precision at k against LiRA
    online's most exposed members per level, with the chance line k / members."""
    zr = one_seed_if_none(zr)
    check_one_setting(zr, ["level", "target_model"])
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.2, 3.3), layout="constrained")
    points = zr.groupby(["seed", "level"])[["measured_tpr", "tail_estimate", "sparsity"]].mean().reset_index()
    scatter = left.scatter(points["measured_tpr"], points["tail_estimate"], c=remaining_percent(points["sparsity"]),
                           cmap="viridis_r", s=14, edgecolor="none")
    top = float(np.nanmax(points[["measured_tpr", "tail_estimate"]].to_numpy())) * 1.1 or 1.0
    left.plot([0, top], [0, top], color="0.3", linewidth=0.8, linestyle="--", label="estimate = measured")
    left.set_xlim(0, top)
    left.set_ylim(0, top)
    left.set_xlabel("LiRA online TPR at 1% FPR (measured)")
    left.set_ylabel("loss-tail estimate (no references)")
    mae = (zr["tail_error"].abs()).groupby(zr["seed"]).mean()
    left.set_title(f"Loss tail: mean |error| {mae.mean():.3f} ({seeds_text(zr)})", fontsize=8)
    left.legend(fontsize=6, loc="upper left")
    fig.colorbar(scatter, ax=left, label="weights remaining (%)", pad=0.02, shrink=0.9)
    iqr = zr.dropna(subset=["lt_iqr_precision"]) if "lt_iqr_precision" in zr else zr.iloc[:0]
    if len(iqr):
        summary = per_level(iqr, "lt_iqr_precision")
        x = remaining_percent(summary["sparsity"])
        band(right, x, summary, CHAIN_STYLE["chain_mr"] | {"label": "LT-IQR over levels 0..L"}, None,
             "LT-IQR over levels 0..L")
        chance = per_level(iqr, "lt_iqr_chance")
        right.plot(x, chance["mean"], label="chance (k / members)", **CHANCE_STYLE)
        sparsity_axis(right, x)
        right.set_ylim(0, 1)
        right.legend(fontsize=6, loc="best")
    right.set_ylabel("precision at k vs LiRA's top members")
    right.set_title("Loss trace over IMP levels", fontsize=8)
    return fig
