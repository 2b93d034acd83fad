"""A population of models (target + reference models) brought through every IMP level.

Each model trains on its own keep-row of the pool, is pruned by its own IMP run and rewound the
same way, so reference models match the target at every level. Every (model, level, branch) is
an artefact in the hash-keyed cache holding what the attacks need: float16 logits on the pool and
the population set under every query view, accuracies and counted sparsity. Interrupted runs
resume at the first unfinished artefact; models are never all in memory at once.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from . import cache
from .data import TensorData, load_dataset
from .membership import Membership, array_hash, make_membership, sample_pool
from .prune import (check_sparsity_possible, counted_sparsity, full_masks, magnitude_masks, masks_sparsity,
                    random_masks_like)
from .train import NOISE_QUERIES, QUERY_SETS, TrainSpec, accuracy, make_model, predict_logits, train

BRANCHES = ("imp", "random_mask", "random_reinit")


@dataclass(frozen=True)
class PopulationSpec:
    """Everything that defines a population; hashed (with the keep-matrix) into cache keys."""

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
    queries: str = "shifts"  # a key of train.QUERY_SETS; noise queries are always added
    seed: int = 0

    def __post_init__(self):
        check_sparsity_possible(self.prune_frac, self.n_levels)
        if self.rewind not in ("init", "step", "finetune"):
            raise ValueError(f"rewind must be 'init', 'step' or 'finetune', got {self.rewind!r}")
        if self.queries not in QUERY_SETS:
            raise ValueError(f"queries must be one of {sorted(QUERY_SETS)}, got {self.queries!r}")
        unknown = set(self.controls) - set(BRANCHES[1:])
        if unknown:
            raise ValueError(f"unknown controls {sorted(unknown)}: use {BRANCHES[1:]}")
        if not isinstance(self.train, TrainSpec):
            object.__setattr__(self, "train", TrainSpec(**self.train))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def query_names(self) -> tuple[str, ...]:
        return QUERY_SETS[self.queries] + NOISE_QUERIES


class Population:
    """Handle on a (possibly still unbuilt) population; ``build()`` trains what is missing."""

    def __init__(self, spec: PopulationSpec, device: str | torch.device = "cpu", cache_dir: Path | None = None):
        self.spec = spec
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.data: TensorData = load_dataset(spec.dataset, n_classes=spec.n_classes, seed=spec.seed, device=device)
        labels = self.data.train_y.cpu().numpy()
        self.pool_idx, self.population_idx = sample_pool(labels, spec.n_pool, spec.n_population, spec.seed)
        self.membership: Membership = make_membership(spec.n_models, spec.n_pool, spec.seed, spec.membership)
        self.labels = labels[self.pool_idx]
        self.population_labels = labels[self.population_idx]
        self.split_hash = array_hash(np.concatenate([self.pool_idx, self.population_idx]))

    # ----------------------------------------------------------------- cache keys
    def artifact(self, model: int, level: int, branch: str = "imp") -> cache.Artifact:
        spec = {"population": self.spec.to_dict(), "split": self.split_hash,
                "keep_row": self.membership.row_hash(model), "model_index": model, "level": level, "branch": branch}
        spec["population"].pop("controls")  # controls do not change an IMP model
        spec["population"].pop("control_models")
        spec["population"]["n_levels"] = None  # nor does how many levels follow
        return cache.Artifact("population", spec, self.cache_dir)

    def branches_for(self, model: int) -> tuple[str, ...]:
        if self.spec.control_models == "all" or model == 0:
            return ("imp",) + tuple(self.spec.controls)
        return ("imp",)

    # ----------------------------------------------------------------- building
    def build(self, progress: bool = True, log=print) -> "Population":
        jobs = [(m, lvl, b) for m in range(self.spec.n_models) for lvl in range(self.spec.n_levels + 1)
                for b in self.branches_for(m) if lvl > 0 or b == "imp"]
        todo = [j for j in jobs if not self.artifact(*j).done]
        if log:
            log(f"population: {len(jobs)} models x levels, {len(jobs) - len(todo)} cached, {len(todo)} to train")
        for m, level, branch in tqdm(todo, desc="population", disable=not progress or not todo):
            self._build_one(m, level, branch, log)  # in model, level order: level l-1 is always done first
        return self

    def _seed(self, model: int, level: int, purpose: int = 0) -> int:
        return int(self.spec.seed) * 1_000_003 + model * 10_007 + level * 101 + purpose

    def _build_one(self, m: int, level: int, branch: str, log) -> None:
        spec, data = self.spec, self.data
        art = self.artifact(m, level, branch)
        start = time.perf_counter()
        init_seed = self._seed(m, 0)
        net = make_model(spec.model, data, init_seed)
        snapshot_step = None
        if level == 0:
            masks = full_masks(net)
            snapshot_step = spec.rewind_step if spec.rewind == "step" else 0
        else:
            prev = self.artifact(m, level - 1, "imp").path
            net.load_state_dict(cache.load_state(prev / "state.pt", data.device))
            masks = magnitude_masks(net, cache.load_state(prev / "masks.pt", data.device), spec.prune_frac,
                                    spec.scope, spec.output_rate)
            if branch == "random_mask":
                masks = random_masks_like(masks, self._seed(m, level, 1))
            if branch == "random_reinit":
                net = make_model(spec.model, data, self._seed(m, level, 2))
            elif spec.rewind != "finetune":
                rewind = self.artifact(m, 0, "imp").path / "rewind.pt"
                net.load_state_dict(cache.load_state(rewind, data.device))
        member_idx = torch.from_numpy(self.pool_idx[self.membership.keep[m]])
        result = train(net, data, member_idx, spec.train, seed=self._seed(m, level, 3), masks=masks,
                       snapshot_step=snapshot_step, desc=f"model {m} level {level} {branch}", log=None,
                       progress=False)
        folder = art.prepare()
        if level == 0:
            if result.snapshot is None:
                raise ValueError(f"rewind_step={spec.rewind_step} is beyond the {len(result.history)} epochs "
                                 "of training: choose a smaller rewind_step")
            cache.save_state(folder / "rewind.pt", result.snapshot)
        cache.save_state(folder / "state.pt", net.state_dict())
        cache.save_state(folder / "masks.pt", masks)
        logits = self.predict(net)
        cache.save_arrays(folder / "outputs.npz", logits=logits.numpy().astype(np.float16))
        pool_logits = logits[0, : spec.n_pool]
        correct = (pool_logits.argmax(1).numpy() == self.labels)
        keep = self.membership.keep[m]
        sp = counted_sparsity(net)
        metrics = {"model_index": m, "level": level, "branch": branch, "sparsity": sp["overall"],
                   "mask_sparsity": masks_sparsity(masks), "sparsity_per_layer": sp["per_layer"],
                   "train_acc": float(correct[keep].mean()), "heldout_acc": float(correct[~keep].mean()),
                   "test_acc": accuracy(net, data, data.test_x, data.test_y), "n_train": int(keep.sum()),
                   "final_loss": result.history[-1]["loss"] if result.history else float("nan"),
                   "precision": result.precision, "seconds": time.perf_counter() - start}
        metrics["gap"] = metrics["train_acc"] - metrics["test_acc"]
        cache.write_json(folder / "metrics.json", metrics)
        art.mark_done()
        if log:
            log(f"model {m} level {level} {branch}: sparsity {sp['overall']:.3f} train {metrics['train_acc']:.4f} "
                f"test {metrics['test_acc']:.4f} ({metrics['seconds']:.1f}s)")

    def predict(self, net) -> torch.Tensor:
        """Logits of ``net`` on the pool then the population set, under every query view: (Q, N + P, C)."""
        idx = torch.from_numpy(np.concatenate([self.pool_idx, self.population_idx]))
        return predict_logits(net, self.data, self.data.train_x[idx], self.spec.query_names)

    # ----------------------------------------------------------------- reading
    def _done_path(self, model: int, level: int, branch: str) -> Path:
        art = self.artifact(model, level, branch)
        if not art.done:
            raise FileNotFoundError(f"model {model} level {level} {branch} is not built yet: call build() first")
        return art.path

    def logits(self, model: int, level: int, branch: str = "imp") -> np.ndarray:
        """(n_queries, n_pool + n_population, n_classes) float32 logits of one model."""
        return cache.load_arrays(self._done_path(model, level, branch) / "outputs.npz")["logits"].astype(np.float32)

    def all_logits(self, level: int, branch: str = "imp") -> np.ndarray:
        """(n_models, n_queries, N, n_classes): one level of the whole population (small: logits only)."""
        return np.stack([self.logits(m, level, branch) for m in range(self.spec.n_models)])

    def metrics(self, model: int, level: int, branch: str = "imp") -> dict:
        return cache.read_json(self._done_path(model, level, branch) / "metrics.json")

    def masks(self, model: int, level: int, branch: str = "imp") -> dict:
        return cache.load_state(self._done_path(model, level, branch) / "masks.pt")

    def state(self, model: int, level: int, branch: str = "imp") -> dict:
        return cache.load_state(self._done_path(model, level, branch) / "state.pt")

    def table(self) -> pd.DataFrame:
        """One row per (model, level, branch) with accuracies and counted sparsity."""
        rows = []
        for m in range(self.spec.n_models):
            for level in range(self.spec.n_levels + 1):
                for branch in self.branches_for(m):
                    if level == 0 and branch != "imp":
                        continue
                    row = {k: v for k, v in self.metrics(m, level, branch).items() if k != "sparsity_per_layer"}
                    rows.append(row)
        df = pd.DataFrame(rows)
        df["role"] = np.where(df["model_index"] == 0, "target", "reference")
        return df
