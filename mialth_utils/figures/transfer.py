"""Transfer cost of an attack fitted at one level and applied at another (C5)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import TwoSlopeNorm

from .axes import check_one_setting, seeds_text
from .style import attack_style, metric_label, styled


def transfer_cost(transfer: pd.DataFrame, metric: str = "auc") -> pd.DataFrame:
    """Per row: cost = metric(fit level a -> target level b) - metric(fit level b -> target level b).

    The baseline is the attack fitted on the *target's own architecture* at the target's level
    (rows with fit_arch == target_arch == this target_arch, fit_level == target_level, same
    attack and seed) when the table has it; otherwise the same panel's diagonal. Column
    ``baseline`` says which was used."""
    rows = transfer.dropna(subset=[metric]).copy()
    seed = ["seed"] if "seed" in rows else []
    diagonal = rows[rows["fit_level"] == rows["target_level"]]
    own = diagonal[diagonal["fit_arch"] == diagonal["target_arch"]]
    own = own[["attack", "target_arch", "target_level"] + seed + [metric]].rename(columns={metric: "own"})
    panel = diagonal[["attack", "fit_arch", "target_arch", "target_level"] + seed + [metric]]
    rows = rows.merge(own, on=["attack", "target_arch", "target_level"] + seed, how="left")
    rows = rows.merge(panel.rename(columns={metric: "panel"}), how="left",
                      on=["attack", "fit_arch", "target_arch", "target_level"] + seed)
    rows["baseline"] = np.where(rows["own"].notna(), "own", "panel")
    rows["cost"] = rows[metric] - rows["own"].fillna(rows["panel"])
    return rows.drop(columns=["own", "panel"])


@styled
def transfer_cost_heatmap(transfer: pd.DataFrame, attack=None, metric: str = "auc"):
    """E5 / C5: one figure, one panel per (attack, fit model -> target model), cells = transfer cost
    (row: level the attack was fitted at, column: target level), mean over seeds, on ONE diverging
    colour scale centred at 0 with a labelled colour bar (red: the transferred attack is weaker)."""
    attacks = [attack] if isinstance(attack, str) else attack
    rows = transfer if attacks is None else transfer[transfer["attack"].isin(attacks)]
    rows = transfer_cost(rows, metric).dropna(subset=["cost"]) if len(rows) else rows
    if rows.empty:
        raise ValueError(f"no transfer rows with a {metric} and a same-level baseline for attack(s) {attack}")
    check_one_setting(rows, ["attack", "fit_arch", "target_arch"])
    groups = list(rows.groupby(["attack", "fit_arch", "target_arch"], sort=False))
    limit = max(float(rows.groupby(["attack", "fit_arch", "target_arch", "fit_level", "target_level"])["cost"]
                      .mean().abs().max()), 1e-3)
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-limit, vmax=limit)
    n_columns = min(len(groups), 2)
    n_rows = int(np.ceil(len(groups) / n_columns))
    fig, axes = plt.subplots(n_rows, n_columns, squeeze=False, figsize=(3.9 * n_columns + 1.2, 3.7 * n_rows),
                             layout="constrained")
    for ax, ((name, fit_arch, target_arch), group) in zip(axes.flat, groups):
        table = group.pivot_table(index="fit_level", columns="target_level", values="cost", aggfunc="mean")
        sns.heatmap(table, ax=ax, cmap="RdBu", norm=norm, square=True, cbar=False, annot=True, fmt="+.2f",
                    annot_kws={"fontsize": 6})  # annotation colour follows each cell's luminance
        image = ax.collections[0]
        ax.set(xlabel="target level b", ylabel="fitted at level a")
        ax.grid(False)
        baseline = "own fit at b" if (group["baseline"] == "own").all() else "same-panel diagonal"
        ax.set_title(f"{attack_style(name)['label']}: {fit_arch} -> {target_arch}\n(baseline: {baseline})",
                     fontsize=8)
    for ax in list(axes.flat)[len(groups):]:
        ax.set_visible(False)
    fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.85,
                 label=f"transfer cost: {metric_label(metric)}(a -> b) - {metric_label(metric)}(b -> b)")
    fig.suptitle(f"Attack transfer across levels (C5), mean over {seeds_text(rows)}; red = weaker after transfer",
                 fontsize=9)
    return fig
