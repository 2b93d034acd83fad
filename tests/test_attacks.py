import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from scipy.stats import norm

from mialth_utils.attacks.lira import LiRA
from mialth_utils.attacks.registry import default_attacks
from mialth_utils.attacks.rmia import RMIA
from mialth_utils.attacks.threshold import LossAttack, SignalAttack
from mialth_utils import signals as S
from mialth_utils.evaluation.audit import run_attacks
from mialth_utils.attacks.classifier import MLLeaks, Shokri
from mialth_utils.attacks.samia import SAMIA
from mialth_utils.evaluation.metrics import evaluate
from mialth_utils.signals import AttackData, attack_data
from mialth_utils.models import make_model
from mialth_utils.training.loop import TrainSpec, train
from mialth_utils.training.predict import predict_logits


@pytest.fixture(scope="module")
def memorised(small_model_set):
    return attack_data(small_model_set.at(0)), small_model_set.membership.member_mask(0)


@pytest.mark.parametrize("attack", [LossAttack(), LiRA(online=True), LiRA(online=False), Shokri(),
                                    SignalAttack("modified_entropy"), MLLeaks(), SAMIA(epochs=10)],
                         ids=lambda a: a.name)
def test_attacks_find_members_of_a_memorising_model(memorised, attack):
    data, member = memorised
    auc = evaluate(attack.fit(data).score(data), member, n_boot=0)["auc"]
    floor = 0.58 if attack.name == "shokri" else 0.7
    assert auc > floor, f"{attack.name} AUC {auc:.3f}"


def test_every_attack_near_chance_on_a_model_that_saw_no_member(small_model_set):
    """The target trains on the population set only; the game's 'members' are a random half of the pool."""
    pop = small_model_set
    model = make_model("mlp", pop.data, seed=123)
    train(model, pop.data, torch.from_numpy(pop.population_idx), TrainSpec(epochs=30, batch_size=64), seed=1)
    x = torch.cat([pop.data.train_x[torch.from_numpy(pop.pool_idx)], pop.data.train_x[torch.from_numpy(pop.population_idx)]])
    logits = predict_logits(model, pop.data, x, pop.spec.view_names).numpy()
    data = attack_data(pop.at(0))
    blind = dataclasses.replace(data, target_logits=logits[:, :600], target_population_logits=logits[:, 600:])
    rows, _ = run_attacks(blind, pop.membership.member_mask(0), n_boot=0)
    assert "error" not in rows or rows["error"].isna().all()
    for _, row in rows.iterrows():
        assert abs(row["auc"] - 0.5) < 0.08, f"{row['attack']} AUC {row['auc']:.3f}"


def test_scores_do_not_depend_on_the_targets_membership(small_model_set):
    """The target's keep row is not an input of any attack: changing it changes no score."""
    pop = small_model_set
    data = attack_data(pop.at(1))
    before = {a.name: a.fit(data).score(data) for a in default_attacks()}
    flipped = dataclasses.replace(pop.membership, keep=np.concatenate([~pop.membership.keep[:1],
                                                                       pop.membership.keep[1:]]))
    stand_in = SimpleNamespace(game=dataclasses.replace(pop.game, keep=flipped.keep), logits=lambda m: pop.logits(m, 1))
    data2 = attack_data(stand_in)
    for attack in default_attacks():
        np.testing.assert_array_equal(before[attack.name], attack.fit(data2).score(data2), err_msg=attack.name)
    assert not any(f.name in ("member_mask", "target_keep") for f in dataclasses.fields(AttackData))


def test_lira_equals_direct_gaussian_likelihood_ratio():
    rng = np.random.default_rng(0)
    n_refs, n, c = 6, 5, 3
    ref_logits = rng.normal(size=(n_refs, 1, n, c)) * 3
    target = rng.normal(size=(1, n, c)) * 3
    keep = np.zeros((n_refs, n), bool)
    keep[:3] = True
    labels = rng.integers(0, c, n)
    data = AttackData(labels, target, ref_logits, keep, ("id",), labels[:2], target[:, :2], ref_logits[:, :, :2])
    scores = LiRA(online=True).fit(data).score(data)
    def phi(lg, y):
        p = np.exp(lg - lg.max()) / np.exp(lg - lg.max()).sum()
        return np.log(p[y]) - np.log(1 - p[y])

    for i in range(n):
        phis_in = [phi(ref_logits[r, 0, i], labels[i]) for r in range(3)]
        phis_out = [phi(ref_logits[r, 0, i], labels[i]) for r in range(3, 6)]
        x = phi(target[0, i], labels[i])
        expected = (norm.logpdf(x, np.mean(phis_in), np.std(phis_in, ddof=1))
                    - norm.logpdf(x, np.mean(phis_out), np.std(phis_out, ddof=1)))
        assert scores[i] == pytest.approx(expected, rel=1e-6)
    offline = LiRA(online=False).fit(data).score(data)
    x0 = phi(target[0, 0], labels[0])
    phis_out0 = [phi(ref_logits[r, 0, 0], labels[0]) for r in range(3, 6)]
    assert offline[0] == pytest.approx(-norm.logsf(x0, np.mean(phis_out0), np.std(phis_out0, ddof=1)), rel=1e-6)


