"""Know the cost before paying it: the training work a study or sweep will do, minus what the store
already holds, and an estimate of its time from a few timed training steps on this machine.

    python -m mialth_utils.sweep study --profile paper --plan   # what the paper profile would cost here

``sweep.run_study`` logs the plan before it starts.
"""
from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import replace
from typing import NamedTuple

import numpy as np
import pandas as pd

from .config import StudySpec, study_spec
from .data.files import DataNotFoundError
from .experiments import sizes_for_subset
from .store import spec_hash
from .modelsets import CompressedModelSet, ModelSet, ModelSetSpec
from .sparsity.compress import Compression

log = logging.getLogger("mialth_utils.plan")  # also when run as __main__
SHAPES = {"fashion-mnist": ((1, 28, 28), 10), "mnist": ((1, 28, 28), 10), "cifar10": ((3, 32, 32), 10),
          "cifar100": ((3, 32, 32), 100), "digits": ((1, 8, 8), 10), "fake": ((1, 12, 12), 10)}


def planned_sets(notebook: str, spec: StudySpec) -> list[tuple[ModelSetSpec, Compression | None]]:
    """The model sets (and compressions) a notebook run builds, as in ``experiments``."""
    m = spec.models
    if notebook.startswith("00_"):
        return [(replace(m, n_levels=min(3, m.n_levels), controls=()), None)]
    if notebook.startswith("02_"):
        return [(replace(m, n_levels=0, controls=()), None)]
    if notebook.startswith(("03_", "07_")):
        return [(replace(m, controls=m.controls or ("random_mask", "random_reinit")) if notebook.startswith("03_")
                 else m, None)]
    if notebook.startswith("04_"):
        n_total = SHAPES.get(m.dataset, (None, max(spec.class_counts)))[1]
        return [(replace(m, n_classes=None if k >= n_total else k, class_subset=s, n_levels=0, controls=(),
                         **_subset_sizes(spec, None if k >= n_total else k, s)), None)
                for k in spec.class_counts for s in range(spec.n_subsets if k < n_total else 1)]
    if notebook.startswith("05_"):
        other = [(replace(m, model=spec.transfer_model, controls=()), None)] if spec.transfer_model else []
        return [(m, None)] + other
    if notebook.startswith("06_"):
        level = max((int(a) for k, a in spec.compressions if k == "imp"), default=0)
        base = replace(m, controls=(), n_levels=level)
        return [(base, None)] + [(base, Compression(k, a)) for k, a in spec.compressions if k != "imp"]
    return []


class _Unstored(NamedTuple):
    """Stands for a store artefact where the data set is absent here (nothing can be stored either)."""

    hash: str
    done: bool = False


def _subset_sizes(spec: StudySpec, n_classes: int | None, subset: int) -> dict:
    try:
        return sizes_for_subset(spec, n_classes, subset)
    except DataNotFoundError:
        return {}


def _artifacts(set_spec: ModelSetSpec, compression: Compression | None, cache_dir):
    """(store artefact, example-epochs to build it) of every model-level a model set trains."""
    n_members = set_spec.n_pool // 2
    epochs = set_spec.train.epochs
    if compression is not None:
        epochs = {"prune": compression.finetune_epochs, "structured": compression.finetune_epochs,
                  "distill": set_spec.train.epochs}.get(compression.method, 0)
    try:
        models = ModelSet(set_spec, "cpu", cache_dir)
    except DataNotFoundError:
        base = {k: v for k, v in set_spec.to_dict().items() if k not in ("controls", "control_models", "n_levels")}
        extra = dataclasses.asdict(compression) if compression else None
        chain = (lambda m: [(0, "compressed")]) if compression is not None else set_spec.chain
        return [(_Unstored(spec_hash({**base, "m": m, "level": lvl, "branch": b, "compression": extra})),
                 epochs * n_members) for m in range(set_spec.n_models) for lvl, b in chain(m)]
    if compression is not None:
        compressed = CompressedModelSet(models, compression)
        return [(compressed.artifact(m), epochs * n_members) for m in range(set_spec.n_models)]
    return [(models.artifact(m, level, branch), epochs * n_members)
            for m in range(set_spec.n_models) for level, branch in models.chain(m)]


