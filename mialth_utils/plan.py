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

import pandas as pd

from .config import StudySpec, study_spec
from .data.files import DataNotFoundError
from .experiments import sizes_for_subset
from .store import spec_hash
from .modelsets import ModelSet, ModelSetSpec
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
        def chain(m):
            if compression is not None:
                return [(0, "compressed")]
            branches = ("imp",) + (set_spec.controls if m == 0 or set_spec.control_models == "all" else ())
            return [(lvl, b) for lvl in range(set_spec.n_levels + 1) for b in branches if lvl > 0 or b == "imp"]
        extra = dataclasses.asdict(compression) if compression else None
        return [(_Unstored(spec_hash({**base, "m": m, "level": lvl, "branch": b, "compression": extra})),
                 epochs * n_members) for m in range(set_spec.n_models) for lvl, b in chain(m)]
    if compression is not None:
        from .modelsets import CompressedModelSet

        compressed = CompressedModelSet(models, compression)
        return [(compressed.artifact(m), epochs * n_members) for m in range(set_spec.n_models)]
    return [(models.artifact(m, level, branch), epochs * n_members)
            for m in range(set_spec.n_models) for level, branch in models.chain(m)]


def seconds_per_example_epoch(set_spec: ModelSetSpec, device: str = "cpu", steps: int = 20) -> float:
    """Time ``steps`` training steps of the architecture on random inputs of the data set's shape."""
    import torch

    from .executor import unit_threads
    from .models import build_model
    from .training.loop import autocast, make_optimizer, resolve_precision

    shape, n_classes = SHAPES.get(set_spec.dataset, ((1, 28, 28), 10))
    dev = torch.device(device)
    net = build_model(set_spec.model, shape, n_classes).to(dev)
    opt, _ = make_optimizer(net, set_spec.train, steps)
    x = torch.randn(set_spec.train.batch_size, *shape, device=dev)
    y = torch.randint(0, n_classes, (set_spec.train.batch_size,), device=dev)
    precision, before = resolve_precision(set_spec.train.precision, dev), torch.get_num_threads()
    torch.set_num_threads(unit_threads())
    try:
        for i in range(steps + 3):
            if i == 3:
                start = time.perf_counter()
            with autocast(dev, precision):
                loss = torch.nn.functional.cross_entropy(net(x).float(), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    finally:
        torch.set_num_threads(before)
    return (time.perf_counter() - start) / (steps * set_spec.train.batch_size)


def plan(runs: list[tuple[str, dict]], workers: int = 1, device: str = "cpu",
         results_dir: str | None = None) -> pd.DataFrame:
    """One row per notebook run: model-levels it will train (each counted once, in the first run
    that needs it), already stored, example-epochs, and estimated minutes of training steps on
    ``workers`` single-threaded processes (a lower bound: prediction and attacks not included)."""
    rates: dict[tuple, float] = {}
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
                if example_epochs and key not in rates:
                    rates[key] = seconds_per_example_epoch(replace(set_spec, model=key[0]), device)
                row["to_train"] += 1
                row["example_epochs"] += example_epochs
                row["est_minutes"] += example_epochs * rates.get(key, 0.0) / 60
        rows.append(row)
    table = pd.DataFrame(rows, columns=["notebook", "seed", "to_train", "stored", "example_epochs", "est_minutes"])
    log.info("plan: %d model-levels to train (%d already stored), at least %.1f min of training on %d worker(s)"
             "\n%s", table["to_train"].sum(), table["stored"].sum(), table["est_minutes"].sum() / max(workers, 1),
             workers, table.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    return table
