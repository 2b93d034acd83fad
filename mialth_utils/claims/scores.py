"""Per-example scores of the lth_attack runs, as C2 and C4 read them: runs grouped by setting, the
levels an attack scored, point metrics and paired example bootstraps per level."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from ..evaluation.bootstrap import bootstrap_metrics
from ..evaluation.metrics import tpr_at_fpr
from .common import C2_METRICS, SETTING_COLUMNS


def group_runs(score_runs: list[dict]):
    """Yield (setting key, runs of its seeds) for score runs of one setting each."""
    groups: dict[tuple, list[dict]] = {}
    for run in score_runs:
        groups.setdefault(tuple(run.get(c, "") for c in SETTING_COLUMNS), []).append(run)
    for values, runs in sorted(groups.items(), key=lambda item: str(item[0])):
        yield dict(zip(SETTING_COLUMNS, values)), sorted(runs, key=lambda run: run["seed"])


def run_levels(run: dict, attack: str) -> list[int]:
    return sorted(int(level) for level, name in run["scores"] if name == attack)


def point_metric(scores: np.ndarray, member: np.ndarray, metric: str) -> float:
    """AUC or TPR at 1% FPR (highest TPR among ROC points with FPR <= 1%, no interpolation), via sklearn."""
    if metric == "auc":
        return float(roc_auc_score(member, scores))
    fpr, tpr, _ = roc_curve(member, scores, drop_intermediate=False)
    return tpr_at_fpr(fpr, tpr, 0.01)


def level_metrics(run: dict, attack: str, levels: list[int], n_boot: int) -> dict:
    """Per metric: (point (K,), bootstrap (K, B)) over ``levels`` of one seed, one paired resample of examples."""
    index = np.asarray(run.get("eval_idx", np.arange(len(run["member"]))))
    member = np.asarray(run["member"], bool)[index]
    stack = np.stack([np.asarray(run["scores"][(level, attack)], float)[index] for level in levels])
    boot = bootstrap_metrics(stack, member, n_boot, seed=int(run["seed"]), fprs=(0.01,))
    return {metric: (np.array([point_metric(row, member, metric) for row in stack]), np.asarray(boot[metric]))
            for metric in C2_METRICS}
