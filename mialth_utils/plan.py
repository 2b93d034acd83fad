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

from .config import StudySpec
from .data.files import DataNotFoundError
from .data.registry import load_dataset
from .experiments import REGISTRY, for_notebook
from .experiments.base import PlannedSet
from .modelsets import CompressedModelSet, ModelSet, ModelSetSpec
from .store import spec_hash

log = logging.getLogger("mialth_utils.plan")  # also when run as __main__
# Shape and class count of the data sets whose files are fixed by their published format, for planning
# on a machine that does not hold them (where a data set is here, the registry's own tensors are read).
PUBLISHED = {"fashion-mnist": ((1, 28, 28), 10), "mnist": ((1, 28, 28), 10), "cifar10": ((3, 32, 32), 10),
             "cifar100": ((3, 32, 32), 100)}


def dataset_facts(set_spec: ModelSetSpec) -> tuple[tuple[int, int, int], int]:
    """(input shape, class count) of a model set's data, from the data registry (the loaded tensors);
    for a published data set absent here, its published format. Raises ``DataNotFoundError`` for
    another data set that is absent (an imagefolder's classes are its folders: nothing to read)."""
    try:
        data = load_dataset(set_spec.dataset, n_classes=set_spec.n_classes, seed=set_spec.seed,
                            class_subset=set_spec.class_subset, path=set_spec.data_path or None,
                            image_size=set_spec.image_size)
        return tuple(data.input_shape), data.n_classes
    except DataNotFoundError:
        if set_spec.dataset not in PUBLISHED:
            raise
        shape, n_classes = PUBLISHED[set_spec.dataset]
        return shape, set_spec.n_classes or n_classes


def planned_sets(notebook: str, params: dict) -> list[PlannedSet]:
    """The model sets a notebook run builds, as its experiment declares them (``experiments.REGISTRY``);
    none for a notebook that trains nothing (the explorer, the collector)."""
    experiment = for_notebook(notebook)
    if experiment is None:
        return []
    spec = experiment.spec_for(params)
    try:
        return experiment.model_sets(spec)
    except DataNotFoundError:
        return _published_sets(experiment, spec)


def _published_sets(experiment, spec: StudySpec) -> list[PlannedSet]:
    """The sets of an experiment that reads its data set to lay them out (class counts, subset sizes,
    the demo target's members), planned from the published format where the data set is absent here."""
    if experiment.name != "class_count" or spec.dataset not in PUBLISHED:
        log.warning("plan: %s needs data set %s to know its model sets; it is not here: planned as none",
                    experiment.notebook, spec.dataset)
        return []
    n_total = PUBLISHED[spec.dataset][1]
    m = spec.models
    return [PlannedSet(replace(m, n_classes=None if k >= n_total else k, class_subset=s, n_levels=0, controls=()))
            for k in spec.class_counts for s in range(spec.n_subsets if k < n_total else 1)]


class _Unstored(NamedTuple):
    """Stands for a store artefact where the data set is absent here (nothing can be stored either)."""

    hash: str
    done: bool = False


def _epochs(set_spec: ModelSetSpec, planned: PlannedSet) -> int:
    compression = planned.compression
    if compression is None:
        return set_spec.train.epochs
    return {"prune": compression.finetune_epochs, "structured": compression.finetune_epochs,
            "distill": set_spec.train.epochs}.get(compression.method, 0)


