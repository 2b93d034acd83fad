"""Threshold attacks on one signal: loss (Yeom et al. 2018), correctness (the gap attack), and
Song & Mittal's (2021) confidence / entropy / modified entropy with class-wise thresholds.

Each signal is thresholded through a monotone transform that decides exactly as the signal does but
keeps its resolution where the softmax saturates: confidence through log(p_y / (1 - p_y)), entropy
and modified entropy through their logarithms (a difference of a tiny entropy and a class threshold
would round to the threshold, and whole blocks of examples would tie at the top of the scores).
"""
from __future__ import annotations

import numpy as np

from .. import signals as S
from .base import Attack, best_threshold

# the identity-view signals of ``signals.VIEW_SIGNALS`` (confidence, entropy, modified entropy), per model
SIGNALS = tuple(name for name, (views, _) in S.VIEW_SIGNALS.items() if views == "id")


class LossAttack(Attack):
    """Yeom et al. 2018: members have lower loss. Score = -loss on the identity query."""

    name = "loss"

    def score(self, data):
        return -S.loss(data.target_logits[0], data.labels)


class CorrectnessAttack(Attack):
    """The gap attack (label-only): member iff the target classifies the example correctly."""

    name = "correctness"
    discrete = True

    def score(self, data):
        return S.correct(data.target_logits[0], data.labels)


class SignalAttack(Attack):
    """Song & Mittal 2021: confidence / entropy / modified entropy with class-wise thresholds
    fitted on the reference models' IN/OUT outputs. Score = signal - threshold of its class."""

    def __init__(self, metric: str = "modified_entropy"):
        if metric not in SIGNALS:
            raise ValueError(f"signal must be one of {sorted(SIGNALS)}, got {metric!r}")
        self.metric, self.name = metric, metric

    def fit(self, data):
        data.require_refs(1, self.name)
        values = data.ref_signal(self.metric).ravel()  # the identity view of every reference
        members = data.ref_keep.ravel()
        labels = np.tile(data.labels, data.n_refs)
        n_classes = data.target_logits.shape[-1]
        self.thresholds_ = np.full(n_classes, best_threshold(values, members))
        for c in range(n_classes):
            sel = labels == c
            if members[sel].any() and (~members[sel]).any():
                self.thresholds_[c] = best_threshold(values[sel], members[sel])
        return self

    def score(self, data):
        return data.target_signal(self.metric) - self.thresholds_[data.labels]
