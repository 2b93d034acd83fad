"""00_quickstart: a target, a few references, a few IMP levels, LiRA, the ROC (records no tables)."""
from __future__ import annotations

from dataclasses import replace

from ..attacks.registry import get_attack
from ..config import StudySpec
from ..evaluation.audit import audit_model_set
from ..evaluation.metrics import roc_points
from ..reporting import plots
from .base import Experiment, PlannedSet, build, eval_idx, legend

N_LEVELS = 3


def model_sets(spec: StudySpec, n_levels: int = N_LEVELS) -> list[PlannedSet]:
    return [PlannedSet(replace(spec.models, n_levels=min(n_levels, spec.models.n_levels), controls=()))]


def quickstart(spec: StudySpec, n_levels: int = N_LEVELS) -> dict:
    """00_quickstart: a target, a few references, a few IMP levels, LiRA, the ROC."""
    models = build(spec, model_sets(spec, n_levels)[0])
    rows, scores = audit_model_set(models, attacks_factory=lambda: [get_attack("lira_online")], n_boot=0,
                                   seed=spec.seed)
    member = models.membership.member_mask(0)
    curves = {f"level {lvl}": {**roc_points(s["lira_online"], member, spec.seed), **legend(rows, lvl, "lira_online")}
              for lvl, s in scores.items()}
    table = rows[["level", "sparsity", "train_acc", "test_acc", "gap", "auc", "tpr@1%fpr"]]
    fig = plots.roc_loglog(curves, len(eval_idx(models, spec.seed)) // 2, "LiRA online",
                           sparsities={f"level {lvl}": sp for lvl, sp in zip(rows["level"], rows["sparsity"])})
    return {"model_set": models, "table": table, "figure": fig}


EXPERIMENT = Experiment("quickstart", "00_quickstart", model_sets=model_sets)
