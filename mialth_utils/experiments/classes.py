"""E4 (04_class_count): the lth pipeline on seeded class subsets of k classes, several per k; claim C3."""
from __future__ import annotations

from dataclasses import replace

import pandas as pd

from ..attacks.registry import default_attacks
from ..claims import c3
from ..config import StudySpec
from ..data.registry import load_dataset
from ..evaluation.audit import audit_model_set
from ..reporting import plots
from ..reporting.results import RunRecorder
from .base import Experiment, FigureSet, PlannedSet, Table, build, data_location

COLUMNS = {
    "n_classes": "number of classes k in the class subset the models were trained on, integer",
    "subset": "integer id of the class subset (several subsets per k)",
    "classes": "the class indices of the subset, comma separated",
    "n_pool": "number of pool examples (members + non-members of the target), integer",
}


def sizes_for_subset(spec: StudySpec, n_classes: int | None, subset: int) -> dict:
    """Pool and population sizes that fit a class subset (scaled down, ratio kept, when it is small)."""
    available = len(load_dataset(spec.dataset, n_classes=n_classes, seed=spec.seed, class_subset=subset,
                                 **data_location(spec)).train_y)
    want = spec.models.n_pool + spec.models.n_population
    if want <= available:
        return {}
    scale = 0.9 * available / want
    return {"n_pool": int(spec.models.n_pool * scale) // 2 * 2, "n_population": int(spec.models.n_population * scale)}


def model_sets(spec: StudySpec, levels=(0,)) -> list[PlannedSet]:
    """One set per (k, subset): k below the data set's class count gets ``n_subsets`` seeded subsets,
    k at or above it the whole data set once (class count read from the data registry)."""
    n_total = load_dataset(spec.dataset, seed=spec.seed, **data_location(spec)).n_classes
    out = []
    for k in spec.class_counts:
        n_cls = None if k >= n_total else k
        for subset in range(spec.n_subsets if n_cls else 1):
            models = replace(spec.models, n_classes=n_cls, class_subset=subset, n_levels=max(levels), controls=(),
                             **sizes_for_subset(spec, n_cls, subset))
            out.append(PlannedSet(models, labels={"n_classes": k, "subset": subset}))
    return out


def class_count(spec: StudySpec, levels=(0,)) -> dict:
    """E4 (04_class_count): the same pipeline on several seeded class subsets per class count k."""
    rec = RunRecorder(spec, EXPERIMENT.name)
    frames = []
    for planned in model_sets(spec, levels):
        models = build(spec, planned)
        df, _ = audit_model_set(models, levels=levels, n_boot=spec.n_boot, seed=spec.seed, leave_one_out=True,
                                attacks_factory=lambda: default_attacks(spec.fast_attacks, spec.seed))
        df["n_classes"], df["subset"], df["n_pool"] = planned.labels["n_classes"], planned.labels["subset"], \
            models.spec.n_pool
        df["classes"] = "|".join(map(str, models.data.classes))
        frames.append(df)
    table = pd.concat(frames, ignore_index=True)
    rec.table("class_count", table)
    rec.finish(class_counts=list(spec.class_counts), n_subsets=spec.n_subsets)
    return {"table": table, "figure": plots.attack_vs_classes(table)}


EXPERIMENT = Experiment("class_count", "04_class_count", model_sets=model_sets,
                        tables=(Table("class_count", COLUMNS),), claims=(c3.CLAIM,), replicated=True,
                        figures=(FigureSet("C3", "class_count",
                                           (("fig_c3_classes", lambda g, t: plots.attack_vs_classes(g)),)),))
