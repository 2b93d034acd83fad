"""Cross-level analyses on saved logits: transfer matrices (C5) and per-example trajectories (E7)."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from ..attacks.base import reference_threshold
from ..attacks.registry import get_attack
from ..signals import attack_data
from .metrics import evaluate


def transfer_matrix(models, attack_name: str, levels=None, target_models=None, n_boot: int = 0,
                    seed: int = 0) -> pd.DataFrame:
    """Attack fitted on the references at level a, applied to the target at level b (claim C5).

    ``target_models``: take the target from another model set (another architecture or training
    recipe over the same pool and keep-matrix) to transfer across models. ``balanced_acc_transferred`` is the
    target's balanced accuracy at the threshold fixed on the fit references (one of them playing the
    target, ``attacks.base.reference_threshold``): the transferred decision rule, never the target's
    labels. ``balanced_acc_native`` is the same at level b with the attack and threshold fitted on the
    target's own references (for one model set: the a = b row of the same table).
    """
    target_set = target_models or models
    if target_models is not None and not np.array_equal(models.pool_idx, target_set.pool_idx):
        raise ValueError("transfer across model sets needs the same data set, pool and seed")
    levels = list(range(models.spec.n_levels + 1)) if levels is None else list(levels)
    member = target_set.membership.member_mask(0)
    fits = {a: _fit_with_threshold(models, attack_name, a, seed) for a in levels}
    natives = fits if target_models is None else {b: _fit_with_threshold(target_set, attack_name, b, seed)
                                                   for b in levels}
    rows = []
    for b in levels:
        target = attack_data(target_set.at(b))
        own, own_threshold = natives[b]
        native = evaluate(own.score(target), member, n_boot=0, seed=seed, threshold=own_threshold)
        for a in levels:
            fitted, threshold = fits[a]
            out = evaluate(fitted.score(target), member, n_boot=n_boot, seed=seed, threshold=threshold)
            rows.append({"attack": attack_name, "fit_level": a, "target_level": b,
                         "fit_arch": models.spec.model, "target_arch": target_set.spec.model,
                         "auc": out["auc"], "tpr@1%fpr": out["tpr@1%fpr"], "tpr@0.1%fpr": out["tpr@0.1%fpr"],
                         "balanced_acc_transferred": out["balanced_acc_fixed"],
                         "balanced_acc_native": native["balanced_acc_fixed"]})
    return pd.DataFrame(rows)


def _fit_with_threshold(models, attack_name: str, level: int, seed: int):
    """The attack fitted on the references of ``level`` and its threshold fixed on them."""
    data = attack_data(models.at(level))
    fitted = get_attack(attack_name, seed).fit(data)
    return fitted, reference_threshold(fitted, data)


def level_scores(models, attack_name: str = "lira_online", levels=None, seed: int = 0) -> pd.DataFrame:
    """Per-example scores of one attack at every level (long form: example, level, score, member, class)."""
    levels = list(range(models.spec.n_levels + 1)) if levels is None else list(levels)
    member = models.membership.member_mask(0)
    frames = []
    for level in levels:
        data = attack_data(models.at(level))
        scores = get_attack(attack_name, seed).fit(data).score(data)
        frames.append(pd.DataFrame({"example": np.arange(len(scores)), "pool_index": models.pool_idx,
                                    "level": level, "score": scores, "member": member,
                                    "label": models.labels}))
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
