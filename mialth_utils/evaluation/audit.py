"""Run attacks on a model set and tabulate: the glue between saved logits and metrics.

Signals and query views are computed inside each attack from one AttackData per level, built once
and shared by every attack of that level.
"""
from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd

from ..attacks.base import Attack, reference_threshold
from ..attacks.registry import default_attacks
from ..data.membership import balanced_eval_indices
from ..log import progress
from ..signals import AttackData, attack_data
from .bootstrap import top_tie_block
from .metrics import evaluate

log = logging.getLogger(__name__)
DEFENCE_KEYS = ("dp_epsilon_target", "dp_epsilon_run", "dp_epsilon_spent", "dp_delta", "dp_noise_multiplier",
                "early_stop_epoch")  # a defended model's own numbers, carried into every attack row


def run_attacks(data: AttackData, member_mask: np.ndarray, attacks: list[Attack] | None = None, *,
                candidates: np.ndarray | None = None, n_boot: int = 200, seed: int = 0,
                fixed_threshold: bool = False, fit_data: AttackData | None = None,
                ) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Fit every attack on ``fit_data`` (default ``data``: the references), score the target, evaluate.

    Returns one row per attack (metrics, the largest block of tied scores among the top 1% of the
    evaluated scores, seconds) and the per-example scores by attack name. An attack that cannot run
    (e.g. too few reference models) is reported in the row's ``error``. ``fixed_threshold`` adds
    ``balanced_acc_fixed`` at a threshold chosen on a reference model, never on the target's labels.
    """
    attacks = default_attacks(seed=seed) if attacks is None else attacks
    fit_data = data if fit_data is None else fit_data
    eval_idx = balanced_eval_indices(member_mask, candidates, seed)
    rows, scores = [], {}
    for attack in progress(attacks, desc="attacks", leave=False):
        start = time.perf_counter()
        try:
            s = attack.fit(fit_data).score(data)
            thr = reference_threshold(attack, fit_data) if fixed_threshold else None
        except ValueError as err:
            rows.append({"attack": attack.name, "error": str(err)})
            continue
        row = {"attack": attack.name, "n_refs": fit_data.n_refs, "n_queries": len(data.aug_idx),
               **evaluate(s, member_mask, candidates=candidates, n_boot=n_boot, seed=seed, threshold=thr),
               "top_tie_block": top_tie_block(s[eval_idx]),
               "score_kind": "discrete" if attack.discrete else "continuous",
               "seconds": time.perf_counter() - start}
        rows.append(row)
        scores[attack.name] = s
    return pd.DataFrame(rows), scores


def audit_model_set(models, levels=None, attacks_factory=default_attacks, *, target: int = 0, branch: str = "imp",
                    n_boot: int = 200, seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """Every attack at every level of a ModelSet: a tidy table with the target's accuracy, gap and
    sparsity per row, and the scores by level and attack."""
    levels = range(models.spec.n_levels + 1) if levels is None else levels
    member = models.membership.member_mask(target)
    frames, all_scores = [], {}
    for level in progress(list(levels), desc="levels"):
        data = attack_data(models.at(level, branch), target)
        df, scores = run_attacks(data, member, attacks_factory(), candidates=models.membership.target_pool,
                                 n_boot=n_boot, seed=seed)
        info = models.metrics(target, level, branch)
        for key in ("level", "branch", "sparsity", "train_acc", "test_acc", "gap") + DEFENCE_KEYS:
            if key in info:
                df[key] = info[key]
        frames.append(df)
        all_scores[level] = scores
        if "auc" in df:
            best = df.sort_values("auc", ascending=False).iloc[0]
            log.info("level %d: sparsity %.3f test_acc %.4f gap %.4f; best AUC %s %.3f", level, info["sparsity"],
                     info["test_acc"], info["gap"], best["attack"], best["auc"])
    return pd.concat(frames, ignore_index=True), all_scores
