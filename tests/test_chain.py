"""Chain attacks (attacks.chain), the zero-reference estimates (experiments.chain.zero_reference) and the E8 /
E6Q rules, on constructed data where the answer is known."""
import numpy as np
import pandas as pd
import pytest
from scipy.stats import multivariate_normal, norm
from sklearn.metrics import roc_auc_score

from mialth_utils.attacks.chain import ChainGaussian, chain_scores, mr_features, sr_features
from mialth_utils.claims import e6q, e8
from mialth_utils.experiments.chain import zero_reference
from mialth_utils.reporting.estimates import distill_lines, zero_reference_lines


def gaussian_chain(n_models=41, n=600, k=3, shift=(0.0, 1.0, 1.0), rho=0.5, seed=0):
    """phi (M, 1, N, K): per-example base means, members shifted by ``shift`` per level, AR-like covariance."""
    rng = np.random.default_rng(seed)
    cov = rho ** np.abs(np.subtract.outer(np.arange(k), np.arange(k))).astype(float)
    keep = rng.random((n_models, n)) < 0.5
    base = rng.normal(0, 2, (n, k))
    noise = rng.multivariate_normal(np.zeros(k), cov, (n_models, n))
    phi = base[None] + noise + keep[..., None] * np.asarray(shift, float)
    return phi[:, None], keep, cov


def test_chain_gaussian_scores_are_the_multivariate_normal_log_likelihood_ratio():
    phi, keep, _ = gaussian_chain()
    attack = ChainGaussian("chain_mr").fit(phi[1:], keep[1:])
    expected = np.array([multivariate_normal.logpdf(phi[0, 0, i], attack.mean_in_[0, i], attack.cov_in_)
                         - multivariate_normal.logpdf(phi[0, 0, i], attack.mean_out_[0, i], attack.cov_out_)
                         for i in range(phi.shape[2])])
    np.testing.assert_allclose(attack.score(phi[0]), expected, rtol=1e-9, atol=1e-9)


def test_chain_gaussian_recovers_the_covariance_and_means():
    phi, keep, cov = gaussian_chain(n_models=201, n=400)
    attack = ChainGaussian("chain_mr").fit(phi[1:], keep[1:])
    np.testing.assert_allclose(attack.cov_out_, cov, atol=0.05)
    np.testing.assert_allclose(attack.cov_in_, cov, atol=0.05)
    assert attack.fallback_frac_ == 0.0
    gap = (attack.mean_in_ - attack.mean_out_)[0].mean(0)
    np.testing.assert_allclose(gap, [0.0, 1.0, 1.0], atol=0.05)


def test_one_feature_is_the_pooled_variance_gaussian_test():
    phi, keep, _ = gaussian_chain(k=1, shift=(1.0,))
    attack = ChainGaussian("chain_sr").fit(phi[1:], keep[1:])
    sd_in, sd_out = np.sqrt(attack.cov_in_[0, 0]), np.sqrt(attack.cov_out_[0, 0])
    x = phi[0, 0, :, 0]
    expected = norm.logpdf(x, attack.mean_in_[0, :, 0], sd_in) - norm.logpdf(x, attack.mean_out_[0, :, 0], sd_out)
    np.testing.assert_allclose(attack.score(phi[0]), expected, rtol=1e-9, atol=1e-9)


def test_features_of_sr_and_mr():
    phi = np.arange(2 * 3 * 4, dtype=float).reshape(1, 2, 3, 4)  # (R, Q, N, levels)
    np.testing.assert_array_equal(sr_features(phi, 2)[..., 0], phi[..., 2] - phi[..., 0])
    np.testing.assert_array_equal(mr_features(phi, 2), phi[..., :3])


def test_the_chain_sees_more_than_one_level_when_levels_carry_independent_signal():
    phi, keep, _ = gaussian_chain(n_models=17, n=3000, k=3, shift=(0.0, 0.6, 0.6), rho=0.0)
    scores = chain_scores(phi, keep, 0, [1, 2])
    single = ChainGaussian("one").fit(phi[1:, ..., 1:2], keep[1:]).score(phi[0, ..., 1:2])
    auc = {name: roc_auc_score(keep[0], s) for name, s in scores.items()}
    assert auc["chain_mr", 2] > roc_auc_score(keep[0], single) + 0.02
    assert auc["chain_mr", 2] > auc["chain_mr", 1]
    assert set(scores) == {("chain_sr", 1), ("chain_sr", 2), ("chain_mr", 1), ("chain_mr", 2)}


