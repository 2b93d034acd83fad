"""Run attacks on a model set and tabulate: the glue between saved logits and metrics.

Signals and query views are computed inside each attack from one AttackData per target and level;
the signals several attacks read (``signals.VIEW_SIGNALS``) once per model and level, for every target.
"""
from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd

from ..attacks.base import Attack, reference_threshold
from ..attacks.registry import attack_info, default_attacks
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


# Attacks cheap enough to run with every model of a set as the target once (leave-one-out): the others are
# only trained once per audit (shokri's and SAMIA's attack models), so they play model ``target`` only.
LEAVE_ONE_OUT_COSTS = ("signal only", "reference models")


def leave_one_out_targets(models, target: int = 0) -> list[int]:
    """``target`` first, then every other model of the set: on an exchangeable keep-matrix (membership
    ``balanced``) any model can play the target with the others as its references."""
    if models.membership.mode != "balanced":
        return [target]
    return [target] + [m for m in range(models.membership.n_models) if m != target]


def _cheap(attack: Attack) -> bool:
    info = attack_info(attack.name)
    return info is not None and info.cost in LEAVE_ONE_OUT_COSTS


# keyword-only options: which model is the target, which branch, the per-row bootstrap and leave-one-out
def audit_model_set(models, levels=None, attacks_factory=default_attacks, *, target: int = 0, branch: str = "imp",
                    n_boot: int = 200, seed: int = 0, leave_one_out: bool = False) -> tuple[pd.DataFrame, dict]:
    """Every attack at every level of a ModelSet: a tidy table with the target's accuracy, gap and
    sparsity per row (column ``target_model``), and model ``target``'s scores by level and attack.

    ``leave_one_out``: every model of the set plays the target once for the attacks whose cost allows
    it (``LEAVE_ONE_OUT_COSTS``), the other models being its references; their rows carry no per-row
    bootstrap interval (``n_boot`` applies to model ``target``'s rows)."""
    levels = range(models.spec.n_levels + 1) if levels is None else levels
    targets = leave_one_out_targets(models, target) if leave_one_out else [target]
    frames, all_scores = [], {}
    for level in progress(list(levels), desc="levels"):
        outputs, memo = models.at(level, branch), {}  # each model's signals once, for every target and attack
        for model in targets:
            attacks = attacks_factory() if model == target else [a for a in attacks_factory() if _cheap(a)]
            df, scores = run_attacks(attack_data(outputs, model, memo=memo), models.membership.member_mask(model), attacks,
                                     candidates=models.membership.target_pool,
                                     n_boot=n_boot if model == target else 0, seed=seed)
            info = models.metrics(model, level, branch)
            for key in ("level", "branch", "sparsity", "train_acc", "test_acc", "gap") + DEFENCE_KEYS:
                if key in info:
                    df[key] = info[key]
            df["target_model"] = model
            frames.append(df)
            if model == target:
                all_scores[level] = scores
                _log_level(level, info, df)
    return pd.concat(frames, ignore_index=True), all_scores


def _log_level(level: int, info: dict, df: pd.DataFrame) -> None:
    if "auc" in df:
        best = df.sort_values("auc", ascending=False).iloc[0]
        log.info("level %d: sparsity %.3f test_acc %.4f gap %.4f; best AUC %s %.3f", level, info["sparsity"],
                 info["test_acc"], info["gap"], best["attack"], best["auc"])
