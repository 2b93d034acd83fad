"""Attacks on a chain of models trained on the same members: the dense model and its IMP tickets (E8).

CompLeak (USENIX Security 2026) scores a compressed model relative to its original (SR) and combines
several compressed versions (MR). Here the chain is one IMP run: the adversary sees the target's outputs
at every level, and reference models whose own chains went through the same levels.

Both attacks are Gaussian likelihood-ratio tests on logit-scaled confidences (LiRA's signal), with
per-example IN and OUT means from the references and a covariance pooled over examples (LiRA's
fixed-variance form: 8 references cannot give a per-example covariance over 17 levels):

- ``chain_sr``: one number per example, the ticket's confidence minus the dense model's on the same
  example (the dense model as the ticket's reference);
- ``chain_mr``: the vector of confidences at every level of the chain.

Inputs are ``phi`` arrays (R, Q, N, K): R models, Q augmentation views, N pool examples, K features.
"""
from __future__ import annotations

import numpy as np

from .. import signals as S


def chain_features(logits: np.ndarray, labels: np.ndarray, aug_idx: np.ndarray) -> np.ndarray:
    """Logit-scaled confidences of saved logits (M, L, Q, N + P, C) at the augmentation views and the N pool
    examples: (M, Q_aug, N, L), the levels last (as the attacks read features)."""
    n = len(labels)
    phi = S.logit_scaled_confidence(logits[:, :, aug_idx, :n], labels)  # (M, L, Q_aug, N)
    return np.moveaxis(phi, 1, -1)


def sr_features(phi: np.ndarray, level: int) -> np.ndarray:
    """``chain_sr``'s one feature: the level's confidence minus the dense (level 0) model's, (..., N, 1)."""
    return phi[..., level:level + 1] - phi[..., :1]


def mr_features(phi: np.ndarray, level: int) -> np.ndarray:
    """``chain_mr``'s features: the confidences at levels 0..level, (..., N, level + 1)."""
    return phi[..., :level + 1]


class ChainGaussian:
    """Gaussian likelihood ratio over K features per example: per-example IN and OUT mean vectors from the
    reference models (by their keep rows), one IN and one OUT covariance pooled over views and examples.
    An example without an IN (or OUT) reference gets the other side's mean shifted by the median IN - OUT
    difference (as ``LiRA`` fills it); ``fallback_frac_`` is the share that needed it."""

    ridge = 1e-6  # added to the covariance's diagonal (relative to its mean variance): a flat feature stays invertible

    def __init__(self, name: str):
        self.name = name

    def fit(self, phi: np.ndarray, keep: np.ndarray) -> "ChainGaussian":
        """``phi`` (R, Q, N, K) of the reference models, ``keep`` (R, N) their training membership."""
        if phi.shape[0] < 2:
            raise ValueError(f"{self.name} needs at least 2 reference models, got {phi.shape[0]}: raise n_models")
        self.mean_in_, n_in = self._means(phi, keep)
        self.mean_out_, n_out = self._means(phi, ~keep)
        if not ((n_in > 0) & (n_out > 0)).any():
            raise ValueError(f"{self.name}: no example has both IN and OUT reference models; raise n_models")
        both = (n_in > 0) & (n_out > 0)
        shift = np.median(self.mean_in_[:, both] - self.mean_out_[:, both], axis=1, keepdims=True)  # (Q, 1, K)
        self.mean_in_[:, n_in == 0] = (self.mean_out_ + shift)[:, n_in == 0]
        self.mean_out_[:, n_out == 0] = (self.mean_in_ - shift)[:, n_out == 0]
        self.fallback_frac_ = float((~both).mean())
        self.cov_in_ = self._pooled(phi, keep, self.mean_in_)
        self.cov_out_ = self._pooled(phi, ~keep, self.mean_out_)
        return self

    @staticmethod
    def _means(phi: np.ndarray, side: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w = side[:, None, :, None].astype(float)  # (R, 1, N, 1)
        n = side.sum(0)
        return (phi * w).sum(0) / np.maximum(n, 1)[None, :, None], n

    def _pooled(self, phi: np.ndarray, side: np.ndarray, mean: np.ndarray) -> np.ndarray:
        """Covariance (K, K) of the residuals from the per-example means, pooled over views and examples,
        with the degrees of freedom the means used up taken off."""
        resid = (phi - mean[None]) * side[:, None, :, None]
        k = phi.shape[-1]
        flat = resid.reshape(-1, k)
        n_values = side.sum() * phi.shape[1]
        n_means = np.count_nonzero(side.sum(0)) * phi.shape[1]
        cov = flat.T @ flat / max(n_values - n_means, 1)
        return cov + np.eye(k) * self.ridge * max(float(np.trace(cov)) / k, 1e-12)

    @staticmethod
    def _log_density(x: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
        """log N(x; mean, cov) over the last axis, up to the constant both sides share."""
        chol = np.linalg.cholesky(cov)
        diff = (x - mean).reshape(-1, cov.shape[0])
        z = np.linalg.solve(chol, diff.T)  # (K, Q * N)
        return (-0.5 * (z ** 2).sum(0) - np.log(np.diag(chol)).sum()).reshape(x.shape[:-1])

    def score(self, phi: np.ndarray) -> np.ndarray:
        """The target's ``phi`` (Q, N, K) -> (N,) log-likelihood ratio IN vs OUT, mean over views."""
        llr = self._log_density(phi, self.mean_in_, self.cov_in_) - self._log_density(phi, self.mean_out_, self.cov_out_)
        return llr.mean(0)


def chain_scores(phi: np.ndarray, keep: np.ndarray, target: int, levels) -> dict[tuple[str, int], np.ndarray]:
    """Scores of model ``target`` (the other models of ``phi`` (M, Q, N, L) its references, ``keep`` (M, N))
    by ``chain_sr`` and ``chain_mr`` at each of ``levels`` (>= 1): {(attack, level): (N,) scores}."""
    refs = [m for m in range(phi.shape[0]) if m != target]
    out = {}
    for level in levels:
        for name, features in (("chain_sr", sr_features), ("chain_mr", mr_features)):
            attack = ChainGaussian(name).fit(features(phi[refs], level), keep[refs])
            out[name, level] = attack.score(features(phi[target], level))
    return out
