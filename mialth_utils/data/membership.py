"""Who trains on what: the pool, the exchangeable keep-matrix and the disjoint shadow split.

Row 0 of a keep-matrix is the target model, rows 1..M-1 are reference (shadow) models.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np


def array_hash(array: np.ndarray) -> str:
    """A short, stable hash of an array's dtype, shape and bytes (goes into cache specs)."""
    array = np.ascontiguousarray(array)
    h = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    h.update(array.tobytes())
    return h.hexdigest()[:16]


def independent_halves(n_rows: int, n_examples: int, rng: np.random.Generator) -> np.ndarray:
    """``n_rows`` keep rows, each an independent uniformly drawn half (``n_examples // 2``) of the examples."""
    return rng.uniform(size=(n_rows, n_examples)).argsort(axis=1) < n_examples // 2


def balanced_keep(n_models: int, n_examples: int, seed: int) -> np.ndarray:
    """Keep-matrix of ``n_models`` exchangeable models: every row (target and references alike) an
    independent draw of exactly ``n_examples // 2`` members.

    Any model can therefore play the target (leave-one-out) and no model's membership leaks through the
    others' rows: an example's IN count among the other models is Binomial(M - 1, 1/2) whatever the
    target did. Deviation from LiRA's code, on purpose: there every column is balanced over the models
    (exactly half IN), so when one model plays the target, the others' IN count of an example reveals its
    membership (one fewer IN for a member); the kit's earlier design kept that balance among the
    references, which leaked the same way whenever a reference played the target (issue 20: LiRA online's
    threshold fixed on a pseudo-target gave balanced accuracy 0.5000). The price: some examples have few
    IN (or OUT) references, which the reference attacks handle (``attacks.lira``, ``attacks.cmmia``).
    """
    _check_counts(n_models, n_examples)
    if n_models < 3:
        raise ValueError(f"n_models must be at least 3 (a target and two reference models), got {n_models}")
    return independent_halves(n_models, n_examples, np.random.default_rng(seed))


@dataclass(frozen=True)
class Membership:
    """The keep-matrix of a population and which pool examples the target game is played on.

    ``keep[m, i]``: model m trains on pool example i. ``target_pool``: the examples whose
    membership in model 0 is the game (all of them in the LiRA design; the target half in the
    disjoint design). ``mode`` is ``"balanced"`` or ``"disjoint"``.
    """

    keep: np.ndarray
    target_pool: np.ndarray
    mode: str
    seed: int

    @property
    def n_models(self) -> int:
        return self.keep.shape[0]

    @property
    def hash(self) -> str:
        return array_hash(np.concatenate([self.keep, self.target_pool[None]], axis=0))

    def member_mask(self, model: int = 0) -> np.ndarray:
        return self.keep[model]

    def row_hash(self, model: int) -> str:
        return array_hash(self.keep[model])


def make_membership(n_models: int, n_examples: int, seed: int, mode: str = "balanced") -> Membership:
    """Build the keep-matrix of a population of ``n_models`` (target + references) over a pool.

    ``balanced``: LiRA design over the whole pool, every row an independent half (exchangeable models,
    see ``balanced_keep``).
    ``disjoint``: Shokri design: the pool is halved; the target trains on a random half of the
    first half only, each reference on an independent half of the second half only.
    """
    if mode == "balanced":
        keep = balanced_keep(n_models, n_examples, seed)
        return Membership(keep, np.ones(n_examples, bool), mode, seed)
    if mode != "disjoint":
        raise ValueError(f"unknown membership mode {mode!r}: use 'balanced' or 'disjoint'")
    _check_counts(n_models, n_examples)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n_examples)
    target_part, shadow_part = perm[: n_examples // 2], perm[n_examples // 2:]
    keep = np.zeros((n_models, n_examples), bool)
    keep[0, rng.permutation(target_part)[: len(target_part) // 2]] = True
    n_ref = n_models - 1
    keep[np.ix_(np.arange(1, n_models), shadow_part)] = independent_halves(n_ref, len(shadow_part), rng)
    target_pool = np.zeros(n_examples, bool)
    target_pool[target_part] = True
    return Membership(keep, target_pool, mode, seed)


def balanced_eval_indices(member_mask: np.ndarray, candidates: np.ndarray | None = None,
                          seed: int = 0) -> np.ndarray:
    """Indices of a 50/50 member/non-member evaluation set (the larger side is subsampled)."""
    member_mask = np.asarray(member_mask, bool)
    candidates = np.ones_like(member_mask) if candidates is None else np.asarray(candidates, bool)
    members = np.flatnonzero(member_mask & candidates)
    non_members = np.flatnonzero(~member_mask & candidates)
    n = min(len(members), len(non_members))
    if n == 0:
        raise ValueError("cannot build a balanced evaluation set: no members or no non-members")
    rng = np.random.default_rng(seed)
    return np.sort(np.concatenate([rng.choice(members, n, replace=False), rng.choice(non_members, n, replace=False)]))


def sample_pool(labels: np.ndarray, n_pool: int, n_population: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Pick the pool (membership game) and a disjoint population set from a training split.

    Both are stratified by class via sklearn's ``train_test_split``.
    """
    from sklearn.model_selection import train_test_split

    labels = np.asarray(labels)
    if n_pool + n_population > len(labels):
        raise ValueError(f"n_pool + n_population = {n_pool + n_population} exceeds the {len(labels)} "
                         "training examples: lower n_pool or n_population")
    n_classes = len(np.unique(labels))
    for name, size in (("n_pool", n_pool), ("n_population", n_population)):
        if 0 < size < n_classes or (name == "n_pool" and size < n_classes):
            raise ValueError(f"{name} = {size} is smaller than the {n_classes} classes of the data set: the split is "
                             f"stratified by class, so give {name} at least {n_classes} (better: many per class)")
    idx = np.arange(len(labels))
    rest = len(labels) - n_pool - n_population
    stratify = labels if np.bincount(labels).min() >= 2 else None
    pool, other = train_test_split(idx, train_size=n_pool, random_state=seed, stratify=stratify)
    if n_population == 0:
        return np.sort(pool), np.array([], dtype=int)
    if rest > 0:
        strat2 = labels[other] if np.bincount(labels[other]).min() >= 2 else None
        population, _ = train_test_split(other, train_size=n_population, random_state=seed + 1, stratify=strat2)
    else:
        population = other
    return np.sort(pool), np.sort(population)


def _check_counts(n_models: int, n_examples: int) -> None:
    for name, value, low in (("n_models", n_models, 2), ("n_examples", n_examples, 2)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if value < low:
            raise ValueError(f"{name} must be at least {low}, got {value}")
