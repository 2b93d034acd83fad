"""Run attacks on a population and tabulate: the glue between saved logits and metrics."""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .attacks import Attack, default_attacks
from .metrics import evaluate
from .signals import AttackData, as_target, attack_data


def reference_threshold(attack: Attack, data: AttackData, ref: int = 0) -> float:
    """A decision threshold fixed without the target: reference model ``ref`` plays the target, the
    attack is fitted on the others, and the balanced-accuracy-best threshold on its scores is kept."""
    from .attacks import _best_threshold

    pseudo, keep = as_target(data, ref)
    scores = type(attack)(**_init_args(attack)).fit(pseudo).score(pseudo)
    return _best_threshold(scores, keep)


def _init_args(attack: Attack) -> dict:
    import inspect

    params = inspect.signature(type(attack).__init__).parameters
    return {k: getattr(attack, k) for k in params if k != "self" and hasattr(attack, k)}


def run_attacks(data: AttackData, member_mask: np.ndarray, attacks: list[Attack] | None = None, *,
                candidates: np.ndarray | None = None, n_boot: int = 200, seed: int = 0,
                fixed_threshold: bool = False, progress: bool = True, fit_data: AttackData | None = None,
                ) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Fit every attack on ``fit_data`` (default ``data``: the references), score the target, evaluate.

    Returns one row per attack (metrics + seconds) and the per-example scores by attack name.
    An attack that fails (e.g. too few reference models) is reported in the row's ``error``.
    """
    attacks = default_attacks() if attacks is None else attacks
    fit_data = data if fit_data is None else fit_data
    rows, scores = [], {}
    for attack in tqdm(attacks, desc="attacks", leave=False, disable=not progress):
        start = time.perf_counter()
        try:
            s = attack.fit(fit_data).score(data)
            thr = reference_threshold(attack, fit_data) if fixed_threshold else None
        except ValueError as err:
            rows.append({"attack": attack.name, "error": str(err)})
            continue
        row = {"attack": attack.name, "n_refs": fit_data.n_refs,
               "n_queries": len(data.aug_idx), **evaluate(s, member_mask, candidates=candidates, n_boot=n_boot,
                                                           seed=seed, threshold=thr)}
        row["seconds"] = time.perf_counter() - start
        rows.append(row)
        scores[attack.name] = s
    return pd.DataFrame(rows), scores


def audit_population(population, levels=None, attacks_factory=default_attacks, *, target: int = 0,
                     branch: str = "imp", n_boot: int = 200, seed: int = 0, progress: bool = True, log=print
                     ) -> tuple[pd.DataFrame, dict]:
    """Every attack at every level: a tidy table with the target's accuracy, gap and sparsity per row."""
    levels = range(population.spec.n_levels + 1) if levels is None else levels
    member = population.membership.member_mask(target)
    cand = population.membership.target_pool
    frames, all_scores = [], {}
    for level in tqdm(list(levels), desc="levels", disable=not progress):
        data = attack_data(population, level, target, branch)
        df, scores = run_attacks(data, member, attacks_factory(), candidates=cand, n_boot=n_boot, seed=seed,
                                 progress=progress)
        info = population.metrics(target, level, branch)
        for key in ("level", "branch", "sparsity", "train_acc", "test_acc", "gap"):
            df[key] = info[key]
        frames.append(df)
        all_scores[level] = scores
        if log and "auc" in df:
            best = df.sort_values("auc", ascending=False).iloc[0]
            log(f"level {level}: sparsity {info['sparsity']:.3f} test_acc {info['test_acc']:.4f} "
                f"gap {info['gap']:.4f}; best AUC {best['attack']} {best['auc']:.3f}")
    return pd.concat(frames, ignore_index=True), all_scores
