"""Few-reference likelihood-ratio attacks of 2025-2026: BASE and BaVarIA.

BASE (Lassila et al., NeurIPS 2025): the Bayes-optimal membership score approximated with reference
models, score(x) = log p(y|x, target)^(1/T) - log mean_r p(y|x, ref_r)^(1/T). Over every reference (trained
on random halves, so the mean is the marginal over membership) it is ``base_online``; over the OUT
references only, ``base_offline``, which at T = 1 ranks examples exactly as RMIA's ratio at a = 1 does
(the equivalence Brännvall 2026 states). The temperature T is fitted like RMIA's ``a``: on a reference
model playing the target, never on the target's labels.

BaVarIA (Brännvall, arXiv 2603.11799): LiRA's per-example Gaussians of the logit-scaled confidence with the
unknown mean and variance given a conjugate normal-inverse-gamma prior, so few references give a
Student-t predictive instead of a noisy sample variance. The prior is set by empirical Bayes from the
references themselves (method of moments over the examples' sample variances; a weak prior on the mean):
this is the kit's choice, the paper's exact hyper-prior is not reproduced. ``online``: log t_IN - log
t_OUT; ``offline``: -log P(phi' > phi | OUT), as LiRA offline.
"""
from __future__ import annotations

import numpy as np
from scipy.special import logsumexp
from scipy.stats import t as student_t
from sklearn.metrics import roc_auc_score

from .base import Attack


def _log_mean_exp(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """log of the weighted mean of exp(values) over axis 0 (weights 0/1 per row and column)."""
    n = weights.sum(0)
    with np.errstate(divide="ignore"):
        return logsumexp(values, axis=0, b=weights) - np.log(np.maximum(n, 1))


class BASE(Attack):
    """Lassila et al. 2025. log p_t(x)/T - log mean_r exp(log p_r(x)/T), with p(y|x) averaged over the
    augmentation views first (a mean of per-view log ratios is swamped by the views a model gets badly
    wrong); references: every one (``online``) or the OUT ones (``offline``). Examples no
    reference left out (offline) use every reference. ``temperature`` None: chosen from ``t_grid`` by
    AUC with reference 0 as the target and the others as its references."""

    def __init__(self, online: bool = True, temperature: float | None = None, t_grid=(0.5, 1.0, 2.0, 4.0)):
        self.online, self.temperature, self.t_grid = online, temperature, t_grid
        self.name = f"base_{'online' if online else 'offline'}"

    def _weights(self, keep: np.ndarray) -> np.ndarray:
        if self.online:
            return np.ones(keep.shape, float)
        out = (~keep).astype(float)
        return np.where(out.sum(0) > 0, out, 1.0)

    def _denominator(self, logp_refs: np.ndarray, keep: np.ndarray, temperature: float) -> np.ndarray:
        return _log_mean_exp(logp_refs / temperature, self._weights(keep))

    def fit(self, data):
        data.require_refs(2 if self.temperature is not None else 3, self.name)
        logp_refs = np.log(data.ref_signal("p_mean"))  # (R, N), once: every temperature only rescales it
        if self.temperature is None:  # reference 0 plays the target, the others are its references
            keep, others = data.ref_keep[0], data.ref_keep[1:]
            aucs = [roc_auc_score(keep, logp_refs[0] / t - self._denominator(logp_refs[1:], others, t))
                    for t in self.t_grid]
            self.temperature_ = float(self.t_grid[int(np.argmax(aucs))])
        else:
            self.temperature_ = float(self.temperature)
        self.denominator_ = self._denominator(logp_refs, data.ref_keep, self.temperature_)
        return self

    def score(self, data):
        return np.log(data.target_signal("p_mean")) / self.temperature_ - self.denominator_


def nig_posterior(x: np.ndarray, w: np.ndarray, prior: tuple[float, float, float, float]):
    """Normal-inverse-gamma posterior of each column's Gaussian from the rows of ``x`` with weight 1 in ``w``
    (axis 0: observations). prior = (mu0, kappa0, alpha0, beta0); returns (mu_n, kappa_n, alpha_n, beta_n)."""
    mu0, kappa0, alpha0, beta0 = prior
    n = w.sum(0)
    mean = (x * w).sum(0) / np.maximum(n, 1)
    ss = ((x - mean) ** 2 * w).sum(0)
    kappa = kappa0 + n
    mu = (kappa0 * mu0 + n * mean) / kappa
    alpha = alpha0 + n / 2
    beta = beta0 + ss / 2 + kappa0 * n * (mean - mu0) ** 2 / (2 * kappa)
    return mu, kappa, alpha, beta


def predictive(post) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The posterior predictive Student-t of one new observation: (degrees of freedom, location, scale)."""
    mu, kappa, alpha, beta = post
    return 2 * alpha, mu, np.sqrt(beta * (kappa + 1) / (alpha * kappa))


def empirical_prior(x: np.ndarray, w: np.ndarray, kappa0: float = 0.01) -> tuple[float, float, float, float]:
    """A normal-inverse-gamma prior from the data of every column: mu0 the mean of the column means,
    (alpha0, beta0) the inverse-gamma matching the mean and variance of the columns' sample variances
    (columns with >= 2 observations), ``kappa0`` a weak weight on mu0 (in observations)."""
    n = w.sum(0)
    mean = (x * w).sum(0) / np.maximum(n, 1)
    rich = n >= 2
    if not rich.any():
        raise ValueError("bavaria: no example has 2 reference models on one side; raise n_models")
    var = ((x - mean) ** 2 * w).sum(0)[rich] / (n[rich] - 1)
    m, v = float(np.mean(var)), float(np.var(var))
    alpha0 = min(2.0 + m * m / max(v, 1e-12), 1e3)
    return float(np.mean(mean[n > 0])), kappa0, alpha0, max(m, 1e-6) * (alpha0 - 1)


class BaVarIA(Attack):
    """Brännvall 2026, the Student-t form. phi = LiRA's logit-scaled confidence per view; per example
    and view a normal-inverse-gamma posterior of the IN and OUT Gaussians (prior: ``empirical_prior`` of
    each side over all examples); the score is the mean over views of log t_IN(phi) - log t_OUT(phi)
    (``online``) or -log P(phi' > phi | OUT) (``offline``). An example with no reference on a side keeps
    that side's prior predictive."""

    def __init__(self, online: bool = True, kappa0: float = 0.01):
        self.online, self.kappa0 = online, kappa0
        self.name = f"bavaria_{'online' if online else 'offline'}"

    def fit(self, data):
        data.require_refs(2, self.name)
        phi = data.ref_signal("phi")  # (R, Q, N): LiRA's logit-scaled confidence of the augmentation views
        sides = {"out": ~data.ref_keep} | ({"in": data.ref_keep} if self.online else {})
        self.predictive_ = {}
        for side, mask in sides.items():
            w = np.broadcast_to(mask[:, None, :], phi.shape).astype(float)
            prior = empirical_prior(phi, w, self.kappa0)
            self.predictive_[side] = predictive(nig_posterior(phi, w, prior))
        return self

    def score(self, data):
        phi = data.target_signal("phi")  # (Q, N)
        df, loc, scale = self.predictive_["out"]
        if not self.online:
            return -student_t.logsf(phi, df, loc, scale).mean(0)
        df_in, loc_in, scale_in = self.predictive_["in"]
        return (student_t.logpdf(phi, df_in, loc_in, scale_in) - student_t.logpdf(phi, df, loc, scale)).mean(0)
