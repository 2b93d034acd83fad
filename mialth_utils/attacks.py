"""Membership inference attacks as small classes over saved arrays.

Every attack has ``fit(data) -> self`` (uses only reference models, their keep rows, labels and
population data) and ``score(data) -> (N,)`` (the target's logits; higher = more likely member).
Fitted state (thresholds, classifiers, per-example Gaussians) can be applied to another target:
``attack.fit(data_a).score(data_b)`` is the transfer setting (claim C5).
"""
from __future__ import annotations

import numpy as np
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from . import signals as S
from .signals import AttackData


class Attack:
    name = "attack"

    def fit(self, data: AttackData) -> "Attack":
        return self

    def score(self, data: AttackData) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name})"


class LossAttack(Attack):
    """Yeom et al. 2018: members have lower loss. Score = -loss on the identity query."""

    name = "loss"

    def score(self, data):
        return -S.loss(data.target_logits[0], data.labels)


class CorrectnessAttack(Attack):
    """The gap attack (label-only): member iff the target classifies the example correctly."""

    name = "correctness"

    def score(self, data):
        return S.correct(data.target_logits[0], data.labels)


METRICS = {"confidence": lambda lg, y: S.true_class_prob(lg, y),
           "entropy": lambda lg, y: -S.entropy(lg),
           "modified_entropy": lambda lg, y: -S.modified_entropy(lg, y)}


def _best_threshold(values: np.ndarray, is_member: np.ndarray) -> float:
    """Threshold t maximising balanced accuracy of (value >= t)."""
    order = np.argsort(-values, kind="stable")
    v, m = values[order], is_member[order].astype(float)
    tpr = np.cumsum(m) / max(m.sum(), 1)
    fpr = np.cumsum(1 - m) / max((1 - m).sum(), 1)
    last = np.r_[v[1:] != v[:-1], True]  # only cut between distinct values
    best = np.argmax(np.where(last, tpr - fpr, -np.inf))
    return float(v[best])


class MetricAttack(Attack):
    """Song & Mittal 2021: confidence / entropy / modified entropy with class-wise thresholds
    fitted on the reference models' IN/OUT outputs. Score = signal - threshold of its class."""

    def __init__(self, metric: str = "modified_entropy"):
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {sorted(METRICS)}, got {metric!r}")
        self.metric, self.name = metric, metric

    def fit(self, data):
        data.require_refs(1, self.name)
        values = np.stack([METRICS[self.metric](lg[0], data.labels) for lg in data.ref_logits]).ravel()
        members = data.ref_keep.ravel()
        labels = np.tile(data.labels, data.n_refs)
        n_classes = data.target_logits.shape[-1]
        self.thresholds_ = np.full(n_classes, _best_threshold(values, members))
        for c in range(n_classes):
            sel = labels == c
            if members[sel].any() and (~members[sel]).any():
                self.thresholds_[c] = _best_threshold(values[sel], members[sel])
        return self

    def score(self, data):
        return METRICS[self.metric](data.target_logits[0], data.labels) - self.thresholds_[data.labels]


class LabelOnlyAttack(Attack):
    """Choquette-Choo et al. 2021: robustness of the predicted label under flips, shifts and noise.
    Score = fraction of query views (all saved ones) that the target still classifies correctly."""

    name = "label_only"

    def score(self, data):
        return S.correct(data.target_logits, data.labels).mean(0)


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
        if fixed:
            std = np.full_like(std, np.sqrt(np.sum((phi - mean) ** 2 * w) / max(w.sum() - 1, 1)))
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


class RMIA(Attack):
    """Zarifzadeh et al. 2024, offline. Pr(x) = ((1+a) mean_OUT p(x) + (1-a)) / 2 from reference models;
    score(x) = share of population z with [p(x|t)/Pr(x)] / [p(z|t)/Pr(z)] > gamma. ``a`` is fitted on
    a reference model playing the target. A 1e-6 tie-breaker by the ratio itself keeps low-FPR resolution."""

    name = "rmia"

    def __init__(self, gamma: float = 1.0, a: float | None = None, a_grid=tuple(np.linspace(0, 1, 11))):
        self.gamma, self.a, self.a_grid = gamma, a, a_grid

    @staticmethod
    def _p(logits, labels, aug):
        return S.true_class_prob(logits[..., aug, :, :], labels).mean(-2)

    def _fit_out(self, data):
        aug = data.aug_idx
        p_ref = self._p(data.ref_logits, data.labels, aug)  # (R, N)
        out = np.where(~data.ref_keep, p_ref, np.nan)
        self.p_out_ = np.nan_to_num(np.nanmean(out, 0), nan=np.nanmean(out))
        self.p_out_pop_ = self._p(data.ref_population_logits, data.population_labels, aug).mean(0)

    def fit(self, data):
        data.require_refs(3 if self.a is None else 2, self.name)  # fitting a sets one reference aside
        if self.a is None:
            pseudo, keep = S.as_target(data, 0)
            aucs = [roc_auc_score(keep, RMIA(self.gamma, a).fit(pseudo).score(pseudo)) for a in self.a_grid]
            self.a_ = float(self.a_grid[int(np.argmax(aucs))])
        else:
            self.a_ = float(self.a)
        self._fit_out(data)
        return self

    def score(self, data):
        aug, a = data.aug_idx, self.a_
        ratio_x = self._p(data.target_logits, data.labels, aug) / (0.5 * ((1 + a) * self.p_out_ + (1 - a)))
        ratio_z = self._p(data.target_population_logits, data.population_labels, aug) / (
            0.5 * ((1 + a) * self.p_out_pop_ + (1 - a)))
        ratio_z = np.sort(ratio_z)
        share = np.searchsorted(ratio_z, ratio_x / self.gamma, side="left") / len(ratio_z)
        return share + 1e-6 * np.tanh(np.log(ratio_x))


def default_attacks(fast: bool = False) -> list[Attack]:
    """Every attack of the kit, with its default settings (``fast``: fewer SAMIA epochs, for smoke runs)."""
    from .classifier_attacks import MLLeaks, SAMIA, Shokri

    return [LossAttack(), CorrectnessAttack(), MetricAttack("confidence"), MetricAttack("entropy"),
            MetricAttack("modified_entropy"), Shokri(), MLLeaks(), LiRA(online=True), LiRA(online=False),
            LiRA(online=False, fixed_variance=True), RMIA(), LabelOnlyAttack(), SAMIA(epochs=5 if fast else 20)]


def get_attack(name: str) -> Attack:
    """One attack of ``default_attacks`` by its name (e.g. ``lira_offline``)."""
    for attack in default_attacks():
        if attack.name == name:
            return attack
    raise ValueError(f"unknown attack {name!r}: choose one of {', '.join(a.name for a in default_attacks())}")
