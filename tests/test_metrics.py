import numpy as np
import pytest

from mialth_utils.evaluation import metrics as MT


def test_hand_computed_small_example():
    # members score 4, 3, 1; non-members 2, 0, -1 -> one inversion of 9 pairs: AUC = 8/9
    scores = np.array([4, 3, 1, 2, 0, -1], float)
    member = np.array([1, 1, 1, 0, 0, 0], bool)
    out = MT.evaluate(scores, member, n_boot=0)
    assert out["n_in"] == 3 and out["n_out"] == 3
    assert out["auc"] == pytest.approx(8 / 9)
    assert out["tpr@0%fpr"] == pytest.approx(2 / 3)  # threshold 3: two members, no non-member
    assert out["balanced_acc"] == pytest.approx((2 / 3 + 1) / 2)  # threshold 3: TPR 2/3, FPR 0
    assert out["advantage"] == pytest.approx(2 / 3)
    assert out["tpr@10%fpr_resolvable"] is False and out["tpr@0%fpr_resolvable"] is True


def test_perfect_and_inverted_attacks():
    member = np.r_[np.ones(50, bool), np.zeros(50, bool)]
    perfect = MT.evaluate(member.astype(float), member, n_boot=20)
    assert perfect["auc"] == 1 and perfect["tpr@1%fpr"] == 1 and perfect["auc_ci_low"] == 1
    inverted = MT.evaluate(-member.astype(float), member, n_boot=0)
    assert inverted["auc"] == 0 and inverted["tpr@1%fpr"] == 0


def test_tpr_at_fpr_takes_no_interpolation():
    fpr = np.array([0, 0.005, 0.02, 1])
    tpr = np.array([0, 0.3, 0.6, 1])
    assert MT.tpr_at_fpr(fpr, tpr, 0.01) == 0.3
    assert MT.tpr_at_fpr(fpr, tpr, 0.0) == 0.0


def test_evaluation_is_balanced_and_ci_brackets_point():
    rng = np.random.default_rng(0)
    member = rng.random(3000) < 0.3
    scores = member + rng.normal(size=3000)
    out = MT.evaluate(scores, member, n_boot=100)
    assert out["n_in"] == out["n_out"] == member.sum()
    assert out["auc_ci_low"] <= out["auc"] <= out["auc_ci_high"]
    assert 0.7 < out["auc"] < 0.8


def test_fixed_threshold_balanced_accuracy():
    scores = np.array([0.9, 0.8, 0.2, 0.1])
    member = np.array([True, False, True, False])
    assert MT.evaluate(scores, member, n_boot=0, threshold=0.5)["balanced_acc_fixed"] == pytest.approx(0.5)


def test_bad_inputs():
    with pytest.raises(ValueError, match="shape"):
        MT.evaluate(np.zeros(3), np.zeros(4, bool))
    with pytest.raises(ValueError, match="no members"):
        MT.evaluate(np.zeros(4), np.zeros(4, bool))
    with pytest.raises(ValueError, match="NaN"):
        MT.evaluate(np.array([np.nan, 1.0]), np.array([True, False]), n_boot=0)


def test_ppv_at_membership_priors():
    """PPV = prior TPR / (prior TPR + (1 - prior) FPR) at the TPR@1% point, FPR at its nominal 1%."""
    assert MT.ppv(0.3, 0.01, 0.5) == pytest.approx(0.3 / 0.31)
    assert MT.ppv(0.3, 0.01, 0.01) == pytest.approx(0.003 / (0.003 + 0.0099))
    assert np.isnan(MT.ppv(0.0, 0.0, 0.1))
    rng = np.random.default_rng(0)
    member = np.r_[np.ones(1000, bool), np.zeros(1000, bool)]
    scores = rng.normal(size=2000) + 1.5 * member
    out = MT.evaluate(scores, member, n_boot=0)
    tpr = out["tpr@1%fpr"]
    for prior in (0.01, 0.1, 0.5):
        assert out[MT.ppv_label(prior)] == pytest.approx(prior * tpr / (prior * tpr + (1 - prior) * 0.01))
    assert out["ppv@1%fpr_prior1%"] < out["ppv@1%fpr_prior10%"] < out["ppv@1%fpr_prior50%"]
    chance = MT.evaluate(rng.normal(size=2000), member, n_boot=0)  # a blind attack's PPV is about the prior
    assert chance["ppv@1%fpr_prior50%"] < 0.75