def _artifacts(planned: PlannedSet, cache_dir):
    """(store artefact, example-epochs to build it) of every model-level a planned set trains."""
    set_spec, compression = planned.models, planned.compression
    example_epochs = _epochs(set_spec, planned) * (set_spec.n_pool // 2)
    rows = planned.trained_rows or range(set_spec.n_models)
    try:
        models = planned.game("cpu", cache_dir) if planned.game else ModelSet(set_spec, "cpu", cache_dir)
    except DataNotFoundError:
        base = {k: v for k, v in set_spec.to_dict().items() if k not in ("controls", "control_models", "n_levels")}
        extra = dataclasses.asdict(compression) if compression else None
        chain = (lambda m: [(0, "compressed")]) if compression is not None else set_spec.chain
        return [(_Unstored(spec_hash({**base, "m": m, "level": lvl, "branch": b, "compression": extra})),
                 example_epochs) for m in rows for lvl, b in chain(m)]
    if compression is not None:
        compressed = CompressedModelSet(models, compression)
        return [(compressed.artifact(m), example_epochs) for m in rows]
    return [(models.artifact(m, level, branch), example_epochs) for m in rows for level, branch in models.chain(m)]


def planned_notebooks() -> list[str]:
    """The notebooks whose experiments declare model sets (every experiment of the registry)."""
    return [experiment.notebook for experiment in REGISTRY]


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

    shape, n_classes = dataset_facts(set_spec)
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


def _cache_dir(notebook: str, params: dict):
    return for_notebook(notebook).spec_for(params).cache_dir


def _count(row: dict, planned: PlannedSet, seen: set, rates: dict, device: str, cache_dir) -> None:
    """Add one planned set's model-levels to a plan row (each artefact counted once over the plan)."""
    set_spec, compression = planned.models, planned.compression
    student = compression.student if compression is not None else None
    key = (student or set_spec.model, set_spec.dataset, set_spec.train.batch_size)
    for art, example_epochs in _artifacts(planned, cache_dir):
        if art.hash in seen:
            continue
        seen.add(art.hash)
        if art.done:
            row["stored"] += 1
            continue
        if key not in rates:
            rates[key] = _rates(replace(set_spec, model=key[0]), device)
        train_s, predict_s, flops, limit = rates[key]
        row["to_train"] += 1
        row["example_epochs"] += example_epochs
        predictions = len(set_spec.view_names) * (set_spec.n_pool + set_spec.n_population)
        row["est_minutes"] += (example_epochs * train_s + predictions * predict_s) / 60
        work = (3 * example_epochs + predictions) * flops / 1e9  # GFLOP of its training and prediction
        row["tflop"] += work / 1e3
        row["floor_minutes"] += work / limit / 60


def forward_flops(set_spec: ModelSetSpec) -> float:
    """FLOPs of one example's forward pass through the set's architecture (torch's flop counter: 2 per
    multiply-add of every matmul and convolution); training costs three times that (forward, input and
    weight gradients), prediction once."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from .models import build_model

    shape, n_classes = dataset_facts(set_spec)
    net = build_model(set_spec.model, shape, n_classes).eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        net(torch.zeros(1, *shape))
    return float(counter.get_total_flops())


def core_limit(set_spec: ModelSetSpec, device: str = "cpu") -> float:
    """GFLOP/s of the products of one training step of the set's MLP (``bench.batched.matmul_rate``,
    batch size and precision of its recipe, one unit's threads): what arithmetic alone allows here.
    NaN for an architecture that is not an MLP."""
    import torch

    from .bench.batched import layer_shapes, matmul_rate
    from .executor import unit_threads
    from .models import build_model
    from .training.loop import resolve_precision

    shapes = layer_shapes(build_model(set_spec.model, *dataset_facts(set_spec)))
    if not shapes:
        return float("nan")
    device = torch.device(device)
    dtype = torch.bfloat16 if resolve_precision(set_spec.train.precision, device) == "bf16" else torch.float32
    before = torch.get_num_threads()
    torch.set_num_threads(unit_threads())
    try:
        return matmul_rate(shapes, 1, set_spec.train.batch_size, dtype, device, seconds=0.5)
    finally:
        torch.set_num_threads(before)


def _rates(set_spec: ModelSetSpec, device: str) -> tuple[float, float, float, float]:
    """Timed rates (seconds per example-epoch, per prediction), forward FLOPs per example and the core's
    limit in GFLOP/s; NaN where the data set's shape is not known here (the estimate then says so)."""
    try:
        return (*seconds_per_example(set_spec, device), forward_flops(set_spec), core_limit(set_spec, device))
    except DataNotFoundError as err:
        log.warning("plan: no time estimate for %s (%s)", set_spec.dataset, err)
        return (float("nan"),) * 4


def plan(runs: list[tuple[str, dict]], workers: int = 1, device: str = "cpu",
         results_dir: str | None = None) -> pd.DataFrame:
    """One row per notebook run: model-levels it will train (each counted once, in the first run
    that needs it), already stored, example-epochs, and estimated minutes of training and prediction
    on ``workers`` single-threaded processes (attacks, metrics and figures are not included); the
    arithmetic of that training and prediction (``tflop``) and its floor: the minutes it would take at
    the same-shape matmul rate of this machine (``core_limit``; NaN for architectures that are not MLPs)."""
    rates: dict[tuple, tuple[float, float]] = {}
    seen: set[str] = set()
    rows = []
    for notebook, params in runs:
        params = {"results_dir": results_dir or "", **params}
        spec_seed = params.get("seed", 0)
        row = {"notebook": str(notebook), "seed": spec_seed, "to_train": 0, "stored": 0, "example_epochs": 0,
               "est_minutes": 0.0, "tflop": 0.0, "floor_minutes": 0.0}
        for planned in planned_sets(str(notebook), params):
            _count(row, planned, seen, rates, device, _cache_dir(notebook, params))
        rows.append(row)
    table = pd.DataFrame(rows, columns=["notebook", "seed", "to_train", "stored", "example_epochs", "est_minutes",
                                        "tflop", "floor_minutes"])
    n = max(workers, 1)
    log.info("plan: %d model-levels to train (%d already stored), about %.1f min of training on %d worker(s); "
             "their arithmetic (%.1f TFLOP) takes at least %.1f min there at this machine's matmul rate of the same "
             "shapes, with no overhead and no attacks\n%s", table["to_train"].sum(), table["stored"].sum(),
             table["est_minutes"].sum() / n, workers, table["tflop"].sum(), table["floor_minutes"].sum() / n,
             table.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    return table
