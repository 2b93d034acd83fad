"""BASE and BaVarIA against their published definitions, on constructed data with closed forms."""
import numpy as np
import pytest
from scipy.stats import invgamma, kstest, norm, spearmanr
from scipy.stats import t as student_t

from mialth_utils.attacks.bayes import BASE, BaVarIA, empirical_prior, nig_posterior, predictive
from mialth_utils.attacks.lira import LiRA
from mialth_utils.attacks.rmia import RMIA
from mialth_utils.evaluation.metrics import evaluate
from mialth_utils.data.views import VIEW_SETS
from mialth_utils.signals import AttackData


def _binary_logits(phi):
    """Two-class logits whose logit-scaled confidence of class 0 is exactly ``phi`` (and log p_0 = -softplus(-phi))."""
    return np.stack([phi, np.zeros_like(phi)], -1)


def gaussian_game(n_refs, n=4000, shift=1.0, sd=1.0, seed=0, views=1, sd_spread=0.0):
    """A membership game whose signal is Gaussian by construction: phi ~ N(mu_x + shift * IN, sd_x^2) per
    example x (sd_x = sd * exp(N(0, sd_spread))), for every reference and the target, members half of the pool."""
    rng = np.random.default_rng(seed)
    mu = rng.normal(0, 2, n)
    sd = sd * np.exp(rng.normal(0, sd_spread, n))
    balanced = np.arange(n_refs) < n_refs // 2  # n_refs / 2 IN references per example, in random order
    keep = np.stack([rng.permutation(balanced) for _ in range(n)], 1)
    member = rng.random(n) < 0.5
    ref_phi = mu + shift * keep[:, None, :] + rng.normal(0, sd, (n_refs, views, n))
    target_phi = mu + shift * member + rng.normal(0, sd, (views, n))
    labels = np.zeros(n, int)
    ref, tgt = _binary_logits(ref_phi), _binary_logits(target_phi)
    queries = VIEW_SETS["shifts"][:views]  # the identity, a flip, shifts: augmentation views
    data = AttackData(labels, tgt, ref, keep, queries, labels[:50], tgt[:, :50], ref[:, :, :50])
    return data, member


def test_posterior_update_is_the_conjugate_one():
    """nig_posterior against the normal-inverse-gamma posterior computed on a grid from prior x likelihood."""
    rng = np.random.default_rng(1)
    x = rng.normal(1.5, 0.7, 5)
    prior = (0.0, 0.5, 3.0, 2.0)
    mu_n, kappa_n, alpha_n, beta_n = nig_posterior(x[:, None], np.ones((5, 1)), prior)
    mus, s2 = np.linspace(-2, 4, 601), np.linspace(0.02, 4, 600)
    M, V = np.meshgrid(mus, s2, indexing="ij")
    log_post = (invgamma.logpdf(V, prior[2], scale=prior[3]) + norm.logpdf(M, prior[0], np.sqrt(V / prior[1]))
                + norm.logpdf(x[:, None, None], M, np.sqrt(V)).sum(0))
    post = np.exp(log_post - log_post.max())
    post /= post.sum()
    assert (post * M).sum() == pytest.approx(mu_n[0], abs=2e-3)
    assert (post * V).sum() == pytest.approx(beta_n[0] / (alpha_n[0] - 1), rel=1e-2)  # E[sigma^2] of IG(alpha, beta)
    assert kappa_n[0] == 5.5 and alpha_n[0] == 5.5


def test_predictive_is_the_student_t_of_the_posterior():
    """Draws of (sigma^2, mu) from the posterior and then x | mu, sigma^2 follow the stated Student-t."""
    rng = np.random.default_rng(2)
    post = (np.array([0.3]), np.array([4.0]), np.array([3.0]), np.array([1.5]))
    s2 = invgamma.rvs(post[2][0], scale=post[3][0], size=40000, random_state=rng)
    mu = rng.normal(post[0][0], np.sqrt(s2 / post[1][0]))
    x = rng.normal(mu, np.sqrt(s2))
    df, loc, scale = predictive(post)
    assert kstest(x, student_t(df[0], loc[0], scale[0]).cdf).pvalue > 0.01


def test_bavaria_becomes_lira_when_references_are_many():
    """With 200 references per side the Student-t predictive is the Gaussian: the scores rank as LiRA's."""
    data, member = gaussian_game(n_refs=400, n=300, sd_spread=0.7)
    for online in (True, False):
        ba, li = BaVarIA(online=online).fit(data).score(data), LiRA(online=online).fit(data).score(data)
        assert spearmanr(ba, li)[0] > 0.995


def test_online_tests_reach_the_closed_form_auc_of_the_gaussian_game():
    """Equal-variance Gaussians IN N(mu + d, s^2) and OUT N(mu, s^2): the optimal test's AUC is
    Phi(d / (s sqrt 2)); BaVarIA online and LiRA online reach it with many references."""
    d, sd = 1.0, 1.0
    data, member = gaussian_game(n_refs=64, n=6000, shift=d, sd=sd)
    optimum = norm.cdf(d / (sd * np.sqrt(2)))
    for attack in (BaVarIA(online=True), BaVarIA(online=False), LiRA(online=False)):
        auc = evaluate(attack.fit(data).score(data), member, n_boot=0)["auc"]
        assert auc == pytest.approx(optimum, abs=0.02), attack.name


