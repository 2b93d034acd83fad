"""LiRA (Carlini et al. 2022): per-example Gaussians of the logit-scaled confidence from reference models."""
from __future__ import annotations

import numpy as np
from scipy.stats import norm

from .. import signals as S
from .base import Attack


class LiRA(Attack):
    """Carlini et al. 2022. phi = logit-scaled confidence per query view; per-example Gaussians from
    reference models. ``online``: log N(phi; IN) - log N(phi; OUT); ``offline``: one-sided test
    against OUT, score = -log P(phi' > phi | OUT). Scores are averaged over augmentation views."""

    def __init__(self, online: bool = True, fixed_variance: bool = False):
        self.online, self.fixed_variance = online, fixed_variance
        self.name = f"lira_{'online' if online else 'offline'}{'_fixvar' if fixed_variance else ''}"

    @staticmethod
    def _stats(phi: np.ndarray, mask: np.ndarray, fixed: bool):
        """phi (R, Q, N), mask (R, N) -> mean, std of shape (Q, N)."""
        w = mask[:, None, :].astype(float)
        n = w.sum(0)
        mean = (phi * w).sum(0) / np.maximum(n, 1)
        var = ((phi - mean) ** 2 * w).sum(0) / np.maximum(n - 1, 1)
        std = np.sqrt(var)
        if fixed:  # one variance pooled over references, examples and views: n_q * n IN/OUT values, n_q * N means
            n_values, n_means = w.sum() * phi.shape[1], np.count_nonzero(n) * phi.shape[1]
            pooled = np.sum((phi - mean) ** 2 * w) / max(n_values - n_means, 1)
            std = np.full_like(std, np.sqrt(pooled))
        return mean, np.maximum(std, 1e-3)

    def fit(self, data):
        data.require_refs(2 if not self.online else 4, self.name)
        aug = data.aug_idx
        phi = S.logit_scaled_confidence(data.ref_logits[:, aug], data.labels)  # (R, Q, N)
        counts_out = (~data.ref_keep).sum(0)
        counts_in = data.ref_keep.sum(0)
        need = 1 if self.fixed_variance else 2
        if counts_out.min() < need or (self.online and counts_in.min() < need):
            raise ValueError(f"{self.name}: some examples have fewer than {need} IN/OUT reference models; "
                             "raise n_models or use fixed_variance=True")
        self.mean_out_, self.std_out_ = self._stats(phi, ~data.ref_keep, self.fixed_variance)
        if self.online:
            self.mean_in_, self.std_in_ = self._stats(phi, data.ref_keep, self.fixed_variance)
        return self

    def score(self, data):
        phi = S.logit_scaled_confidence(data.target_logits[data.aug_idx], data.labels)  # (Q, N)
        if self.online:
            llr = norm.logpdf(phi, self.mean_in_, self.std_in_) - norm.logpdf(phi, self.mean_out_, self.std_out_)
            return llr.mean(0)
        return -norm.logsf(phi, self.mean_out_, self.std_out_).mean(0)