def test_signals_on_hand_examples():
    logits = np.log(np.array([[0.7, 0.2, 0.1]]))
    y = np.array([0])
    assert S.loss(logits, y)[0] == pytest.approx(-np.log(0.7))
    assert S.logit_scaled_confidence(logits, y)[0] == pytest.approx(np.log(0.7 / 0.3))
    assert S.entropy(logits)[0] == pytest.approx(-(0.7 * np.log(0.7) + 0.2 * np.log(0.2) + 0.1 * np.log(0.1)))
    mentr = -(0.3) * np.log(0.7) - 0.2 * np.log(0.8) - 0.1 * np.log(0.9)
    assert S.modified_entropy(logits, y)[0] == pytest.approx(mentr)
    assert S.logit_scaled_confidence(np.array([[60.0, 0.0]]), np.array([0]))[0] == pytest.approx(60.0)


def test_transfer_applies_fitted_state_to_another_level(small_model_set):
    a, b = attack_data(small_model_set.at(0)), attack_data(small_model_set.at(2))
    lira = LiRA(online=False).fit(a)
    mean_before = lira.mean_out_.copy()
    scores = lira.score(b)
    np.testing.assert_array_equal(lira.mean_out_, mean_before)
    assert evaluate(scores, small_model_set.membership.member_mask(0), n_boot=0)["auc"] > 0.6


def test_bad_inputs_raise_clear_errors(memorised):
    data, _ = memorised
    with pytest.raises(ValueError, match="NaN"):
        dataclasses.replace(data, target_logits=np.full_like(data.target_logits, np.nan))
    with pytest.raises(ValueError, match="ref_logits shape"):
        dataclasses.replace(data, ref_logits=data.ref_logits[:, :, :10])
    few = dataclasses.replace(data, ref_logits=data.ref_logits[:1], ref_keep=data.ref_keep[:1],
                              ref_population_logits=data.ref_population_logits[:1])
    with pytest.raises(ValueError, match="reference models"):
        LiRA(online=True).fit(few)
    rows, _ = run_attacks(few, np.ones(600, bool) & (np.arange(600) % 2 == 0), [RMIA()], n_boot=0)
    assert "reference models" in rows.loc[0, "error"]
    with pytest.raises(ValueError, match="signal must be one of"):
        SignalAttack("gini")


def test_threshold_fixed_on_a_reference_model(memorised):
    """balanced_acc_fixed uses a threshold chosen without the target; the target's own best
    threshold can only do as well or better, and a sensible fixed threshold beats chance here."""
    data, member = memorised
    rows, _ = run_attacks(data, member, [LossAttack(), LiRA(online=False)], n_boot=0, fixed_threshold=True)
    for _, row in rows.iterrows():
        assert 0.5 < row["balanced_acc_fixed"] <= row["balanced_acc"] + 1e-12, row["attack"]


def test_signals_distinct_and_ordered_on_saturating_logits():
    """Margins of 20-60 (memorised examples): float32 posteriors round to 1 there; the exact signals
    stay distinct and ordered by the margin, and so do the class-thresholded attack scores."""
    margins = np.linspace(20.0, 60.0, 400)
    logits = np.zeros((400, 10))
    logits[:, 3] = margins
    logits[:, 5] = np.linspace(-2.0, 2.0, 400)[::-1]  # the runner-up varies too
    y = np.full(400, 3)
    closer = np.argsort(margins)  # increasing confidence
    increasing = {"confidence": S.logit_scaled_confidence(logits, y), "-loss": -S.loss(logits, y),
                  "-log entropy": -S.log_entropy(logits), "-log mentr": -S.log_modified_entropy(logits, y)}
    for name, values in increasing.items():
        assert np.all(np.isfinite(values)), name
        assert np.all(np.diff(values[closer]) > 0), f"{name} not strictly increasing with the margin"
    # the logs agree with the plain signals where those are representable
    easy = np.log(np.array([[0.7, 0.2, 0.1], [0.2, 0.5, 0.3]]))
    ye = np.array([0, 2])
    np.testing.assert_allclose(S.log_entropy(easy), np.log(S.entropy(easy)), rtol=1e-12)
    np.testing.assert_allclose(S.log_modified_entropy(easy, ye), np.log(S.modified_entropy(easy, ye)), rtol=1e-12)
    for metric in ("confidence", "entropy", "modified_entropy"):
        attack = SignalAttack(metric)
        attack.thresholds_ = np.full(10, -3.0)
        data = AttackData(y, logits[None], logits[None, None], np.zeros((1, len(y)), bool), ("id",), y[:5],
                          logits[None, :5], logits[None, None, :5])
        scores = attack.score(data)
        assert len(np.unique(scores)) == 400, metric


