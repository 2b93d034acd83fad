"""Attack signals from saved logits, and the one container attacks read.

``AttackData`` holds what an attacker has: the target's logits (black-box queries), reference
models' logits with *their* keep rows, labels and a population set no model trained on. It has
no field for the target's membership: that enters only in ``metrics.evaluate``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import log_softmax, logsumexp, softmax


def probs(logits: np.ndarray) -> np.ndarray:
    return softmax(logits, axis=-1)


def _pick(a: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """a[..., i, labels[i]] for arrays shaped (..., N, C)."""
    return np.take_along_axis(a, np.broadcast_to(labels[:, None], a.shape[:-1] + (1,)), axis=-1)[..., 0]


def true_class_prob(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return _pick(probs(logits), labels)


def loss(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Cross-entropy per example."""
    return -_pick(log_softmax(logits, axis=-1), labels)


def logit_scaled_confidence(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """LiRA's phi = log(p_y / (1 - p_y)) = z_y - logsumexp_{j != y} z_j (stable in logit space)."""
    z_y = _pick(logits, labels)
    others = logits.copy()
    np.put_along_axis(others, np.broadcast_to(labels[:, None], logits.shape[:-1] + (1,)), -np.inf, axis=-1)
    return z_y - logsumexp(others, axis=-1)


def entropy(logits: np.ndarray) -> np.ndarray:
    p = probs(logits)
    return -(p * log_softmax(logits, axis=-1)).sum(-1)


def modified_entropy(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Song & Mittal's Mentr: -(1-p_y) log p_y - sum_{j!=y} p_j log(1-p_j)."""
    p = probs(logits)
    logp = log_softmax(logits, axis=-1)
    log1mp = np.log(np.clip(1 - p, 1e-30, None))
    p_y, logp_y, log1mp_y = _pick(p, labels), _pick(logp, labels), _pick(log1mp, labels)
    rest = -(p * log1mp).sum(-1) + p_y * log1mp_y
    return -(1 - p_y) * logp_y + rest


def correct(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return (logits.argmax(-1) == labels).astype(np.float64)


def sensitivity(clean_logits: np.ndarray, noisy_logits: np.ndarray) -> np.ndarray:
    """SAMIA's sensitivity: mean |p(x + noise) - p(x)| over noise queries, per class: (..., N, C).

    ``clean_logits`` (..., N, C); ``noisy_logits`` (..., K, N, C) with K noise draws."""
    return np.abs(probs(noisy_logits) - probs(clean_logits)[..., None, :, :]).mean(-3)


@dataclass(frozen=True)
class AttackData:
    """What the attacker has for one target. Shapes: Q queries, N pool examples, C classes,
    R reference models, P population examples."""

    labels: np.ndarray  # (N,)
    target_logits: np.ndarray  # (Q, N, C)
    ref_logits: np.ndarray  # (R, Q, N, C)
    ref_keep: np.ndarray  # (R, N) bool: the reference models' own training membership
    queries: tuple[str, ...]
    population_labels: np.ndarray  # (P,)
    target_population_logits: np.ndarray  # (Q, P, C)
    ref_population_logits: np.ndarray  # (R, Q, P, C)

    def __post_init__(self):
        q, n, c = self.target_logits.shape
        checks = [(self.labels.shape == (n,), f"labels shape {self.labels.shape} != ({n},)"),
                  (self.ref_logits.shape[1:] == (q, n, c), f"ref_logits shape {self.ref_logits.shape} does not "
                   f"match target_logits {self.target_logits.shape}"),
                  (self.ref_keep.shape == (self.ref_logits.shape[0], n), f"ref_keep shape {self.ref_keep.shape} "
                   f"!= ({self.ref_logits.shape[0]}, {n})"),
                  (len(self.queries) == q, f"{len(self.queries)} query names for {q} queries"),
                  (self.queries[0] == "id", "the first query must be the identity view 'id'"),
                  (int(self.labels.max(initial=0)) < c and int(self.labels.min(initial=0)) >= 0,
                   f"labels outside 0..{c - 1}")]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"AttackData: {message}")
        for name in ("target_logits", "ref_logits", "target_population_logits", "ref_population_logits"):
            if not np.isfinite(getattr(self, name)).all():
                raise ValueError(f"AttackData: {name} contains NaN or inf: the model diverged; retrain it "
                                 "(lower the learning rate) before attacking")

    @property
    def n_refs(self) -> int:
        return self.ref_logits.shape[0]

    @property
    def aug_idx(self) -> list[int]:
        """Indices of the augmentation views (identity, flips, shifts): not the noise views."""
        return [i for i, q in enumerate(self.queries) if not q.startswith("noise")]

    @property
    def noise_idx(self) -> list[int]:
        return [i for i, q in enumerate(self.queries) if q.startswith("noise")]

    def require_refs(self, n: int, attack: str) -> None:
        if self.n_refs < n:
            raise ValueError(f"{attack} needs at least {n} reference models, got {self.n_refs}: "
                             "raise n_models")


def attack_data(population, level: int, target: int = 0, branch: str = "imp", ref_level: int | None = None,
                ref_branch: str = "imp") -> AttackData:
    """AttackData for model ``target`` of a ``population`` at ``level``; the other models are references
    (at ``ref_level``, default the same level). The target's keep row is never put in."""
    ref_level = level if ref_level is None else ref_level
    refs = [m for m in range(population.spec.n_models) if m != target]
    return build_attack_data(population, population.logits(target, level, branch),
                             np.stack([population.logits(m, ref_level, ref_branch) for m in refs]), refs)


def build_attack_data(population, target_logits: np.ndarray, ref_logits: np.ndarray, refs: list[int]) -> AttackData:
    """Split saved logits (..., pool + population, C) into an AttackData; ``refs`` are the reference
    models' indices in the population's keep-matrix."""
    n_pool = population.spec.n_pool
    return AttackData(labels=population.labels, target_logits=target_logits[:, :n_pool],
                      ref_logits=ref_logits[:, :, :n_pool], ref_keep=population.membership.keep[refs].copy(),
                      queries=population.spec.query_names, population_labels=population.population_labels,
                      target_population_logits=target_logits[:, n_pool:], ref_population_logits=ref_logits[:, :, n_pool:])


def as_target(data: AttackData, ref: int) -> tuple[AttackData, np.ndarray]:
    """Play the game on reference model ``ref`` (whose membership the attacker knows): returns the
    AttackData with ``ref`` as target and the other references as references, and its keep row."""
    others = [r for r in range(data.n_refs) if r != ref]
    return AttackData(data.labels, data.ref_logits[ref], data.ref_logits[others], data.ref_keep[others],
                      data.queries, data.population_labels, data.ref_population_logits[ref],
                      data.ref_population_logits[others]), data.ref_keep[ref]
