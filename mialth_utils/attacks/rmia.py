"""RMIA (Zarifzadeh et al. 2024), offline: likelihood ratios against population data."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from .. import signals as S
from .base import Attack


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
