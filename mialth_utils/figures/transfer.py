"""Cost of transferring an attack's threshold from one model to another (C5): balanced accuracy at the
transferred threshold minus balanced accuracy at the target's native threshold, per (fit, target) pair."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import TwoSlopeNorm

from .axes import check_one_setting, seeds_text
from .style import attack_style, styled

PANEL = ["attack", "fit_arch", "target_arch"]


def transfer_cost(transfer: pd.DataFrame, margin_relative: float | None = None) -> pd.DataFrame:
    """Per transfer pair and seed (the pairs C5 judges, ``claims.c5.transfer_pairs``): ``cost`` = balanced_acc_transferred
    minus the target's native balanced accuracy, ``margin`` = margin_relative x (native - 0.5) (the plan's
    C5 margin when None), and ``baseline`` naming where the native value came from."""
    from ..analysis_plan import section
    from ..claims.c5 import transfer_pairs

    relative = section("C5")["margin_relative"] if margin_relative is None else margin_relative
    missing = [c for c in ("seed", "attack", "balanced_acc_transferred", "fit_arch", "target_arch", "fit_level", "target_level")
               if c not in transfer.columns]
    if missing:
        raise ValueError(f"the transfer table lacks {', '.join(missing)}: it predates balanced accuracy at the "
                         "transferred threshold (rerun notebooks/05_transfer.ipynb)")
    rows = pd.concat([transfer_pairs(group) for _, group in transfer.groupby("attack", sort=False)],
                     ignore_index=True) if len(transfer) else transfer
    if rows.empty:
        return rows.assign(cost=pd.Series(dtype=float), margin=pd.Series(dtype=float))
    return rows.assign(cost=rows["balanced_acc_transferred"] - rows["native"], margin=relative * (rows["native"] - 0.5),
                       baseline=rows["native_source"])


@styled
def transfer_cost_heatmap(transfer: pd.DataFrame, attack=None):
    """E5 / C5: one panel per (attack, fit architecture -> target architecture); cells: the transfer cost in
    balanced accuracy (row: level the threshold was fixed at, column: target level), mean over seeds; the
    target's own diagonal (the native baseline itself) left blank. ONE diverging scale centred at 0 that
    always covers the margin (the colour bar marks -margin): red cells beyond it fail non-inferiority."""
    attacks = [attack] if isinstance(attack, str) else attack
    rows = transfer if attacks is None else transfer[transfer["attack"].isin(attacks)]
    rows = transfer_cost(rows).dropna(subset=["cost"]) if len(rows) else rows
    if rows.empty:
        raise ValueError(f"no transfer pairs with balanced_acc_transferred and a native baseline for attack(s) {attack}")
    check_one_setting(rows, PANEL)
    groups = list(rows.groupby(PANEL, sort=False))
    margin = float(rows["margin"].mean())
    means = rows.groupby([*PANEL, "fit_level", "target_level"])["cost"].mean()
    limit = max(float(means.abs().max()), 1.25 * margin, 1e-3)
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-limit, vmax=limit)
    n_columns = min(len(groups), 2)
    n_rows = int(np.ceil(len(groups) / n_columns))
    fig, axes = plt.subplots(n_rows, n_columns, squeeze=False, figsize=(3.9 * n_columns + 1.2, 3.7 * n_rows),
                             layout="constrained")
    for ax, ((name, fit_arch, target_arch), group) in zip(axes.flat, groups):
        table = group.pivot_table(index="fit_level", columns="target_level", values="cost", aggfunc="mean")
        sns.heatmap(table, ax=ax, cmap="RdBu", norm=norm, square=True, cbar=False, annot=True, fmt="+.3f",
                    annot_kws={"fontsize": 6})  # annotation colour follows each cell's luminance
        image = ax.collections[0]
        ax.set(xlabel="target level b", ylabel="threshold fixed at level a")
        ax.grid(False)
        ax.set_title(f"{attack_style(name)['label']}: {fit_arch} -> {target_arch}\n(native: "
                     f"{', '.join(sorted(set(group['baseline'])))})", fontsize=8)
    for ax in list(axes.flat)[len(groups):]:
        ax.set_visible(False)
    bar = fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.85,
                       label="transfer cost: balanced acc. (transferred) - (native)")
    bar.ax.axhline(-margin, color="k", linewidth=1.2, linestyle="--")
    bar.ax.text(1.05, -margin, f" -margin\n ({margin:.3f})", transform=bar.ax.get_yaxis_transform(), fontsize=6,
                va="center")
    fig.suptitle(f"Threshold transfer (C5), mean over {seeds_text(rows)}; red = weaker after transfer; C5 needs every "
                 f"pair above -margin (mean {margin:.3f})", fontsize=9)
    return fig
