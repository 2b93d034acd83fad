"""RMIA (Zarifzadeh et al. 2024), offline: likelihood ratios against population data."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from .base import Attack


def _out_means(p_ref, keep, p_pop):
    """Mean OUT probability per pool example (examples no reference left out get the overall OUT mean)
    and the mean population probability over references."""
    n_out = (~keep).sum(0)
    sums = np.where(~keep, p_ref, 0.0).sum(0)
    overall = sums.sum() / max(n_out.sum(), 1)
    return np.where(n_out > 0, sums / np.maximum(n_out, 1), overall), p_pop.mean(0)


def _score(p_x, p_z, p_out, p_out_pop, a, gamma):
    ratio_x = p_x / (0.5 * ((1 + a) * p_out + (1 - a)))
    ratio_z = np.sort(p_z / (0.5 * ((1 + a) * p_out_pop + (1 - a))))
    share = np.searchsorted(ratio_z, ratio_x / gamma, side="left") / len(ratio_z)
    return share + 1e-6 * np.tanh(np.log(ratio_x))


class RMIA(Attack):
    """Zarifzadeh et al. 2024, offline. Pr(x) = ((1+a) mean_OUT p(x) + (1-a)) / 2 from reference models;
    score(x) = share of population z with [p(x|t)/Pr(x)] / [p(z|t)/Pr(z)] > gamma. ``a`` is fitted on
    a reference model playing the target (reference 0; the others are its references). A 1e-6
    tie-breaker by the ratio itself keeps low-FPR resolution. The references' probabilities are
    computed once per fit and shared by every ``a`` tried."""

    name = "rmia"

    def __init__(self, gamma: float = 1.0, a: float | None = None, a_grid=tuple(np.linspace(0, 1, 11))):
        self.gamma, self.a, self.a_grid = gamma, a, a_grid

    def fit(self, data):
        data.require_refs(3 if self.a is None else 2, self.name)  # fitting a sets one reference aside
        p_ref = data.ref_signal("p_mean")  # (R, N): p(y|x) averaged over the augmentation views
        p_pop = data.ref_signal("p_mean", population=True)  # (R, P)
        if self.a is None:  # reference 0 plays the target, the others are its references
            pseudo_out = _out_means(p_ref[1:], data.ref_keep[1:], p_pop[1:])
            aucs = [roc_auc_score(data.ref_keep[0], _score(p_ref[0], p_pop[0], *pseudo_out, a, self.gamma))
                    for a in self.a_grid]
            self.a_ = float(self.a_grid[int(np.argmax(aucs))])
        else:
            self.a_ = float(self.a)
        self.p_out_, self.p_out_pop_ = _out_means(p_ref, data.ref_keep, p_pop)
        return self

    def score(self, data):
        return _score(data.target_signal("p_mean"), data.target_signal("p_mean", population=True),
                      self.p_out_, self.p_out_pop_, self.a_, self.gamma)
