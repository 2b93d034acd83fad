"""E0 (02_train_dense): target and reference models at level 0: utility and generalisation gap."""
from __future__ import annotations

from dataclasses import replace

from ..config import StudySpec
from ..reporting.results import RunRecorder
from .base import Experiment, PlannedSet, Table, build


def model_sets(spec: StudySpec) -> list[PlannedSet]:
    return [PlannedSet(replace(spec.models, n_levels=0, controls=()))]


def dense_models(spec: StudySpec) -> dict:
    """E0 (02_train_dense): target and reference models at level 0: utility and generalisation gap."""
    rec = RunRecorder(spec, EXPERIMENT.name)
    models = build(spec, model_sets(spec)[0])
    table = models.table()
    rec.table("dense_models", table)
    summary = table.groupby("role")[["train_acc", "test_acc", "gap"]].agg(["mean", "std"])
    rec.finish(n_models=len(table), mean_test_acc=float(table["test_acc"].mean()))
    return {"models": table, "summary": summary, "model_set": models}


EXPERIMENT = Experiment("train_dense", "02_train_dense", model_sets=model_sets,
                        tables=(Table("dense_models", of_models=True),))
