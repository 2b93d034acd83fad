"""CM-MIA (Jin, Lou & Gao 2023), as far as the paper is public; its design follows GMIA (Long et al. 2020).

1. Shadow (reference) models built with a *mixture* of compression methods (``mixed_attack_data``).
2. Each pool example gets a feature vector: the shadows' posteriors, concatenated. An example is
   *abnormal* when fewer than ``min_neighbours`` examples of a reference pool (the never-trained
   population set) lie within a distance threshold, the ``distance_percentile`` of all distances.
3. Only abnormal examples are tested: a left-tailed test of the target's loss against the losses
   of the shadows that did not train on the example (empirical CDF, or a Gaussian). Member when
   p < ``alpha``. Score = 1 - p for tested examples, -1 for untested ones (never called members).
"""
from __future__ import annotations

import time

import numpy as np
from scipy.spatial.distance import cdist
from scipy.stats import norm

from . import signals as S
from .attacks import Attack
from .signals import AttackData, build_attack_data


class CMMIA(Attack):
    def __init__(self, metric: str = "cosine", distance_percentile: float = 1.0, min_neighbours: int = 5,
                 alpha: float = 0.01, test: str = "empirical", test_all: bool = False):
        if test not in ("empirical", "gaussian"):
            raise ValueError(f"test must be 'empirical' or 'gaussian', got {test!r}")
        if metric not in ("cosine", "euclidean"):
            raise ValueError(f"metric must be 'cosine' or 'euclidean', got {metric!r}")
        self.metric, self.distance_percentile, self.min_neighbours = metric, distance_percentile, min_neighbours
        self.alpha, self.test, self.test_all = alpha, test, test_all
        self.name = "cm_mia" + ("_all" if test_all else "") + ("_gauss" if test == "gaussian" else "")

    @staticmethod
    def features(ref_logits: np.ndarray) -> np.ndarray:
        """(R, N, C) identity-view logits of the shadows -> (N, R*C) concatenated posteriors."""
        p = S.probs(ref_logits)
        return np.transpose(p, (1, 0, 2)).reshape(p.shape[1], -1)

    def abnormal(self, pool_features: np.ndarray, reference_features: np.ndarray) -> np.ndarray:
        dist = cdist(pool_features, reference_features, metric=self.metric)
        self.threshold_ = float(np.percentile(dist, self.distance_percentile))
        self.neighbours_ = (dist <= self.threshold_).sum(1)
        return self.neighbours_ < self.min_neighbours

    def fit(self, data: AttackData) -> "CMMIA":
        data.require_refs(2, self.name)
        feats = self.features(data.ref_logits[:, 0])
        ref_feats = self.features(data.ref_population_logits[:, 0])
        self.tested_ = np.ones(len(data.labels), bool) if self.test_all else self.abnormal(feats, ref_feats)
        losses = S.loss(data.ref_logits[:, 0], data.labels)  # (R, N)
        self.out_losses_ = np.where(~data.ref_keep, losses, np.nan)
        if (~data.ref_keep).sum(0).min() < 1:
            raise ValueError(f"{self.name}: some examples have no shadow model that did not train on them; "
                             "raise n_models")
        return self

    def p_values(self, target_loss: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """Left-tailed p-values of the target's losses on examples ``idx`` against their OUT-shadow losses."""
        out = self.out_losses_[:, idx]
        if self.test == "empirical":
            n_out = np.sum(~np.isnan(out), 0)
            below = np.nansum(out <= target_loss[None], 0)
            return (1 + below) / (1 + n_out)
        mean, std = np.nanmean(out, 0), np.maximum(np.nanstd(out, 0, ddof=1), 1e-6)
        return norm.cdf(target_loss, mean, np.nan_to_num(std, nan=1e-6))

    def score(self, data: AttackData) -> np.ndarray:
        start = time.perf_counter()
        target_loss = S.loss(data.target_logits[0], data.labels)
        scores = np.full(len(target_loss), -1.0)
        idx = np.flatnonzero(self.tested_)
        p = self.p_values(target_loss[idx], idx)
        self.p_ = np.full(len(target_loss), np.nan)
        self.p_[idx] = p
        scores[idx] = 1 - p
        self.predicted_member_ = self.tested_ & (np.nan_to_num(self.p_, nan=1.0) < self.alpha)
        self.test_seconds_ = time.perf_counter() - start
        return scores


def mixed_attack_data(target_pop, ref_pops: list, target: int = 0) -> AttackData:
    """Target from ``target_pop``; reference model r taken from ``ref_pops[r % len(ref_pops)]`` (a
    mixture of compression methods, or one population for the matched / mismatched settings)."""
    refs = [m for m in range(target_pop.spec.n_models) if m != target]
    ref_logits = np.stack([ref_pops[i % len(ref_pops)].logits(m) for i, m in enumerate(refs)])
    return build_attack_data(target_pop, target_pop.logits(target), ref_logits, refs)
