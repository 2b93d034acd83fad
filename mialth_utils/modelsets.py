"""Model sets: the target (model 0) and its reference models, trained and stored as the attacks need them.

``ModelSet``: every model trains on its own keep-row of the pool, is pruned by its own IMP run and
rewound the same way, so the references match the target at every level (controls for the target,
or all models). ``CompressedModelSet``: every model of a built model set compressed the same way.
Each (model, level, branch) or compressed model is an artefact of the hash-keyed store holding
what attacks need: float32 logits on the pool and the population set (never trained on) under every
query view, accuracies and counted sparsity. The unit of work is one model's whole chain, so any
worker can build any unit (``build(workers=...)``); results travel only through the store.

Both expose the same ``Outputs`` view (``at(level, branch)`` for a ModelSet), from which attack
data are built: ``logits(model)``, ``metrics(model)`` and the ``game`` they belong to.
"""
from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
import torch

from . import store
from .data.membership import Membership, array_hash, make_membership, sample_pool
from .data.registry import TensorData, load_dataset
from .data.views import view_names
from .levels import LevelBuilder
from .models import make_model
from .signals import MembershipGame
from .sparsity.compress import Compression, compress_model, count_params_and_macs
from .sparsity.imp import BRANCHES, REWINDS
from .sparsity.masks import check_sparsity_possible
from .training.defences import dp_compatible
from .training.loop import TrainSpec
from .training.predict import accuracy, predict_logits, query_inputs

log = logging.getLogger(__name__)
NOT_TABULATED = ("sparsity_per_layer", "dp_history")  # lists in metrics.json, not table cells
LOGITS_DTYPE = np.float32  # float16 logits saturate p_y and tie the top scores of attack lists: never store them
# Store schema 1: the key under which a model-level's settings are hashed, and its artefact kind. The
# string "population" is historical (it once named a model set); it stays because it is in every stored
# hash (pinned in tests/test_store.py). A new schema would get a new constant, never an edit of this one.
STORE_SCHEMA = 1
HASH_KEY_V1 = "population"


@dataclass(frozen=True)
class ModelSetSpec:
    """Everything that defines a model set; hashed (with the split and keep-row) into artefact keys.
    Field names are part of the hash: ``n_population`` counts the never-trained population examples."""

    dataset: str = "fashion-mnist"
    n_classes: int | None = None
    model: str = "lenet-300-100"
    train: TrainSpec = field(default_factory=TrainSpec)
    n_models: int = 8  # target + reference models
    n_pool: int = 5000  # examples in the membership game
    n_population: int = 1000  # never-trained examples (RMIA's population z)
    membership: str = "balanced"  # balanced | disjoint
    n_levels: int = 0  # IMP levels after the dense level 0
    prune_frac: float = 0.2
    scope: str = "global"
    output_rate: float = 1.0
    rewind: str = "init"  # init | step | finetune
    rewind_step: int = 0  # optimiser steps for rewind="step"
    controls: tuple[str, ...] = ()  # random_mask, random_reinit
    control_models: str = "target"  # target | all
    queries: str = "shifts"  # a key of data.views.VIEW_SETS; noise views are always added
    seed: int = 0
    class_subset: int = 0  # which seeded subset of n_classes classes (C3 uses several)
    data_path: str = ""  # folder of an imagefolder data set ("" = $MIALTH_DATA/imagefolder)
    image_size: int = 32  # side of the images an imagefolder data set is resized to

    def __post_init__(self):
        check_sparsity_possible(self.prune_frac, self.n_levels)
        if self.rewind not in REWINDS:
            raise ValueError(f"rewind must be one of {REWINDS}, got {self.rewind!r}")
        view_names(self.queries)
        unknown = set(self.controls) - set(BRANCHES[1:])
        if unknown:
            raise ValueError(f"unknown controls {sorted(unknown)}: use {BRANCHES[1:]}")
        if not isinstance(self.train, TrainSpec):
            object.__setattr__(self, "train", TrainSpec(**self.train))

    def to_dict(self) -> dict:
        """The hashed form. Fields added after the first release enter it only when set, so that
        artefacts of unchanged settings keep their hashes (pinned in tests/test_store.py)."""
        out = dataclasses.asdict(self)
        out["train"] = self.train.to_dict()
        for name, default in (("class_subset", 0), ("data_path", ""), ("image_size", 32)):
            if out[name] == default:
                del out[name]
        return out

    @property
    def view_names(self) -> tuple[str, ...]:
        return view_names(self.queries)

    def chain(self, model: int) -> list[tuple[int, str]]:
        """(level, branch) of one model in build order: level l-1 of IMP always comes before level l;
        the controls train for the target only, unless ``control_models="all"``."""
        branches = ("imp",) + (tuple(self.controls) if self.control_models == "all" or model == 0 else ())
        return [(lvl, b) for lvl in range(self.n_levels + 1) for b in branches if lvl > 0 or b == "imp"]


