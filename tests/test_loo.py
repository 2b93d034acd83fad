"""Leave-one-out on the exchangeable keep-matrix (issue 20): every model can play the target, none of
its membership reaches the attack through the others' rows, and the reference attacks cope with the
binomial IN counts such a matrix has."""

import numpy as np
import pytest

from mialth_utils.attacks.cmmia import CMMIA
from mialth_utils.attacks.lira import LiRA
from mialth_utils.attacks.registry import default_attacks
from mialth_utils.data.membership import balanced_keep
from mialth_utils.evaluation.audit import audit_model_set, run_attacks
from mialth_utils.signals import AttackData, attack_data


def _old_keep(n_models, n_examples, seed):
    """The earlier design: the target row an independent half, the references' columns balanced."""
    rng = np.random.default_rng(seed)
    keep = np.zeros((n_models, n_examples), bool)
    keep[0, rng.permutation(n_examples)[: n_examples // 2]] = True
    keep[1:] = rng.uniform(size=(n_models - 1, n_examples)).argsort(axis=0) < (n_models - 1) // 2
    return keep


def _leak(keep, model):
    """Mean IN count of the other models on the model's members minus on its non-members (0: no leak)."""
    others = np.delete(keep, model, axis=0).sum(0)
    return others[keep[model]].mean() - others[~keep[model]].mean()


def test_no_model_s_membership_reaches_its_references_through_their_in_counts():
    """Any model may play the target: the others' IN counts must not differ between its members and its
    non-members. The earlier design leaks for every reference playing the target (a difference of -1)."""
    keep = balanced_keep(9, 4000, 0)
    assert all(abs(_leak(keep, m)) < 0.25 for m in range(9))
    old = _old_keep(9, 4000, 0)
    assert abs(_leak(old, 0)) < 0.25 and all(_leak(old, m) < -0.9 for m in range(1, 9))


def test_lira_online_threshold_fixed_on_a_reference_is_not_at_chance(small_model_set):
    """The 0.5000 defect of issue 20: LiRA online's threshold fixed on a reference playing the target."""
    data = attack_data(small_model_set.at(0))
    rows, _ = run_attacks(data, small_model_set.membership.member_mask(0), [LiRA(online=True)], n_boot=0,
                          fixed_threshold=True)
    assert rows["balanced_acc_fixed"].iloc[0] > 0.55


def test_every_model_plays_the_target_for_the_cheap_attacks(small_model_set):
    table, scores = audit_model_set(small_model_set, levels=[0], n_boot=0, leave_one_out=True,
                                    attacks_factory=lambda: default_attacks(fast=True))
    n_models = small_model_set.membership.n_models
    for name, rows in table.groupby("attack"):
        expected = [0] if name in ("shokri", "samia", "ml_leaks") else list(range(n_models))
        assert sorted(rows["target_model"]) == expected, name
    for model in (0, 5):
        row = table[(table["target_model"] == model) & (table["attack"] == "loss")].iloc[0]
        assert row["test_acc"] == small_model_set.metrics(model, 0)["test_acc"]
    assert set(scores[0]) == set(table["attack"])  # the scores kept are model 0's, for every attack
    assert (table.loc[table["attack"] == "lira_online", "auc"] > 0.6).all()


def _data_with_an_empty_side(rng, n_refs=8, n=40, c=3):
    logits = rng.normal(size=(n_refs, 1, n, c)) * 3
    keep = rng.uniform(size=(n_refs, n)) < 0.5
    keep[:, 0], keep[:, 1], keep[:3, 2], keep[3:, 2] = True, False, True, False  # no OUT, no IN, 3 IN / 5 OUT
    labels = rng.integers(0, c, n)
    target = rng.normal(size=(1, n, c)) * 3
    return AttackData(labels, target, logits, keep, ("id",), labels[:4], target[:, :4], logits[:, :, :4])


@pytest.mark.parametrize("online", [True, False])
def test_lira_scores_examples_without_in_or_out_references(online):
    data = _data_with_an_empty_side(np.random.default_rng(0))
    attack = LiRA(online=online).fit(data)
    scores = attack.score(data)
    assert np.isfinite(scores).all() and attack.fallback_frac_ > 0
    # an example with references on both sides is scored from its own references only: the same score
    # without the two examples that needed the fallback
    rest = AttackData(data.labels[2:], data.target_logits[:, 2:], data.ref_logits[:, :, 2:], data.ref_keep[:, 2:],
                      data.queries, data.population_labels, data.target_population_logits,
                      data.ref_population_logits)
    assert LiRA(online=online).fit(rest).score(rest)[0] == pytest.approx(scores[2], rel=1e-12)


def test_cmmia_never_declares_an_example_without_out_shadows_a_member():
    data = _data_with_an_empty_side(np.random.default_rng(1))
    for test in ("empirical", "gaussian"):
        attack = CMMIA(test_all=True, test=test, alpha=0.5).fit(data)
        scores = attack.score(data)
        assert np.isfinite(scores).all() and attack.untestable_ == 1
        assert not attack.predicted_member_[0]