def test_bavaria_with_four_references_is_not_worse_than_lira_at_low_fpr():
    """The regime BaVarIA is for: 2 IN and 2 OUT references per example, where LiRA's variances are noisy."""
    data, member = gaussian_game(n_refs=4, n=8000, shift=1.5, sd=1.0, seed=3)
    ba = evaluate(BaVarIA(online=False).fit(data).score(data), member, n_boot=0)
    li = evaluate(LiRA(online=False).fit(data).score(data), member, n_boot=0)
    assert ba["tpr@1%fpr"] >= li["tpr@1%fpr"] and ba["auc"] >= li["auc"] - 0.005


def test_empirical_prior_matches_the_variances_it_was_fitted_on():
    rng = np.random.default_rng(4)
    true_var = invgamma.rvs(6.0, scale=5.0, size=20000, random_state=rng)  # mean 1, var 0.25
    x = rng.normal(0, np.sqrt(true_var), (50, 20000))
    mu0, _, alpha0, beta0 = empirical_prior(x, np.ones_like(x))
    assert beta0 / (alpha0 - 1) == pytest.approx(1.0, rel=0.03) and abs(mu0) < 0.05


def test_base_offline_at_unit_temperature_ranks_as_rmia_at_a_one():
    """BASE offline at T = 1 is log p(x) - log mean_OUT p_r(x): RMIA's ratio at a = 1, the same order."""
    data, member = gaussian_game(n_refs=8, n=2000, seed=5)
    base = BASE(online=False, temperature=1.0).fit(data).score(data)
    rmia = RMIA(a=1.0).fit(data).score(data)
    assert np.array_equal(np.argsort(base, kind="stable"), np.argsort(rmia, kind="stable"))


def test_base_denominator_is_the_log_mean_of_reference_likelihoods():
    """Closed form: log p_r ~ N(m, s^2) over many references -> log mean exp = m + s^2 / 2 (lognormal mean)."""
    rng = np.random.default_rng(6)
    n_refs, n = 20000, 3
    m, s = -2.0, 0.3
    logp = np.minimum(rng.normal(m, s, (n_refs, 1, n)), -1e-9)
    phi = np.log(np.exp(logp) / -np.expm1(logp))  # the logit of p_r
    ref = _binary_logits(phi)
    tgt = _binary_logits(np.zeros((1, n)))
    labels = np.zeros(n, int)
    data = AttackData(labels, tgt, ref, np.zeros((n_refs, n), bool), ("id",), labels, tgt, ref)
    score = BASE(online=True, temperature=1.0).fit(data).score(data)
    np.testing.assert_allclose(score, np.log(0.5) - (m + s * s / 2), atol=0.01)


def test_new_attacks_find_members_and_fit_no_target_labels(small_model_set):
    from mialth_utils.signals import attack_data

    data = attack_data(small_model_set.at(0))
    member = small_model_set.membership.member_mask(0)
    for attack in (BASE(online=True), BASE(online=False), BaVarIA(online=True), BaVarIA(online=False)):
        scores = attack.fit(data).score(data)
        assert np.isfinite(scores).all()
        assert evaluate(scores, member, n_boot=0)["auc"] > 0.6, attack.name  # RMIA reaches 0.66 on this set
    assert BASE().fit(data).temperature_ in BASE().t_grid


@pytest.mark.parametrize("online", [True, False])
def test_base_temperature_choice_is_the_pseudo_target_game_bit_for_bit(online):
    """BASE computes log p(y|x) of the references once per fit and rescales it per temperature: the
    chosen temperature and the scores equal playing the game afresh on reference 0 at every temperature
    (``as_target``, each AttackData's own log-likelihoods), bit for bit."""
    from sklearn.metrics import roc_auc_score

    from mialth_utils.attacks.bayes import _log_mean_exp
    from mialth_utils.signals import as_target, true_class_prob

    data, _ = gaussian_game(6, n=1500, views=3, sd_spread=0.5, seed=4)
    attack = BASE(online=online).fit(data)

    def log_p(logits, game):  # log of p(y|x) averaged over the augmentation views, from the definition
        return np.log(true_class_prob(logits[..., game.aug_idx, :, :], game.labels).mean(-2))

    def fresh(game, t):
        weights = attack._weights(game.ref_keep)
        return log_p(game.target_logits, game) / t - _log_mean_exp(log_p(game.ref_logits, game) / t, weights)

    pseudo, keep = as_target(data, 0)
    aucs = [roc_auc_score(keep, fresh(pseudo, t)) for t in attack.t_grid]
    assert attack.temperature_ == attack.t_grid[int(np.argmax(aucs))]
    assert np.array_equal(attack.score(data), fresh(data, attack.temperature_))