def seconds_per_example(set_spec: ModelSetSpec, device: str = "cpu", n_batches: int | None = None) -> tuple[float, float]:
    """(seconds per example-epoch of the kit's own training loop, seconds per example of prediction),
    timed on random uint8 images of the data set's shape, single-threaded as a unit runs; the fastest
    of three trials, since other processes on the machine only ever slow one down."""
    import torch

    from .data.registry import TensorData
    from .executor import unit_threads
    from .models import build_model
    from .training.loop import train
    from .training.predict import predict_logits

    shape, n_classes = SHAPES.get(set_spec.dataset, ((1, 28, 28), 10))
    net = build_model(set_spec.model, shape, n_classes).to(device)
    n_batches = n_batches or (16 if sum(p.numel() for p in net.parameters()) < 1_000_000 else 2)  # small nets: more
    n = n_batches * set_spec.train.batch_size
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n, *shape), dtype=torch.uint8, generator=gen)
    y = torch.randint(0, n_classes, (n,), generator=gen)
    data = TensorData("timing", x, y, x[:16], y[:16],
                      tuple(map(str, range(n_classes))), (0.5,) * shape[0], (0.25,) * shape[0]).to(device)
    spec = replace(set_spec.train, epochs=1)
    before = torch.get_num_threads()
    torch.set_num_threads(unit_threads())
    train_s, predict_s = [], []
    try:
        for trial in range(4):  # the first is a warm-up; a slow model (seconds a trial) gets one timed trial
            start = time.perf_counter()
            train(net, data, torch.arange(n), spec, seed=trial, bar=False)
            middle = time.perf_counter()
            predict_logits(net, data, data.train_x)
            if trial:
                train_s.append(middle - start)
                predict_s.append(time.perf_counter() - middle)
            if time.perf_counter() - start > 2.0 and train_s:
                break
    finally:
        torch.set_num_threads(before)
    return min(train_s) / n, min(predict_s) / n


def plan(runs: list[tuple[str, dict]], workers: int = 1, device: str = "cpu",
         results_dir: str | None = None) -> pd.DataFrame:
    """One row per notebook run: model-levels it will train (each counted once, in the first run
    that needs it), already stored, example-epochs, and estimated minutes of training and prediction
    on ``workers`` single-threaded processes (attacks, metrics and figures are not included)."""
    rates: dict[tuple, tuple[float, float]] = {}
    seen: set[str] = set()
    rows = []
    for notebook, params in runs:
        spec = study_spec(**{"results_dir": results_dir or "", **params})
        row = {"notebook": str(notebook), "seed": spec.seed, "to_train": 0, "stored": 0, "example_epochs": 0,
               "est_minutes": 0.0}
        for set_spec, compression in planned_sets(str(notebook), spec):
            student = compression.student if compression is not None else None
            key = (student or set_spec.model, set_spec.dataset, set_spec.train.batch_size)
            for art, example_epochs in _artifacts(set_spec, compression, spec.cache_dir):
                if art.hash in seen:
                    continue
                seen.add(art.hash)
                if art.done:
                    row["stored"] += 1
                    continue
                if key not in rates:
                    rates[key] = seconds_per_example(replace(set_spec, model=key[0]), device)
                train_s, predict_s = rates[key]
                row["to_train"] += 1
                row["example_epochs"] += example_epochs
                predictions = len(set_spec.view_names) * (set_spec.n_pool + set_spec.n_population)
                row["est_minutes"] += (example_epochs * train_s + predictions * predict_s) / 60
        rows.append(row)
    table = pd.DataFrame(rows, columns=["notebook", "seed", "to_train", "stored", "example_epochs", "est_minutes"])
    log.info("plan: %d model-levels to train (%d already stored), about %.1f min of training on %d worker(s)"
             "\n%s", table["to_train"].sum(), table["stored"].sum(), table["est_minutes"].sum() / max(workers, 1),
             workers, table.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    return table
