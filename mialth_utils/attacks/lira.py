"""LiRA (Carlini et al. 2022): per-example Gaussians of the logit-scaled confidence from reference models."""
from __future__ import annotations

import numpy as np
from scipy.stats import norm

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
        phi = data.ref_signal("phi")  # (R, Q, N): over the augmentation views
        self.mean_out_, self.std_out_ = self._stats(phi, ~data.ref_keep, self.fixed_variance)
        if self.online:
            self.mean_in_, self.std_in_ = self._stats(phi, data.ref_keep, self.fixed_variance)
        self.fallback_frac_ = self._fill_sparse(data.ref_keep)
        return self

    def _fill_sparse(self, keep: np.ndarray) -> float:
        """With exchangeable keep rows an example may have fewer than 2 IN (or OUT) references. Its
        missing variance is the median per-example variance of that side; a missing mean (no reference
        on that side) is the other side's mean shifted by the median IN - OUT difference. Returns the
        share of examples that needed it (0 with LiRA's balanced columns)."""
        sides = [(~keep).sum(0)] + ([keep.sum(0)] if self.online else [])
        sparse = np.zeros(keep.shape[1], bool)
        for n in sides:
            sparse |= n < 2
        if not sparse.any():
            return 0.0
        n_out = sides[0]
        if not self.online:
            if (n_out == 0).all():
                raise ValueError(f"{self.name}: no example has an OUT reference model; raise n_models")
            self._fill(self.mean_out_, self.std_out_, n_out, None, 0.0)
            return float(sparse.mean())
        n_in = sides[1]
        both = (n_in >= 1) & (n_out >= 1)
        if not both.any():
            raise ValueError(f"{self.name}: no example has both IN and OUT reference models; raise n_models")
        shift = np.median(self.mean_in_[:, both] - self.mean_out_[:, both], axis=1, keepdims=True)  # (Q, 1)
        self._fill(self.mean_out_, self.std_out_, n_out, self.mean_in_, -shift)
        self._fill(self.mean_in_, self.std_in_, n_in, self.mean_out_, shift)
        return float(sparse.mean())

    def _fill(self, mean, std, n, other_mean, shift) -> None:
        if not self.fixed_variance:
            std[:, n < 2] = np.median(std[:, n >= 2], axis=1, keepdims=True)
        if other_mean is not None:
            mean[:, n == 0] = (other_mean + shift)[:, n == 0]
        elif (n == 0).any():
            mean[:, n == 0] = np.median(mean[:, n > 0], axis=1, keepdims=True)

    def score(self, data):
        phi = data.target_signal("phi")  # (Q, N)
        if self.online:
            llr = norm.logpdf(phi, self.mean_in_, self.std_in_) - norm.logpdf(phi, self.mean_out_, self.std_out_)
            return llr.mean(0)
        return -norm.logsf(phi, self.mean_out_, self.std_out_).mean(0)
