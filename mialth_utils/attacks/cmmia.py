"""CM-MIA (Jin, Lou & Gao 2023), as far as the paper is public; its design follows GMIA (Long et al. 2020).

1. Shadow (reference) models built with a *mixture* of compression methods (``mixed_attack_data``).
2. Each pool example gets a feature vector: the shadows' posteriors, concatenated. An example is
   *abnormal* when fewer than ``min_neighbours`` examples of a reference pool (the never-trained
   population set) lie within a distance threshold, the ``distance_percentile`` of all distances.
3. Only abnormal examples are tested: a left-tailed test of the target's loss against the losses
   of the shadows that did not train on the example (empirical CDF, or a Gaussian). Member when
   p < ``alpha``. Score = 1 - p for tested examples, -1 for untested ones (never called members).

The empirical p-value cannot fall below 1 / (1 + n_OUT): with fewer than 1/alpha - 1 OUT shadows no
example could ever pass alpha, so ``test="auto"`` (the default) uses the empirical test only when
there are enough shadows and the Gaussian one otherwise; ``test_used_`` records which ran.
``cost_seconds_`` times everything the attack does for one target (features, neighbour search,
tests), for the cost comparison against testing every example (``test_all=True``).
"""
from __future__ import annotations

import time

import numpy as np
from scipy.spatial.distance import cdist
from scipy.stats import norm

from .. import signals as S
from ..signals import AttackData, build_attack_data
from .base import Attack


class CMMIA(Attack):
    def __init__(self, metric: str = "cosine", distance_percentile: float = 1.0, min_neighbours: int = 5,
                 alpha: float = 0.01, test: str = "auto", test_all: bool = False):
        if test not in ("auto", "empirical", "gaussian"):
            raise ValueError(f"test must be 'auto', 'empirical' or 'gaussian', got {test!r}")
        if metric not in ("cosine", "euclidean"):
            raise ValueError(f"metric must be 'cosine' or 'euclidean', got {metric!r}")
        self.metric, self.distance_percentile, self.min_neighbours = metric, distance_percentile, min_neighbours
        self.alpha, self.test, self.test_all = alpha, test, test_all
        self.name = "cm_mia" + ("_all" if test_all else "") + {"auto": "", "gaussian": "_gauss", "empirical": "_empirical"}[test]

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
        start = time.perf_counter()
        feats = self.features(data.ref_logits[:, 0])
        ref_feats = self.features(data.ref_population_logits[:, 0])
        self.tested_ = np.ones(len(data.labels), bool) if self.test_all else self.abnormal(feats, ref_feats)
        losses = S.loss(data.ref_logits[:, 0], data.labels)  # (R, N)
        self.out_losses_ = np.where(~data.ref_keep, losses, np.nan)
        n_out = (~data.ref_keep).sum(0)
        if n_out.max() < 1:
            raise ValueError(f"{self.name}: no example has a shadow model that did not train on it; raise n_models")
        # With exchangeable keep rows a few examples have no OUT shadow: they cannot be tested (p = 1,
        # never declared members); ``untestable_`` counts them.
        self.untestable_ = int((n_out == 0).sum())
        enough = np.median(n_out) + 1 >= 1 / self.alpha
        self.test_used_ = self.test if self.test != "auto" else ("empirical" if enough else "gaussian")
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def p_values(self, target_loss: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """Left-tailed p-values of the target's losses on examples ``idx`` against their OUT-shadow losses."""
        out = self.out_losses_[:, idx]
        if self.test_used_ == "empirical":
            n_out = np.sum(~np.isnan(out), 0)
            below = np.nansum(out <= target_loss[None], 0)
            return (1 + below) / (1 + n_out)
        n_out = np.sum(~np.isnan(out), 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.nansum(np.nan_to_num(out), 0) / np.maximum(n_out, 1)
            std = np.sqrt(np.nansum((np.nan_to_num(out) - mean) ** 2 * ~np.isnan(out), 0) / np.maximum(n_out - 1, 1))
        # one OUT shadow gives no spread: such an example takes the median spread of the others (as LiRA does)
        std = np.where(n_out >= 2, std, np.median(std[n_out >= 2]) if (n_out >= 2).any() else 1.0)
        p = norm.cdf(target_loss, mean, np.maximum(std, 1e-6))
        return np.where(n_out == 0, 1.0, p)  # no OUT shadow: untestable, never a member

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
        self.cost_seconds_ = self.fit_seconds_ + time.perf_counter() - start
        return scores


def mixed_attack_data(target_outputs, ref_outputs: list, target: int = 0) -> AttackData:
    """Target from ``target_outputs``; reference model r from ``ref_outputs[r % len(ref_outputs)]`` (a
    mixture of compression methods, or one model set for the matched / mismatched settings)."""
    game = target_outputs.game
    refs = [m for m in range(game.keep.shape[0]) if m != target]
    ref_logits = np.stack([ref_outputs[i % len(ref_outputs)].logits(m) for i, m in enumerate(refs)])
    return build_attack_data(game, target_outputs.logits(target), ref_logits, refs)
