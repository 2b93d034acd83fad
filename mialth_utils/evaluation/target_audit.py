"""Audit a target trained outside the kit: reference models trained with its recipe, every attack.

The user gives a trained target (a ``state_dict`` of an architecture the kit can build, or the
target's logits on the data set's whole training split), the indices of the training split it
trained on, the data set and the training recipe (``TrainSpec``; with ``n_levels`` > 0 the target is
an IMP ticket of that level and the references are pruned the same way). The game's pool is the
target's members plus as many non-members of the training split; references train on a balanced
keep-matrix over that pool (each on half of it: as many examples as the target). The target's
membership is row 0 of the keep-matrix and enters only the evaluation, never an attack's fit.

The target must read inputs as the kit feeds them: ``TensorData.normalise`` of uint8 images (x / 255,
minus the training split's per-channel mean, over its std).
"""
from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from .. import store
from ..data.membership import Membership, array_hash, independent_halves
from ..data.registry import load_dataset
from ..modelsets import ModelSet, ModelSetSpec
from ..signals import MembershipGame, build_attack_data
from ..sparsity.masks import counted_sparsity
from ..training.predict import accuracy

log = logging.getLogger(__name__)


class ExternalTargetSet(ModelSet):
    """A model set whose row 0 is an external target (never trained here) and whose pool is built
    around the target's members; rows 1.. are reference models trained and cached like any other."""

    def __init__(self, spec: ModelSetSpec, member_idx, device="cpu", cache_dir: Path | None = None):
        self.cache_dir = Path(cache_dir) if cache_dir else store.cache_root()
        self.data = load_dataset(spec.dataset, n_classes=spec.n_classes, seed=spec.seed, device=device,
                                 class_subset=spec.class_subset, path=spec.data_path or None,
                                 image_size=spec.image_size)
        pool, population, target_row = external_pool(len(self.data.train_y), member_idx, spec.n_population, spec.seed)
        self.spec = dataclasses.replace(spec, n_pool=len(pool), n_population=len(population))
        labels = self.data.train_y.cpu().numpy()
        self.pool_idx, self.population_idx = pool, population
        keep = np.zeros((spec.n_models, len(pool)), bool)
        keep[0] = target_row
        keep[1:] = independent_halves(spec.n_models - 1, len(pool), np.random.default_rng((spec.seed, 1)))
        self.membership = Membership(keep, np.ones(len(pool), bool), "external", spec.seed)
        self.labels, self.population_labels = labels[pool], labels[population]
        self.split_hash = array_hash(np.concatenate([pool, population]))
        self.game = MembershipGame(self.labels, self.population_labels, keep, len(pool), self.spec.view_names)

    def build(self, workers: int | None = None, scheduler: str | None = None) -> "ExternalTargetSet":
        """Train the reference models (in this process: the game is not rebuilt from the spec alone)."""
        for m in range(1, self.spec.n_models):
            self.train_one(m)
        return self

    def target_logits(self, state_path: str | None = None, logits_path: str | None = None) -> tuple[np.ndarray, dict]:
        """The target's logits (Q, pool + population, C) and its accuracies, from a state_dict or saved logits."""
        member = self.membership.keep[0]
        if state_path:
            net = self.make_net(0)
            net.load_state_dict(store.load_state(Path(state_path), self.data.device))
            logits = self.predict(net).numpy()
            info = {"target_source": "state_dict", "sparsity": counted_sparsity(net)["overall"],
                    "test_acc": accuracy(net, self.data, self.data.test_x, self.data.test_y)}
        elif logits_path:
            saved = store.load_npy(Path(logits_path))
            if saved.ndim != 2 or len(saved) != len(self.data.train_y):
                raise ValueError(f"{logits_path}: expected the target's logits on the whole training split, shaped "
                                 f"({len(self.data.train_y)}, n_classes), got {saved.shape}")
            logits = saved[np.concatenate([self.pool_idx, self.population_idx])][None].astype(np.float32)
            info = {"target_source": "logits", "sparsity": np.nan, "test_acc": np.nan}
        else:
            raise ValueError("give the target as state_path (a state_dict file) or logits_path (.npy of its logits "
                             "on the training split)")
        correct = logits[0, : len(self.pool_idx)].argmax(1) == self.labels
        info.update(train_acc=float(correct[member].mean()), nonmember_pool_acc=float(correct[~member].mean()),
                    n_train=int(member.sum()))
        info["gap"] = info["train_acc"] - info["test_acc"]  # one formula everywhere: NaN without a test accuracy
        return logits, info

    def attack_data(self, target_logits: np.ndarray, level: int):
        """AttackData of the target against the references at ``level`` (identity view only for saved logits)."""
        refs = list(range(1, self.spec.n_models))
        ref_logits = np.stack([self.logits(m, level) for m in refs])
        game = self.game
        if target_logits.shape[0] == 1:
            ref_logits, game = ref_logits[:, :1], dataclasses.replace(game, views=("id",))
        return build_attack_data(game, target_logits, ref_logits, refs)

    def reference_table(self, level: int) -> pd.DataFrame:
        rows = [{k: v for k, v in self.metrics(m, level).items() if k not in ("sparsity_per_layer", "dp_history")}
                for m in range(1, self.spec.n_models)]
        return pd.DataFrame(rows).assign(role="reference")


def external_pool(n_train: int, member_idx, n_population: int, seed: int):
    """Pool = the target's members + as many other training-split examples; population = further ones.
    Returns (pool, population, member flags of the pool)."""
    members = np.unique(np.asarray(member_idx, dtype=np.int64))
    if len(members) == 0 or members.min() < 0 or members.max() >= n_train:
        raise ValueError(f"member indices must be indices into the training split (0..{n_train - 1}), "
                         f"got {len(members)} indices")
    rest = np.random.default_rng(seed).permutation(np.setdiff1d(np.arange(n_train), members))
    n_population = min(n_population, len(rest) - len(members))
    if n_population < 0:
        raise ValueError(f"the target trained on {len(members)} of {n_train} examples: the game needs as many "
                         "non-members from the same split; audit a target that left at least half the split out")
    pool = np.sort(np.concatenate([members, rest[: len(members)]]))
    population = np.sort(rest[len(members): len(members) + n_population])
    return pool, population, np.isin(pool, members)


def audit_target(game: ExternalTargetSet, attacks, *, state_path: str | None = None, logits_path: str | None = None,
                 level: int = 0, n_boot: int = 200, seed: int = 0) -> tuple[pd.DataFrame, dict, dict]:
    """Every attack on the external target at IMP ``level`` of its references: attack rows (with the
    target's accuracies, gap and sparsity), scores by attack, and the target's info."""
    from .audit import run_attacks

    logits, info = game.target_logits(state_path, logits_path)
    data = game.attack_data(logits, level)
    rows, scores = run_attacks(data, game.membership.keep[0], attacks, n_boot=n_boot, seed=seed)
    for key in ("target_source", "sparsity", "train_acc", "test_acc", "gap", "nonmember_pool_acc"):
        rows[key] = info[key]
    rows["level"] = level
    return rows, scores, info
