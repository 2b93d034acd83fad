"""What an experiment declares, once: the model sets it builds (a function of the study spec, used by the
run itself and by ``plan``), the tables it writes with their column documentation (read by
``reporting.dictionary``), its claims (``claims.<id>.CLAIM``) and the aggregated figures the collector
draws from its tables. ``experiments.REGISTRY`` lists every experiment; sweep, plan, collector, data
dictionary and tests iterate it instead of matching notebook or table names.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from ..claims.common import Claim
from ..config import StudySpec, study_spec
from ..modelsets import ModelSet, ModelSetSpec
from ..runtime import resolve_device, seed_everything
from ..sparsity.compress import Compression


class PlannedSet(NamedTuple):
    """One model set an experiment builds: its spec, the compression applied to it (None: the set itself),
    labels the run records with it (e.g. ``n_classes``), and, for a set that is not a plain ``ModelSet``
    (an audit's references around an external target), ``game(device, cache_dir)`` making it and the rows
    of it that are trained here."""

    models: ModelSetSpec
    compression: Compression | None = None
    labels: dict | None = None
    game: Callable[[str, Any], ModelSet] | None = None
    trained_rows: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Table:
    """A table an experiment writes (``<experiment>/<run>/<name>.csv``, collected into ``tables/<name>.csv``):
    ``columns`` documents the columns this experiment introduces (shared ones are in
    ``reporting.dictionary``); ``of_models`` marks a table whose rows are models, where an attack
    metric's column name would carry a second meaning."""

    name: str
    columns: dict[str, str] = field(default_factory=dict)
    of_models: bool = False


@dataclass(frozen=True)
class FigureSet:
    """Aggregated figures the collector draws per setting of ``table``: for each (name prefix, draw), it
    saves ``draw(rows of one setting, all tables)`` as ``<prefix>_<setting>`` under the report section
    ``section`` (a claim id, or another section of the report such as ``frontier``)."""

    section: str
    table: str
    jobs: tuple[tuple[str, Callable[[pd.DataFrame, dict], Any]], ...]


@dataclass(frozen=True)
class Experiment:
    """One experiment: ``name`` is its results folder (``experiments/<name>``), ``notebook`` the notebook
    that runs it. ``model_sets(spec)`` the sets it builds; ``spec_for(params)`` the study spec a run with
    these notebook parameters uses; the last three fields order the study's runs (``sweep.study_runs``)."""

    name: str
    notebook: str
    model_sets: Callable[[StudySpec], list[PlannedSet]]
    tables: tuple[Table, ...] = ()
    claims: tuple[Claim, ...] = ()
    figures: tuple[FigureSet, ...] = ()
    spec_for: Callable[[dict], StudySpec] = field(default=lambda params: study_spec(**params))
    replicated: bool = False  # behind claims judged across seeds: the study runs it for every seed
    heavy: bool = False  # trains model sets of its own: the study starts it early
    reuses: str | None = None  # attacks the model sets of that experiment: listed after it (then waits, loads)


def build(spec: StudySpec, planned: PlannedSet, build: bool = True) -> ModelSet:
    """The planned model set, built (or loaded from the store); ``build=False`` only lays it out."""
    seed_everything(spec.seed)
    models = ModelSet(planned.models, resolve_device(spec.device), spec.cache_dir)
    return models.build(spec.workers, spec.scheduler) if build else models


def model_set(spec: StudySpec, build: bool = True, **changes) -> ModelSet:
    """The spec's model set (``changes`` replace ModelSetSpec fields), built or loaded from the store."""
    seed_everything(spec.seed)
    models = ModelSet(dataclasses.replace(spec.models, **changes), resolve_device(spec.device), spec.cache_dir)
    return models.build(spec.workers, spec.scheduler) if build else models


def data_location(spec: StudySpec) -> dict:
    """Where an imagefolder data set is read from and at which size (ignored by the other data sets)."""
    return {"path": spec.models.data_path or None, "image_size": spec.models.image_size}


def eval_idx(models: ModelSet, seed: int) -> np.ndarray:
    """The balanced evaluation set of the target (row 0)."""
    from ..data.membership import balanced_eval_indices

    return balanced_eval_indices(models.membership.member_mask(0), models.membership.target_pool, seed)


def legend(attacks: pd.DataFrame, level: int, name: str) -> dict:
    """An attack's AUC and TPR at 0.1% FPR at ``level`` from its table, for a ROC legend."""
    row = attacks[(attacks["level"] == level) & (attacks["attack"] == name)]
    return {} if row.empty else {"auc": float(row["auc"].iloc[0]), "tpr@0.1%fpr": float(row["tpr@0.1%fpr"].iloc[0])}


def settings(table: pd.DataFrame | None):
    """(readable key, rows) per setting of a table: data set, model and the first 8 hex of its settings hash."""
    if table is None or table.empty:
        return []
    return [(f"{ds}_{str(arch).replace(':', '.')}_{h[:8]}", g)
            for (ds, arch, h), g in table.groupby(["dataset", "model_arch", "settings_hash"])]
