"""Choquette-Choo et al. 2021: the label-only attack (robustness of the predicted label)."""
from __future__ import annotations

from .. import signals as S
from .base import Attack


class LabelOnlyAttack(Attack):
    """Choquette-Choo et al. 2021: robustness of the predicted label under flips, shifts and noise.
    Score = fraction of query views (all saved ones) that the target still classifies correctly."""

    name = "label_only"
    discrete = True

    def score(self, data):
        return S.correct(data.target_logits, data.labels).mean(0)
