"""Interactive browsing of collected results. The callbacks are plain functions (tested); the widget
layer only wires ipywidgets controls to them. The explorer shows one setting at a time (data set,
model, settings hash; its seeds aggregated), never a mix of runs."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from . import plots
from .results import collect


def settings_options(df: pd.DataFrame) -> dict[str, str]:
    """Readable label -> settings hash, one per setting in the attack table."""
    out = {}
    for (ds, arch, h), g in df.groupby(["dataset", "model_arch", "settings_hash"]):
        out[f"{ds} / {arch} / {h[:8]} ({g['seed'].nunique()} seeds)"] = h
    return out


def filter_attacks(df: pd.DataFrame, settings_hash: str | None = None, attacks=None, levels=None) -> pd.DataFrame:
    """Rows of the collected attack table for one setting, some attacks and a level range (lo, hi)."""
    out = df
    if settings_hash:
        out = out[out["settings_hash"] == settings_hash]
    if attacks:
        out = out[out["attack"].isin(list(attacks))]
    if levels is not None:
        lo, hi = levels
        out = out[(out["level"] >= lo) & (out["level"] <= hi)]
    return out


def render(df: pd.DataFrame, metric: str = "auc", settings_hash=None, attacks=None, levels=None,
           view: str = "sparsity", accuracy: pd.DataFrame | None = None):
    """The figure the explorer shows: ``metric`` against sparsity, or the privacy-utility frontier."""
    sel = filter_attacks(df, settings_hash, attacks, levels)
    if sel.empty:
        raise ValueError("nothing matches this selection: widen the level range or pick other attacks")
    if view == "frontier":
        acc = accuracy[accuracy["settings_hash"] == settings_hash] if accuracy is not None else None
        if acc is None or acc.empty:
            raise ValueError("no accuracy table for this setting: run 03_lth_attack")
        return plots.privacy_utility_frontier(plots.frontier_points(acc, sel, None, None, attack=sel["attack"].iloc[0]))
    return plots.attack_vs_sparsity(sel, metric, attacks_shown=tuple(sel["attack"].unique()))


def explorer(results_dir: str | Path):
    """An ipywidgets panel: setting (data set / model / run settings), attacks, metric, level range, view."""
    import ipywidgets as W
    import matplotlib.pyplot as plt
    from IPython.display import display

    tables = collect(results_dir)
    if "attacks" not in tables:
        raise FileNotFoundError(f"no attack results under {results_dir}: run 03_lth_attack first")
    df = tables["attacks"].dropna(subset=["auc"])
    metrics = ["auc"] + [c for c in df.columns if c.startswith("tpr@") and not c.endswith(("_low", "_high",
                                                                                                "_resolvable"))]
    options = settings_options(df)
    w_set = W.Dropdown(options=list(options.items()), description="run")
    w_at = W.SelectMultiple(options=sorted(df["attack"].unique()), value=("lira_online", "loss"), description="attacks")
    w_me = W.Dropdown(options=metrics, value="auc", description="metric")
    w_view = W.ToggleButtons(options=[("vs sparsity", "sparsity"), ("privacy-utility", "frontier")], description="view")
    w_lv = W.IntRangeSlider(min=int(df["level"].min()), max=int(df["level"].max()),
                            value=(int(df["level"].min()), int(df["level"].max())), description="levels")
    out = W.Output()

    def update(*_):
        out.clear_output(wait=True)
        with out:
            try:
                fig = render(df, w_me.value, w_set.value, w_at.value, w_lv.value, w_view.value, tables.get("accuracy"))
                display(fig)
                plt.close(fig)
            except ValueError as err:
                print(err)

    for w in (w_set, w_at, w_me, w_lv, w_view):
        w.observe(update, "value")
    update()
    return W.VBox([W.HBox([w_set, w_me]), W.HBox([w_view, w_lv]), w_at, out])
