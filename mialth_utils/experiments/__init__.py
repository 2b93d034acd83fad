"""One module per experiment, each the one home of what it builds, writes and claims (``base.Experiment``):

=====================  =====================  ==========================================
module                 notebook               experiment (claims)
=====================  =====================  ==========================================
``intro``              00_quickstart          a first look: LiRA across a few IMP levels
``data_splits``        01_data_and_splits     pool, never-trained population, keep-matrix
``dense``              02_train_dense         E0: dense target and references
``tickets``            03_lth_attack          E1-E3 (C1, C2, C4)
``classes``            04_class_count         E4 (C3)
``transferability``    05_transfer            E5 (C5)
``compression``        06_compression_cmmia   E6 (E6, E6Q)
``exposure``           07_sample_trajectories E7: per-example trajectories
``audit``              09_audit_your_model    an external target
``defence_frontier``   10_defences            defences on the privacy-utility frontier
``chain``              11_ticket_chain        E8 (E8): dense model and tickets together; zero-reference estimates
=====================  =====================  ==========================================

``REGISTRY`` lists them in that order. Notebooks call the run functions re-exported here
(``from mialth_utils import experiments as E; E.lth_attack(spec)``): each builds (or loads from the store)
what it needs, records its tables and returns them with its figures. Figures that aggregate runs over
seeds are drawn by the collector (``reporting.report``) from the experiments' ``figures``.
"""
from __future__ import annotations

from . import (
    audit,
    chain,
    classes,
    compression,
    data_splits,
    defence_frontier,
    dense,
    exposure,
    intro,
    tickets,
    transferability,
)
from .chain import ticket_chain  # noqa: F401
from .audit import audit_sizes, audit_your_model, train_demo_target  # noqa: F401 (the notebooks' API)
from .base import Experiment, FigureSet, PlannedSet, Table, build, model_set  # noqa: F401
from .classes import class_count, sizes_for_subset  # noqa: F401
from .compression import E6_BASELINE_ATTACKS, attack_compressed, compression_cmmia  # noqa: F401
from .data_splits import data_and_splits  # noqa: F401
from .defence_frontier import defence_sizes, defences  # noqa: F401
from .dense import dense_models  # noqa: F401
from .exposure import trajectories  # noqa: F401
from .intro import quickstart  # noqa: F401
from .tickets import lth_attack  # noqa: F401
from .transferability import transfer  # noqa: F401

REGISTRY: tuple[Experiment, ...] = tuple(module.EXPERIMENT for module in (
    intro, data_splits, dense, tickets, classes, transferability, compression, exposure, audit, defence_frontier, chain))
BY_NOTEBOOK = {experiment.notebook: experiment for experiment in REGISTRY}


def for_notebook(notebook: str) -> Experiment | None:
    """The experiment a notebook runs (by its stem, e.g. ``03_lth_attack``; a path or ``.ipynb`` name works)."""
    stem = str(notebook).replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".ipynb")
    return BY_NOTEBOOK.get(stem)
