"""Cross-level analyses on saved logits: transfer matrices (C5) and per-example trajectories (E7)."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from .attacks import get_attack
from .metrics import evaluate
from .signals import attack_data


def transfer_matrix(population, attack_name: str, levels=None, target_population=None, n_boot: int = 0,
                    seed: int = 0) -> pd.DataFrame:
    """Attack fitted on the references at level a, applied to the target at level b (claim C5).

    ``target_population``: take the target from another population (another architecture or
    training recipe over the same pool and keep-matrix) to transfer across models.
    """
    target_pop = target_population or population
    if target_population is not None and not np.array_equal(population.pool_idx, target_pop.pool_idx):
        raise ValueError("transfer across populations needs the same data set, pool and seed")
    levels = list(range(population.spec.n_levels + 1)) if levels is None else list(levels)
    member = target_pop.membership.member_mask(0)
    rows = []
    for a in levels:
        fitted = get_attack(attack_name).fit(attack_data(population, a))
        for b in levels:
            scores = fitted.score(attack_data(target_pop, b))
            out = evaluate(scores, member, n_boot=n_boot, seed=seed)
            rows.append({"attack": attack_name, "fit_level": a, "target_level": b,
                         "fit_model": population.spec.model, "target_model": target_pop.spec.model,
                         "auc": out["auc"], "tpr@1%fpr": out["tpr@1%fpr"], "tpr@0.1%fpr": out["tpr@0.1%fpr"]})
    return pd.DataFrame(rows)


def level_scores(population, attack_name: str = "lira_online", levels=None) -> pd.DataFrame:
    """Per-example scores of one attack at every level (long form: example, level, score, member, class)."""
    levels = list(range(population.spec.n_levels + 1)) if levels is None else list(levels)
    member = population.membership.member_mask(0)
    frames = []
    for level in levels:
        data = attack_data(population, level)
        scores = get_attack(attack_name).fit(data).score(data)
        frames.append(pd.DataFrame({"example": np.arange(len(scores)), "pool_index": population.pool_idx,
                                    "level": level, "score": scores, "member": member,
                                    "label": population.labels}))
    return pd.concat(frames, ignore_index=True)


def trajectory_summary(scores: pd.DataFrame, top_frac: float = 0.05) -> tuple[pd.DataFrame, pd.DataFrame]:
    """From ``level_scores``: (1) per pair of consecutive levels, Spearman rank correlation and the
    members newly exposed / newly protected (entering / leaving the top ``top_frac`` of scores);
    (2) per class and level, the share of its members in the exposed top set."""
    if not 0 < top_frac < 1:
        raise ValueError(f"top_frac must be in (0, 1), got {top_frac!r}")
    wide = scores.pivot(index="example", columns="level", values="score")
    member = scores.groupby("example")["member"].first()
    label = scores.groupby("example")["label"].first()
    cutoff = wide.quantile(1 - top_frac)
    exposed = wide.ge(cutoff, axis=1) & member.values[:, None]
    levels = list(wide.columns)
    rows = []
    for a, b in zip(levels[:-1], levels[1:]):
        rows.append({"from_level": a, "to_level": b, "spearman": spearmanr(wide[a], wide[b]).statistic,
                     "newly_exposed": int((~exposed[a] & exposed[b]).sum()),
                     "newly_protected": int((exposed[a] & ~exposed[b]).sum()),
                     "exposed_both": int((exposed[a] & exposed[b]).sum())})
    per_class = exposed[member.values].groupby(label[member.values]).mean().reset_index().melt(
        id_vars="label", var_name="level", value_name="exposed_frac")
    return pd.DataFrame(rows), per_class