def test_logsumexp_is_scipys_bit_for_bit():
    """The kit's logsumexp (the pivot of every signal) returns exactly scipy's values: ties at the
    maximum, -inf entries (a class set aside), saturating and float32-rounded logits, several shapes."""
    from scipy.special import logsumexp

    rng = np.random.default_rng(0)
    for shape in [(4, 3, 500, 10), (500, 10), (7, 2), (50, 100)]:
        a = rng.normal(0, 5, shape)
        a[..., 0] = np.where(rng.random(shape[:-1]) < 0.3, a[..., 1], a[..., 0])
        a[..., -1] = np.where(rng.random(shape[:-1]) < 0.2, -np.inf, a[..., -1])
        for x in (a, 40 * a, a.astype(np.float32).astype(np.float64)):
            np.testing.assert_array_equal(S.logsumexp(x), logsumexp(x, axis=-1))


def _rmia_refit_per_a(data, a_grid=tuple(np.linspace(0, 1, 11))):
    """RMIA the plain way: each candidate ``a`` refits the attack on reference 0 playing the target."""
    from sklearn.metrics import roc_auc_score

    pseudo, keep = S.as_target(data, 0)
    aucs = [roc_auc_score(keep, RMIA(a=a).fit(pseudo).score(pseudo)) for a in a_grid]
    return RMIA(a=float(a_grid[int(np.argmax(aucs))])).fit(data).score(data)


def test_rmia_computes_reference_probabilities_once_with_the_same_scores(memorised):
    data, _ = memorised
    np.testing.assert_array_equal(RMIA().fit(data).score(data), _rmia_refit_per_a(data))


def test_samias_written_out_encoder_is_the_transformer_layer():
    from mialth_utils.attacks.samia import _AttentionScorer

    torch.manual_seed(0)
    scorer = _AttentionScorer(10)
    h = torch.randn(64, 3, 32)
    torch.testing.assert_close(scorer.encode(h), scorer.encoder(h), rtol=1e-5, atol=1e-5)
    tokens = torch.randn(64, 3, 10)
    grads = []
    for written in (True, False):
        scorer.written = written
        scorer.zero_grad()
        scorer(tokens).sum().backward()
        grads.append(scorer.encoder.layers[0].self_attn.in_proj_weight.grad.clone())
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-4, atol=1e-5)


def test_shokri_boosted_and_mlp_fit_the_same_shadow_outputs(memorised):
    from mialth_utils.attacks.classifier import ShokriMLP
    from mialth_utils.attacks.registry import get_attack

    data, member = memorised
    for attack in (Shokri(), ShokriMLP()):
        assert evaluate(attack.fit(data).score(data), member, n_boot=0)["auc"] > 0.58
    assert get_attack("shokri_mlp").name == "shokri_mlp" and get_attack("shokri").name == "shokri"


def test_a_levels_signals_are_computed_once_per_model_and_equal_bit_for_bit(small_model_set, monkeypatch):
    """With one memo for a level (as ``audit_model_set`` passes), every target's LiRA, RMIA, BASE,
    BaVarIA and threshold attacks give bit for bit the scores they give without it, and each shared signal is computed once
    per model of the level (pool and population), not once per target and attack."""
    from mialth_utils.attacks.bayes import BASE, BaVarIA

    outputs, n_models = small_model_set.at(1), small_model_set.membership.n_models
    calls = {name: 0 for name in S.VIEW_SIGNALS}
    counted = {name: (views, (lambda fn, name: lambda *a: calls.__setitem__(name, calls[name] + 1) or fn(*a))(fn, name))
               for name, (views, fn) in S.VIEW_SIGNALS.items()}
    memo = {}
    signal_attacks = [lambda m=m: SignalAttack(m) for m in ("confidence", "entropy", "modified_entropy")]
    for target in range(n_models):
        for make in [lambda: LiRA(online=True), lambda: LiRA(online=False), RMIA, BASE,
                     lambda: BaVarIA(online=False)] + signal_attacks:
            plain = attack_data(outputs, target)
            expected = make().fit(plain).score(plain)
            with monkeypatch.context() as m:
                m.setattr(S, "VIEW_SIGNALS", counted)
                shared = attack_data(outputs, target, memo=memo)
                got = make().fit(shared).score(shared)
            assert np.array_equal(got, expected), (target, make().name)
    # once per model: p_mean on the pool and the population, the others on the pool
    assert calls == {"p_mean": 2 * n_models, "phi": n_models, "confidence": n_models, "entropy": n_models,
                     "modified_entropy": n_models}
