"""Defences on the privacy-utility frontier: one model set per defence setting, every attack at each level.

A defence is a set of ``TrainSpec`` changes applied to the target *and* every reference model (the
adversary knows the training algorithm), so each setting is its own model set, cached like any other;
the undefended setting ``none`` is the spec's own model set. IMP tickets of a defended model set are
pruned and retrained with the defence at every level (DP-SGD: the ticket's epsilon composes over the
levels, ``dp_epsilon_spent``).
"""
from __future__ import annotations

import dataclasses
import logging

import pandas as pd

from ..attacks.registry import default_attacks
from ..modelsets import ModelSet
from .audit import audit_model_set

log = logging.getLogger(__name__)
# Model-set sizes of the defences notebook per profile (DP-SGD costs ~8-30x plain training on CPU);
# levels audited: dense and the last IMP level.
SIZES = {"smoke": dict(n_models=5, n_levels=1, prune_frac=0.5),
         "quick": dict(n_models=5, n_pool=2000, n_population=500, n_levels=1, prune_frac=0.75, epochs=10),
         "paper": dict(n_models=17, n_levels=4, prune_frac=0.5)}
AUDIT_SIZES = {"smoke": dict(n_models=5), "quick": dict(n_models=5, epochs=10), "paper": {}}  # 09_audit_your_model


def defence_settings(epsilons=(8.0,), ppb_lambda: float = 1.0, label_smoothing: float = 0.1,
                     weight_decay: float = 5e-3, early_stop_patience: int = 2,
                     max_grad_norm: float = 1.0) -> dict[str, dict]:
    """Name -> TrainSpec changes; ``none`` (undefended) first. A value of 0 / None leaves that defence out."""
    out: dict[str, dict] = {"none": {}}
    for eps in epsilons or ():
        out[f"dp_eps{eps:g}"] = {"target_epsilon": float(eps), "max_grad_norm": float(max_grad_norm)}
    for name, field, value in (("ppb", "ppb_lambda", ppb_lambda), ("label_smoothing", "label_smoothing", label_smoothing),
                               ("weight_decay", "weight_decay", weight_decay),
                               ("early_stopping", "early_stop_patience", early_stop_patience)):
        if value:
            out[name] = {field: value}
    return out


def setting_label(changes: dict) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in changes.items()) or "undefended"


def defended_spec(spec, changes: dict):
    """The spec's model set (``ModelSetSpec``) with ``changes`` applied to the training of every model."""
    return dataclasses.replace(spec.models, train=dataclasses.replace(spec.models.train, **changes), controls=())


def defended_model_set(spec, changes: dict, device, cache_dir) -> ModelSet:
    """The spec's model set with ``changes`` applied to the training of every model, built."""
    return ModelSet(defended_spec(spec, changes), device, cache_dir).build(spec.workers, spec.scheduler)


def audit_defences(spec, settings: dict[str, dict], device, levels=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every attack at ``levels`` (default: dense and the last IMP level) of every defence setting:
    the attack rows (with the defended target's accuracy and DP columns) and the model rows."""
    levels = sorted({0, spec.models.n_levels}) if levels is None else list(levels)
    attack_frames, model_frames = [], []
    for name, changes in settings.items():
        models = defended_model_set(spec, changes, device, spec.cache_dir)
        rows, _ = audit_model_set(models, levels=levels, n_boot=spec.n_boot, seed=spec.seed,
                                  attacks_factory=lambda: default_attacks(spec.fast_attacks, spec.seed))
        table = models.table()
        for df in (rows, table):
            df.insert(0, "defence_setting", setting_label(changes))
            df.insert(0, "defence", name)
        attack_frames.append(rows)
        model_frames.append(table)
        log.info("defence %s: audited levels %s", name, levels)
    return pd.concat(attack_frames, ignore_index=True), pd.concat(model_frames, ignore_index=True)