class Outputs(Protocol):
    """What attack data are built from: one level of a model set, or a compressed model set."""

    game: MembershipGame

    def logits(self, model: int) -> np.ndarray: ...

    def metrics(self, model: int) -> dict: ...


class _ModelSetLayout:
    """Shared set-up of a model set: data, pool / population split, keep-matrix (no training)."""

    def __init__(self, spec: ModelSetSpec, device: str | torch.device = "cpu", cache_dir: Path | None = None):
        self.spec = spec
        self.cache_dir = Path(cache_dir) if cache_dir else store.cache_root()
        self.data: TensorData = load_dataset(spec.dataset, n_classes=spec.n_classes, seed=spec.seed, device=device,
                                             class_subset=spec.class_subset, path=spec.data_path or None,
                                             image_size=spec.image_size)
        labels = self.data.train_y.cpu().numpy()
        self.pool_idx, self.population_idx = sample_pool(labels, spec.n_pool, spec.n_population, spec.seed)
        self.membership: Membership = make_membership(spec.n_models, spec.n_pool, spec.seed, spec.membership)
        self.labels = labels[self.pool_idx]
        self.population_labels = labels[self.population_idx]
        self.split_hash = array_hash(np.concatenate([self.pool_idx, self.population_idx]))
        self.game = MembershipGame(self.labels, self.population_labels, self.membership.keep, spec.n_pool, spec.view_names)

    def make_net(self, seed: int):
        """The spec's architecture with weights drawn from ``seed`` (made DP-compatible when DP-SGD is on)."""
        return dp_compatible(make_model(self.spec.model, self.data, seed), self.spec.train.dp)

    @property
    def heldout(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Early stopping's held-out set: the even-indexed half of the test split (never trained on)."""
        return self.data.test_x[::2], self.data.test_y[::2]

    @cached_property
    def _queried(self) -> torch.Tensor:
        """The pool then the population set, as uint8 images."""
        return self.data.train_x[torch.from_numpy(np.concatenate([self.pool_idx, self.population_idx]))]

    @cached_property
    def _query_inputs(self):
        """Their views' inputs, built once and reused by every model this model set predicts."""
        return query_inputs(self.data, self._queried, self.spec.view_names)

    @cached_property
    def _test_inputs(self):
        return query_inputs(self.data, self.data.test_x, batch_size=4096)

    def predict(self, net) -> torch.Tensor:
        """Logits of ``net`` on the pool then the population set, under every view: (Q, N + P, C)."""
        return predict_logits(net, self.data, self._queried, self.spec.view_names, inputs=self._query_inputs)

    def save_outputs(self, art: store.Artifact, net, info: dict, states: dict | None = None) -> dict:
        """Predict, add accuracies and the gap to ``info``, and write the artefact in one atomic step."""
        logits = self.predict(net)
        correct = logits[0, : self.spec.n_pool].argmax(1).numpy() == self.labels
        keep = self.membership.keep[info["model_index"]]
        info.update(train_acc=float(correct[keep].mean()), nonmember_pool_acc=float(correct[~keep].mean()),
                    test_acc=accuracy(net, self.data, self.data.test_x, self.data.test_y, inputs=self._test_inputs))
        info["gap"] = info["train_acc"] - info["test_acc"]
        with art.writing() as folder:
            for name, state in (states or {}).items():
                store.save_state(folder / f"{name}.pt", state)
            store.save_arrays(folder / "outputs.npz", logits=logits.numpy().astype(LOGITS_DTYPE))
            store.write_json(folder / "metrics.json", info)
        return info


def _load_logits(path: Path) -> np.ndarray:
    return store.load_arrays(path / "outputs.npz")["logits"].astype(np.float32)


def _stale(art: store.Artifact) -> bool:
    """An artefact from before logits were stored at float32 (its scores would tie): rebuild it."""
    with np.load(art.path / "outputs.npz") as npz:
        return npz["logits"].dtype != LOGITS_DTYPE


def _to_build(art: store.Artifact) -> bool:
    """Not built, damaged (moved aside by the check) or stale: one artefact's key, hashed once."""
    return not art.intact() or _stale(art)


class ModelSet(_ModelSetLayout, LevelBuilder):
    """Handle on a (possibly still unbuilt) model set; ``build()`` trains what is missing."""

    # ----------------------------------------------------------------- store keys
    def artifact(self, model: int, level: int, branch: str = "imp") -> store.Artifact:
        settings = self.spec.to_dict()
        settings.pop("controls")  # controls do not change an IMP model
        settings.pop("control_models")
        settings["n_levels"] = None  # nor does how many levels follow
        spec = {HASH_KEY_V1: settings, "split": self.split_hash, "keep_row": self.membership.row_hash(model),
                "model_index": model, "level": level, "branch": branch}
        return store.Artifact(HASH_KEY_V1, spec, self.cache_dir)

    def chain(self, model: int) -> list[tuple[int, str]]:
        return self.spec.chain(model)

    def missing(self, model: int) -> list[tuple[int, str]]:
        """What of one model's chain is to build: not built, damaged (moved aside by the check) or stale.
        Checked under the chain's lock; while another process builds the chain, all of it (wait for it)."""
        with store.building(self.artifact(model, 0), wait=False) as free:
            if not free:
                return self.chain(model)
            return [(level, branch) for level, branch in self.chain(model)
                    if _to_build(self.artifact(model, level, branch))]

    # ----------------------------------------------------------------- reading
    def _done_path(self, model: int, level: int, branch: str) -> Path:
        art = self.artifact(model, level, branch)
        if not art.done:
            raise FileNotFoundError(f"model {model} level {level} {branch} is not built yet: call build() first")
        return art.path

    def logits(self, model: int, level: int, branch: str = "imp") -> np.ndarray:
        """(n_views, n_pool + n_population, n_classes) float32 logits of one model."""
        return _load_logits(self._done_path(model, level, branch))

    def metrics(self, model: int, level: int, branch: str = "imp") -> dict:
        return store.read_json(self._done_path(model, level, branch) / "metrics.json")

    def masks(self, model: int, level: int, branch: str = "imp") -> dict:
        return store.load_state(self._done_path(model, level, branch) / "masks.pt")

    def state(self, model: int, level: int, branch: str = "imp") -> dict:
        return store.load_state(self._done_path(model, level, branch) / "state.pt")

    def at(self, level: int, branch: str = "imp") -> "LevelOutputs":
        return LevelOutputs(self, level, branch)

    def table(self) -> pd.DataFrame:
        """One row per (model, level, branch) with accuracies and counted sparsity."""
        rows = [{k: v for k, v in self.metrics(m, level, branch).items() if k not in NOT_TABULATED}
                for m in range(self.spec.n_models) for level, branch in self.chain(m)]
        df = pd.DataFrame(rows)
        df["role"] = np.where(df["model_index"] == 0, "target", "reference")
        return df


@dataclass(frozen=True)
class LevelOutputs:
    """One (level, branch) of a model set, as attack data are built from it."""

    models: ModelSet
    level: int
    branch: str = "imp"

    @property
    def game(self) -> MembershipGame:
        return self.models.game

    def logits(self, model: int) -> np.ndarray:
        return self.models.logits(model, self.level, self.branch)

    def metrics(self, model: int) -> dict:
        return self.models.metrics(model, self.level, self.branch)


def build_chains(spec: ModelSetSpec, cache_dir: str, models: tuple[int, ...], device: str = "auto") -> tuple:
    """One unit of work: the missing levels of several models' chains, level by level, batched. Their
    chains are locked in model order (so two such units never wait on each other in a cycle)."""
    from contextlib import ExitStack

    from .runtime import resolve_device

    models_ = ModelSet(spec, resolve_device(device), cache_dir)
    with ExitStack() as locks:
        for m in sorted(models):
            locks.enter_context(store.building(models_.artifact(m, 0)))
        models_.train_many(tuple(sorted(models)))
    return tuple(models)


def build_chain(spec: ModelSetSpec, cache_dir: str, model: int, device: str = "auto") -> int:
    """One unit of work (any process can run it): every missing level of one model's chain."""
    from .runtime import resolve_device

    models = ModelSet(spec, resolve_device(device), cache_dir)
    with store.building(models.artifact(model, 0)):  # a run beside this one wanting the chain waits, then loads it
        models.train_one(model)
    return model


class CompressedModelSet:
    """Every model of a built model set, compressed the same way (the adversary knows the method)."""

    def __init__(self, base: ModelSet, compression: Compression):
        self.base, self.compression = base, compression
        self.spec, self.game = base.spec, base.game

    def artifact(self, m: int) -> store.Artifact:
        spec = {"base": self.base.artifact(m, 0).hash, "compression": dataclasses.asdict(self.compression)}
        return store.Artifact("compressed", spec, self.base.cache_dir)

    @property
    def imp_level(self) -> int | None:
        return int(self.compression.amount) if self.compression.method == "imp" else None

    def missing(self) -> list[int]:
        if self.imp_level is not None:
            return []
        return [m for m in range(self.spec.n_models) if _to_build(self.artifact(m))]

    def build(self, workers: int | None = None, scheduler: str | None = None) -> "CompressedModelSet":
        from .executor import run_units

        if self.imp_level is not None and self.base.spec.n_levels < self.imp_level:
            raise ValueError(f"imp-{self.imp_level} needs a base model set with at least that many levels "
                             f"(it has {self.base.spec.n_levels})")
        args = [(self.base.spec, str(self.base.cache_dir), self.compression, m, str(self.base.data.device))
                for m in self.missing()]
        run_units(build_compressed, args, workers=workers, scheduler=scheduler, desc=self.compression.label)
        return self

    def train_one(self, m: int) -> None:
        base, start = self.base, time.perf_counter()
        net = base.make_net(0)
        net.load_state_dict(base.state(m, 0))
        member_idx = torch.from_numpy(base.pool_idx[base.membership.keep[m]])
        seed = int(self.spec.seed) * 1_000_003 + m
        net, info = compress_model(net, self.compression, base.data, member_idx, self.spec.train, seed)
        info.update(count_params_and_macs(net, base.data.input_shape))
        info.update(model_index=m, compression=self.compression.label, method=self.compression.method,
                    amount=str(self.compression.amount), dense_test_acc=base.metrics(m, 0)["test_acc"])
        info = base.save_outputs(self.artifact(m), net, info)
        info["seconds"] = time.perf_counter() - start
        log.info("%s model %d: test %.4f (dense %.4f)", self.compression.label, m, info["test_acc"],
                 info["dense_test_acc"])

    def logits(self, model: int) -> np.ndarray:
        if self.imp_level is not None:
            return self.base.logits(model, self.imp_level)
        return _load_logits(self.artifact(model).path)

    def metrics(self, model: int) -> dict:
        if self.imp_level is None:
            return store.read_json(self.artifact(model).path / "metrics.json")
        info = dict(self.base.metrics(model, self.imp_level))
        net = self.base.make_net(0)
        net.load_state_dict(self.base.state(model, self.imp_level))
        info.update(count_params_and_macs(net, self.base.data.input_shape))
        info.update(compression=self.compression.label, method="imp", amount=str(self.compression.amount),
                    dense_test_acc=self.base.metrics(model, 0)["test_acc"])
        return info


def build_compressed(spec: ModelSetSpec, cache_dir: str, compression: Compression, model: int,
                     device: str = "auto") -> int:
    """One unit of work: one compressed model (its dense level 0 must be built)."""
    from .runtime import resolve_device

    CompressedModelSet(ModelSet(spec, resolve_device(device), cache_dir), compression).train_one(model)
    return model
