"""The attack interface and the decision thresholds every attack family shares.

Every attack has ``fit(data) -> self`` (uses only reference models, their keep rows, labels and
population data) and ``score(data) -> (N,)`` (the target's logits; higher = more likely member).
Fitted state (thresholds, classifiers, per-example Gaussians) can be applied to another target:
``attack.fit(data_a).score(data_b)`` is the transfer setting (claim C5).
"""
from __future__ import annotations

import copy

import numpy as np

from ..signals import AttackData, as_target


class Attack:
    name = "attack"
    discrete = False  # True when the score takes few values by nature (ties expected)

    def fit(self, data: AttackData) -> "Attack":
        return self

    def score(self, data: AttackData) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name})"


def best_threshold(values: np.ndarray, is_member: np.ndarray) -> float:
    """Threshold t maximising balanced accuracy of (value >= t)."""
    order = np.argsort(-values, kind="stable")
    v, m = values[order], is_member[order].astype(float)
    tpr = np.cumsum(m) / max(m.sum(), 1)
    fpr = np.cumsum(1 - m) / max((1 - m).sum(), 1)
    last = np.r_[v[1:] != v[:-1], True]  # only cut between distinct values
    best = np.argmax(np.where(last, tpr - fpr, -np.inf))
    return float(v[best])


def reference_threshold(attack: Attack, data: AttackData, ref: int = 0) -> float:
    """A decision threshold fixed without the target: reference model ``ref`` plays the target, a copy
    of the attack is fitted on the other references, and the balanced-accuracy-best threshold on its
    scores is kept (the attack itself is left as it was)."""
    pseudo, keep = as_target(data, ref)
    return best_threshold(copy.deepcopy(attack).fit(pseudo).score(pseudo), keep)
