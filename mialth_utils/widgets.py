"""Interactive browsing of cached results. The callbacks are plain functions (tested); the widget
layer only wires ipywidgets controls to them."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from . import plots
from .results import collect


def filter_attacks(df: pd.DataFrame, dataset: str | None = None, attacks=None, levels=None) -> pd.DataFrame:
    """Rows of the collected attack table for one data set, some attacks and a level range (lo, hi)."""
    out = df
    if dataset:
        out = out[out["dataset"] == dataset]
    if attacks:
        out = out[out["attack"].isin(list(attacks))]
    if levels is not None:
        lo, hi = levels
        out = out[(out["level"] >= lo) & (out["level"] <= hi)]
    return out


def render(df: pd.DataFrame, metric: str = "auc", dataset=None, attacks=None, levels=None):
    """The figure the explorer shows: ``metric`` against sparsity for the selection."""
    sel = filter_attacks(df, dataset, attacks, levels)
    if sel.empty:
        raise ValueError("nothing matches this selection: widen the level range or pick other attacks")
    return plots.attack_vs_sparsity(sel, metric, attacks_shown=tuple(sel["attack"].unique()))


def explorer(results_dir: str | Path):
    """An ipywidgets panel: data set, attacks, metric (AUC or a TPR@FPR) and level range."""
    import ipywidgets as W
    import matplotlib.pyplot as plt
    from IPython.display import display

    tables = collect(results_dir)
    if "attacks" not in tables:
        raise FileNotFoundError(f"no attack results under {results_dir}: run 03_lth_attack first")
    df = tables["attacks"].dropna(subset=["auc"])
    metrics = ["auc"] + [c for c in df.columns if c.startswith("tpr@") and not c.endswith(("_low", "_high",
                                                                                                "_resolvable"))]
    w_ds = W.Dropdown(options=sorted(df["dataset"].unique()), description="data set")
    w_at = W.SelectMultiple(options=sorted(df["attack"].unique()), value=("lira_online", "loss"), description="attacks")
    w_me = W.Dropdown(options=metrics, value="auc", description="metric")
    w_lv = W.IntRangeSlider(min=int(df["level"].min()), max=int(df["level"].max()),
                            value=(int(df["level"].min()), int(df["level"].max())), description="levels")
    out = W.Output()

    def update(*_):
        out.clear_output(wait=True)
        with out:
            try:
                fig = render(df, w_me.value, w_ds.value, w_at.value, w_lv.value)
                display(fig)
                plt.close(fig)
            except ValueError as err:
                print(err)

    for w in (w_ds, w_at, w_me, w_lv):
        w.observe(update, "value")
    update()
    return W.VBox([W.HBox([w_ds, w_me, w_lv]), w_at, out])
