"""C5: the attacks transfer across models with high accuracy (transfer cost against the target's own fit)."""
from __future__ import annotations

import pandas as pd

from ..stats import noninferiority_verdict, seed_interval
from .common import CI_TEXT, Claim, group_settings, join_notes, seed_note, setting_label, verdict_frame, verdict_row

# C5: a transferred attack may lose at most as much AUC as C2 accepts as "equally vulnerable".
C5_TRANSFER_MARGIN = 0.02


RULE_C5 = (f"mean over level pairs a != b of the transfer cost auc(fit a, target b) - auc(fit b, target b) per seed, "
           f"{CI_TEXT} (t, across seeds): supported if ci_low >= -{C5_TRANSFER_MARGIN}, contradicted if ci_high < "
           f"-{C5_TRANSFER_MARGIN}, else inconclusive")


def _transfer_costs(rows: pd.DataFrame) -> pd.DataFrame:
    """Off-diagonal transfer costs auc(a -> b) - auc(b -> b) per seed (columns seed, fit_level, target_level, cost)."""
    diagonal = rows[rows["fit_level"] == rows["target_level"]].groupby(["seed", "target_level"])["auc"].mean()
    off = rows[rows["fit_level"] != rows["target_level"]]
    reference = diagonal.reindex(pd.MultiIndex.from_arrays([off["seed"], off["target_level"]])).to_numpy()
    return off[["seed", "fit_level", "target_level"]].assign(cost=off["auc"].to_numpy() - reference).dropna()


def verdict_c5(transfer: pd.DataFrame) -> pd.DataFrame:
    """C5: mean transfer cost over level pairs, per (setting, attack, fit_arch, target_arch)."""
    rows = []
    for key, group in group_settings(transfer, extra=("attack", "fit_arch", "target_arch")):
        attack, fit_arch, target_arch = (key.pop(c) for c in ("attack", "fit_arch", "target_arch"))
        costs = _transfer_costs(group)
        if costs.empty:
            continue
        per_seed = costs.groupby("seed")["cost"].mean()
        estimate, low, high = seed_interval(per_seed)
        worst = costs.groupby(["fit_level", "target_level"])["cost"].mean().idxmin()
        worst_cost = costs.groupby(["fit_level", "target_level"])["cost"].mean().min()
        detail = join_notes(f"worst pair: fit level {worst[0]} -> target level {worst[1]}, mean cost {worst_cost:+.4f}",
                       seed_note(len(per_seed)))
        rows.append(verdict_row("C5", setting_label(key, attack, f"{fit_arch} -> {target_arch}"), RULE_C5,
                         "mean_transfer_cost_auc", estimate, low, high, len(per_seed),
                         noninferiority_verdict(low, high, C5_TRANSFER_MARGIN), C5_TRANSFER_MARGIN, detail))
    return verdict_frame(rows)


def _judge(tables: dict, score_runs, attacks, n_boot: int):
    return verdict_c5(tables["transfer"]) if "transfer" in tables else None


CLAIM = Claim("C5", "attacks transfer across models with high accuracy",
              "The attacks transfer across models with high accuracy.", _judge)
