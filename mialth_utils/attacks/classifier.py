"""Attacks that learn a classifier on reference (shadow) models' outputs: Shokri et al. 2017, ML-Leaks.

Features are exact log-probabilities (float64 log-softmax), a monotone view of the posteriors that,
unlike the posteriors themselves, does not collapse to (1, 0, ..., 0) on memorised examples.
``shokri`` fits gradient-boosted trees (sklearn ``HistGradientBoostingClassifier``) on the shadow
outputs: one model over every class, the label a categorical feature. ``shokri_mlp`` is the paper's
attack model, one MLP per class, on the same outputs. Measured on a quick-profile model set (dense
level, 3 targets, README Speed): AUC 0.668 boosted vs 0.615 MLP, in a ninth of the time, so the
boosted one is the default classifier attack.
"""
from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.neural_network import MLPClassifier

from .. import signals as S
from .base import Attack


def subsample(n: int, cap: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).permutation(n)[:cap] if n > cap else np.arange(n)


class ShokriMLP(Attack):
    """Shokri et al. 2017: k shadow models, one attack classifier per class on the full posterior
    vector (as log-probabilities), trained on the shadows' IN/OUT outputs (sklearn MLPClassifier)."""

    name = "shokri_mlp"

    def __init__(self, n_shadows: int | None = None, max_rows: int = 4000, seed: int = 0):
        self.n_shadows, self.max_rows, self.seed = n_shadows, max_rows, seed

    def fit(self, data):
        data.require_refs(1, self.name)
        k = min(self.n_shadows or data.n_refs, data.n_refs)
        x = S.log_probs(data.ref_logits[:k, 0]).reshape(-1, data.ref_logits.shape[-1])
        y = data.ref_keep[:k].ravel()
        labels = np.tile(data.labels, k)
        self.models_ = {}
        for c in np.unique(labels):
            rows = np.flatnonzero(labels == c)
            rows = rows[subsample(len(rows), self.max_rows, self.seed + int(c))]
            if len(np.unique(y[rows])) < 2:
                continue
            clf = MLPClassifier((64,), max_iter=300, early_stopping=True, random_state=self.seed)
            self.models_[int(c)] = clf.fit(x[rows], y[rows])
        return self

    def score(self, data):
        x = S.log_probs(data.target_logits[0])
        out = np.full(len(data.labels), 0.5)
        for c, clf in self.models_.items():
            sel = data.labels == c
            if sel.any():
                out[sel] = clf.predict_proba(x[sel])[:, 1]
        return out


class Shokri(Attack):
    """Shokri et al.'s shadow-model attack with gradient-boosted trees as the attack model: the shadows'
    log-probabilities, the label's own log-probability and the label (categorical), IN/OUT rows of
    every class in one ``HistGradientBoostingClassifier`` with early stopping on a held-out tenth."""

    name = "shokri"

    def __init__(self, n_shadows: int | None = None, max_rows: int = 20000, seed: int = 0, max_iter: int = 200):
        self.n_shadows, self.max_rows, self.seed, self.max_iter = n_shadows, max_rows, seed, max_iter

    @staticmethod
    def _features(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
        logp = S.log_probs(logits)
        own = np.take_along_axis(logp, np.broadcast_to(labels[:, None], logp.shape[:-1] + (1,)), -1)
        label = np.broadcast_to(labels[:, None].astype(np.float64), own.shape)
        return np.concatenate([logp, own, label], -1)

    def fit(self, data):
        data.require_refs(1, self.name)
        k = min(self.n_shadows or data.n_refs, data.n_refs)
        n_classes = data.ref_logits.shape[-1]
        x = self._features(data.ref_logits[:k, 0], data.labels).reshape(-1, n_classes + 2)
        y = data.ref_keep[:k].ravel()
        rows = subsample(len(y), self.max_rows, self.seed)
        categorical = np.zeros(n_classes + 2, bool)
        categorical[-1] = True
        self.clf_ = HistGradientBoostingClassifier(max_iter=self.max_iter, early_stopping=True, validation_fraction=0.1,
                                                   categorical_features=categorical, random_state=self.seed)
        self.clf_.fit(x[rows], y[rows])
        return self

    def score(self, data):
        return self.clf_.predict_proba(self._features(data.target_logits[0], data.labels))[:, 1]


class MLLeaks(Attack):
    """Salem et al. 2019 (adversary 1): one shadow model, one classifier on the sorted top-3 posteriors
    (as log-probabilities)."""

    name = "ml_leaks"

    def __init__(self, shadow: int = 0, seed: int = 0):
        self.shadow, self.seed = shadow, seed

    @staticmethod
    def _features(logits):
        return np.sort(S.log_probs(logits), axis=-1)[..., ::-1][..., :3]

    def fit(self, data):
        data.require_refs(1, self.name)
        x, y = self._features(data.ref_logits[self.shadow, 0]), data.ref_keep[self.shadow]
        self.clf_ = MLPClassifier((64,), max_iter=300, early_stopping=True, random_state=self.seed).fit(x, y)
        return self

    def score(self, data):
        return self.clf_.predict_proba(self._features(data.target_logits[0]))[:, 1]
