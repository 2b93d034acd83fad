"""Building a model set's levels: per model (one unit of work per model chain) or batched (a group of
models level by level, each level's models trained in one pass by ``training.batched``).

``LevelBuilder`` is the building half of ``modelsets.ModelSet`` (which holds the game: data, split,
keep-matrix, store keys and reading). Both paths train each (model, level, branch) from the same
start (``sparsity.imp.level_start``), seeds and examples, and save it as the same artefact.
"""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import torch

from . import store
from .sparsity.imp import level_start
from .sparsity.masks import counted_sparsity, masks_sparsity
from .training.batched import Job, steps_per_epoch, train_batched, why_not_batched
from .training.defences import composed_epsilon
from .training.loop import train

log = logging.getLogger("mialth_utils.modelsets")


def batching_default() -> bool:
    """Whether ``ModelSet.build`` batches a level's models: ``MIALTH_BATCHED`` (``0`` = per model), on by default."""
    return os.environ.get("MIALTH_BATCHED", "1").strip().lower() not in ("0", "false", "no", "off")


class LevelBuilder:
    """Training what a model set misses (mixed into ``ModelSet``; uses its spec, data, store keys)."""

    def build(self, workers: int | None = None, scheduler: str | None = None,
              batched: bool | None = None) -> LevelBuilder:
        """Train every missing (model, level, branch). Per model (``batched=False``): one unit of work per
        model chain. Batched (the default, ``MIALTH_BATCHED=0`` turns it off): the models are split into
        one group per worker and each group trains level by level, a level's models in one pass
        (``training.batched``; what cannot be batched trains per model within its group)."""
        from .executor import default_workers, run_units
        from .modelsets import build_chain, build_chains

        todo = [m for m in range(self.spec.n_models) if self.missing(m)]
        n_jobs = sum(len(self.chain(m)) for m in range(self.spec.n_models))
        batched = batching_default() if batched is None else batched
        log.info("model set %s/%s: %d models x levels, %d models with work to do%s", self.spec.dataset,
                 self.spec.model, n_jobs, len(todo), " (batched by level)" if batched else "")
        device = str(self.data.device)
        if batched:
            groups = self.groups(todo, workers or default_workers())
            run_units(build_chains, [(self.spec, str(self.cache_dir), g, device) for g in groups], workers=workers,
                      scheduler=scheduler, desc="model set")
            return self
        run_units(build_chain, [(self.spec, str(self.cache_dir), m, device) for m in todo], workers=workers,
                  scheduler=scheduler, desc="model set")
        return self

    def groups(self, models: list[int], n_groups: int) -> list[tuple[int, ...]]:
        """``models`` split into at most ``n_groups`` groups of about equal work (model-levels), each
        in model order; the first model (the target, with its controls) goes first."""
        groups: list[list[int]] = [[] for _ in range(max(1, min(n_groups, len(models))))]
        work = [0] * len(groups)
        for m in sorted(models, key=lambda m: -len(self.chain(m))):
            i = work.index(min(work))
            groups[i].append(m)
            work[i] += len(self.chain(m))
        return [tuple(sorted(g)) for g in groups if g]

    def train_one(self, model: int) -> None:
        """Train one model's missing levels and branches, in order."""
        for level, branch in self.missing(model):
            self._build_level(model, level, branch)

    def train_many(self, models: tuple[int, ...]) -> None:
        """Train the missing levels of several models level by level, each level's models together."""
        pending = {m: self.missing(m) for m in models}
        for level in range(self.spec.n_levels + 1):
            jobs = [(m, lvl, b) for m in models for lvl, b in pending[m] if lvl == level]
            if jobs:
                self._build_batch(jobs)

    def _seed(self, model: int, level: int, purpose: int = 0) -> int:
        return int(self.spec.seed) * 1_000_003 + model * 10_007 + level * 101 + purpose

    def _begin(self, m: int, level: int, branch: str):
        """Where (model, level, branch) starts: its network and masks (``LevelStart``) and the previous
        level's folder."""
        spec = self.spec
        prev = self.artifact(m, level - 1, "imp").path if level else None
        begin = level_start(
            level, branch, make_net=lambda seed=None: self.make_net(seed or self._seed(m, 0)),
            prev_state=store.load_state(prev / "state.pt", self.data.device) if prev else None,
            prev_masks=store.load_state(prev / "masks.pt", self.data.device) if prev else None,
            rewind_state=(store.load_state(self.artifact(m, 0).path / "rewind.pt", self.data.device)
                          if level and spec.rewind != "finetune" else None),
            prune_frac=spec.prune_frac, scope=spec.scope, output_rate=spec.output_rate, rewind=spec.rewind,
            rewind_step=spec.rewind_step, control_seed=self._seed(m, level, 1))
        return begin, prev

    def _member_idx(self, m: int) -> torch.Tensor:
        return torch.from_numpy(self.pool_idx[self.membership.keep[m]])

    def _build_level(self, m: int, level: int, branch: str) -> None:
        start = time.perf_counter()
        begin, prev = self._begin(m, level, branch)
        result = train(begin.net, self.data, self._member_idx(m), self.spec.train, seed=self._seed(m, level, 3),
                       masks=begin.masks, snapshot_step=begin.snapshot_step, desc=f"model {m} level {level} {branch}",
                       bar=False, heldout=self.heldout if self.spec.train.early_stop_patience else None)
        self._save_level(m, level, branch, begin, result, prev, time.perf_counter() - start)

    def _build_batch(self, jobs: list[tuple[int, int, str]]) -> None:
        """One level of several (model, branch), saved each as its own artefact as ``_build_level`` saves
        it: models with as many steps per epoch (so the same schedule) train in one batched pass where
        ``training.batched`` can, else one by one. A model alone goes through the batched arithmetic
        too, so its bits depend on its spec only, never on which models shared its pass (the number of
        workers, what the store already held)."""
        by_size: dict[int, list] = {}
        for job in jobs:
            n_train = int(self.membership.keep[job[0]].sum())
            by_size.setdefault(steps_per_epoch(n_train, self.spec.train.batch_size), []).append(job)
        for same_size in by_size.values():
            self._train_together(same_size)

    def _train_together(self, jobs: list[tuple[int, int, str]]) -> None:
        start = time.perf_counter()
        begun = [self._begin(m, level, branch) for m, level, branch in jobs]
        train_jobs = [Job(begin.net, self._member_idx(m), self._seed(m, level, 3), begin.masks, begin.snapshot_step)
                      for (m, level, _), (begin, _) in zip(jobs, begun)]
        reason = why_not_batched(train_jobs, self.spec.train)
        if reason:
            log.debug("level %d: %d models trained one by one (%s)", jobs[0][1], len(jobs), reason)
            for job in jobs:
                self._build_level(*job)
            return
        results = train_batched(train_jobs, self.data, self.spec.train, desc=f"level {jobs[0][1]}")
        seconds = (time.perf_counter() - start) / len(jobs)
        for (m, level, branch), (begin, prev), result in zip(jobs, begun, results):
            self._save_level(m, level, branch, begin, result, prev, seconds, batched_with=len(jobs))

    def _save_level(self, m: int, level: int, branch: str, begin, result, prev: Path | None, seconds: float,
                    batched_with: int = 0) -> None:
        """Write one trained (model, level, branch): state, masks (and the rewind point at level 0),
        logits, accuracies and counted sparsity."""
        net = begin.net
        states = {"state": net.state_dict(), "masks": begin.masks}
        if level == 0:
            if result.snapshot is None:
                raise ValueError(f"rewind_step={self.spec.rewind_step} is beyond the {len(result.history)} epochs "
                                 "of training: choose a smaller rewind_step")
            states["rewind"] = result.snapshot
        sp = counted_sparsity(net)  # (batched_with is logged, not stored: metrics.json keeps its columns)
        info = {"model_index": m, "level": level, "branch": branch, "sparsity": sp["overall"],
                "mask_sparsity": masks_sparsity(begin.masks), "sparsity_per_layer": sp["per_layer"],
                "n_train": int(self.membership.keep[m].sum()),
                "final_loss": result.history[-1]["loss"] if result.history else float("nan"),
                "compute_precision": result.precision, "seconds": seconds,
                **self._privacy(result.privacy, prev)}
        info = self.save_outputs(self.artifact(m, level, branch), net, info, states)
        log.info("model %d level %d %s: sparsity %.3f train %.4f test %.4f (%.1fs%s)", m, level, branch,
                 sp["overall"], info["train_acc"], info["test_acc"], info["seconds"],
                 f", batched with {batched_with}" if batched_with else "")

    def _privacy(self, privacy: dict, prev: Path | None) -> dict:
        """Defence columns of a model: DP-SGD's epsilon of this run and composed over the IMP chain that
        made the ticket (its mask depends on every earlier level), early stopping's epoch."""
        out = {k: v for k, v in privacy.items() if k != "dp_history"}
        if "dp_history" in privacy:
            history = (store.read_json(prev / "metrics.json")["dp_history"] if prev else []) + privacy["dp_history"]
            out.update(dp_epsilon_target=self.spec.train.target_epsilon, dp_history=history,
                       dp_epsilon_spent=composed_epsilon([history], privacy["dp_delta"]))
        return out