def test_a_missing_side_is_filled_and_counted():
    phi, keep, _ = gaussian_chain(n_models=9, n=200)
    keep[1:, 0] = True  # example 0: every reference trained on it, no OUT mean
    attack = ChainGaussian("chain_mr").fit(phi[1:], keep[1:])
    assert attack.fallback_frac_ == pytest.approx(1 / 200, abs=0.02)
    assert np.isfinite(attack.score(phi[0])).all()
    with pytest.raises(ValueError, match="at least 2 reference"):
        ChainGaussian("chain_mr").fit(phi[:1], keep[:1])


def test_the_target_row_never_reaches_the_fit():
    phi, keep, _ = gaussian_chain(n_models=9, n=300)
    flipped = keep.copy()
    flipped[0] = ~flipped[0]  # the target's own membership changed: its scores must not change
    a, b = chain_scores(phi, keep, 0, [2]), chain_scores(phi, flipped, 0, [2])
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_zero_reference_tail_estimate_and_lt_iqr_precision():
    n = 400
    member = np.r_[np.ones(n // 2, bool), np.zeros(n // 2, bool)]
    idx = np.arange(n)
    rng = np.random.default_rng(0)
    loss = np.empty((n, 3))
    loss[member] = rng.uniform(0, 1, (n // 2, 3))
    loss[~member] = np.r_[rng.uniform(0, 1, (n // 4, 3)).ravel(), rng.uniform(5, 6, (n // 4, 3)).ravel()].reshape(-1, 3)
    # members' spread over levels ranks them exactly as the stand-in LiRA scores do
    spread = np.linspace(0, 1, n // 2)
    loss[member] = np.c_[0.5 - spread, 0.5 * np.ones(n // 2), 0.5 + spread]
    lira = np.zeros(n)
    lira[member] = spread
    row = zero_reference(loss, lira, member, idx, 2, measured=0.3, plan={"fpr": 0.01, "lt_iqr_min_k": 10})
    assert row["tail_estimate"] == pytest.approx(0.5, abs=0.02)  # the half of non-members beyond every member
    assert row["tail_error"] == pytest.approx(row["tail_estimate"] - 0.3)
    assert row["lt_iqr_k"] == 60 and row["lt_iqr_precision"] == 1.0
    assert row["lt_iqr_chance"] == pytest.approx(60 / 200)
    assert "lt_iqr_precision" not in zero_reference(loss, lira, member, idx, 1, 0.3, {"fpr": 0.01, "lt_iqr_min_k": 10})


def _attacks_and_chain(gain: float, n_seeds: int = 5, noise: float = 0.004, seed: int = 0, chain_noise=None):
    rng = np.random.default_rng(seed)
    attacks, chain = [], []
    for s in range(n_seeds):
        for t in range(3):
            for level in range(4):
                for name, value in (("rmia", 0.05 + 0.01 * level), ("loss", 0.03)):
                    attacks.append({"seed": s, "attack": name, "target_model": t, "level": level, "branch": "imp",
                                    "tpr@1%fpr": value + rng.normal(0, noise), "auc": 0.6, "n_out": 2000})
            for level in range(1, 4):
                best = 0.05 + 0.01 * level
                for name in ("chain_mr", "chain_sr"):
                    chain.append({"seed": s, "attack": name, "target_model": t, "level": level, "sparsity": 0.2 * level,
                                  "tpr@1%fpr": best + gain + (rng.normal(0, noise) if chain_noise is None else chain_noise[s]),
                                  "auc": 0.62, "n_out": 2000})
    return pd.DataFrame(chain), pd.DataFrame(attacks)


def test_best_single_model_takes_the_largest_attack_and_level_with_every_target():
    chain, attacks = _attacks_and_chain(0.0, noise=0.0)
    assert e8.best_single_model(attacks[attacks["seed"] == 0], [0, 1, 2], range(0, 3), "tpr@1%fpr") == \
        (pytest.approx(0.07), "rmia@L2")
    partial = attacks[~((attacks["attack"] == "rmia") & (attacks["level"] == 2) & (attacks["target_model"] == 2))]
    assert e8.best_single_model(partial[partial["seed"] == 0], [0, 1, 2], range(0, 3), "tpr@1%fpr")[1] == "rmia@L1"
    assert e8.leave_one_out_attacks(attacks) == ["loss", "rmia"]


@pytest.mark.parametrize("gain, verdict", [(0.03, "supported"), (-0.03, "contradicted"), (0.0, "inconclusive")])
def test_e8_rule(gain, verdict):
    # no gain: the single-model values exact (a noisy maximum over attacks and levels is biased upward, which
    # the plan accepts as conservative), the chain's seeds spread symmetrically around them
    chain, attacks = _attacks_and_chain(gain, noise=0.004 if gain else 0.0,
                                        chain_noise=None if gain else [0.01, -0.01, 0.005, -0.005, 0.0])
    table = e8.verdict_e8(chain, attacks)
    primary = table[table["verdict_role"] == "primary"].iloc[0]
    assert primary["verdict"] == verdict
    assert primary["estimate"] == pytest.approx(gain, abs=0.01)
    assert set(table["verdict_role"]) == {"primary", "secondary", "context"}
    assert (table.loc[table["verdict_role"] == "context", "verdict"] == "reported").all()


def test_e8_below_the_plans_seeds_is_inconclusive():
    chain, attacks = _attacks_and_chain(0.03, n_seeds=3)
    primary = e8.verdict_e8(chain, attacks).query("verdict_role == 'primary'").iloc[0]
    assert primary["verdict"] == "inconclusive" and "n seeds < 5" in primary["detail"]


def _quantized(q4_shift: float, q2_shift: float, n_seeds: int = 5, seed: int = 1):
    rng = np.random.default_rng(seed)
    comp, att = [], []
    for s in range(n_seeds):
        dense = 0.08 + rng.normal(0, 0.005)
        att.append({"seed": s, "attack": "rmia", "level": 0, "target_model": 0, "branch": "imp",
                    "tpr@1%fpr": dense, "auc": 0.65, "n_out": 2000})
        for label, shift in (("quant-4", q4_shift), ("quant-2", q2_shift)):
            for shadows in ("matched", "mismatched"):
                comp.append({"seed": s, "attack": "rmia", "compression": label, "shadows": shadows, "n_out": 2000,
                             "tpr@1%fpr": dense + shift + rng.normal(0, 0.002), "auc": 0.65 + shift})
    return pd.DataFrame(comp), pd.DataFrame(att)


@pytest.mark.parametrize("q4, q2, verdict", [(0.0, -0.05, "supported"), (0.05, -0.05, "contradicted"),
                                             (0.006, -0.05, "equivalent_but_different"),
                                             (0.0, 0.03, "contradicted"), (0.0, 0.0, "inconclusive")])
def test_e6q_rule(q4, q2, verdict):
    comp, att = _quantized(q4, q2)
    table = e6q.verdict_e6q(comp, att)
    primary = table[table["verdict_role"] == "primary"].iloc[0]
    assert primary["verdict"] == verdict, primary["detail"]
    level = table[(table["verdict_role"] == "level") & table["setting"].str.contains("quant-4")].iloc[0]
    assert level["margin"] == pytest.approx(0.25 * (att["tpr@1%fpr"].mean() - 0.01))


def test_estimate_sections_report_the_numbers():
    zr = pd.DataFrame([{"dataset": "d", "model_arch": "m", "settings_hash": "abcdef0123", "seed": s, "target_model": 0,
                        "level": level, "measured_tpr": 0.1, "tail_estimate": 0.1 + 0.02 * (s + 1), "sparsity": 0.2,
                        "tail_error": 0.02 * (s + 1), "lt_iqr_precision": 0.5, "lt_iqr_chance": 0.1, "lt_iqr_k": 20}
                       for s in range(3) for level in range(3)])
    text = "\n".join(zero_reference_lines(zr))
    assert "0.0400 [" in text and "3 seeds" in text and "precision at k 0.5000" in text
    split = pd.DataFrame([{"dataset": "d", "model_arch": "m", "settings_hash": "abcdef0123", "seed": s,
                           "compression": "distill-x", "distill_role": role, "group": group,
                           "mean_loss": {"member": 0.1, "non_member": 0.5 if role == "teacher" else 0.3}[group]}
                          for s in range(3) for role in ("teacher", "student") for group in ("member", "non_member")])
    text = "\n".join(distill_lines(split))
    assert "keeps 50.0000 [" in text
