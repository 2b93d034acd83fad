import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from mialth_utils.data import membership as M


def test_every_row_is_a_half_and_rows_are_independent():
    keep = M.balanced_keep(9, 1000, seed=3)
    assert keep.shape == (9, 1000)
    assert (keep.sum(1) == 500).all()
    counts = keep.sum(0)
    assert counts.min() < 3 and counts.max() > 6  # binomial IN counts, not LiRA's balanced columns


@pytest.mark.parametrize("mode", ["balanced", "disjoint"])
def test_no_model_s_membership_leaks_through_the_others_in_counts(mode):
    """Exchangeable rows: for every model playing the target, the other models' IN count of an example says
    nothing of its membership (the earlier design's balanced reference columns gave AUC 0 or 1 here)."""
    mem = M.make_membership(9, 4000, seed=0, mode=mode)
    pool = mem.target_pool if mode == "balanced" else ~mem.target_pool
    for model in range(0 if mode == "balanced" else 1, 9):
        others = np.delete(mem.keep, model, axis=0)[:, pool].sum(0)
        noise = np.random.default_rng(model).random(pool.sum()) * 1e-3
        assert abs(roc_auc_score(mem.keep[model, pool], others + noise) - 0.5) < 0.03


def test_keep_is_deterministic_for_a_seed():
    assert np.array_equal(M.balanced_keep(5, 100, 1), M.balanced_keep(5, 100, 1))
    assert not np.array_equal(M.balanced_keep(5, 100, 1), M.balanced_keep(5, 100, 2))
    assert M.make_membership(5, 100, 1).hash == M.make_membership(5, 100, 1).hash


def test_disjoint_mode_separates_target_and_shadow_data():
    mem = M.make_membership(5, 400, seed=0, mode="disjoint")
    target_part = mem.target_pool
    assert target_part.sum() == 200
    assert not mem.keep[1:, target_part].any()
    assert not mem.keep[0, ~target_part].any()
    assert mem.keep[0, target_part].sum() == 100
    assert (mem.keep[1:, ~target_part].sum(1) == 100).all()  # each reference: an independent half of the shadow part


def test_balanced_eval_indices_are_balanced_and_disjoint():
    member = np.zeros(100, bool)
    member[:30] = True
    idx = M.balanced_eval_indices(member, seed=0)
    assert len(idx) == 60 and member[idx].sum() == 30 and len(set(idx)) == 60
    with pytest.raises(ValueError, match="no members"):
        M.balanced_eval_indices(np.zeros(5, bool))


def test_sample_pool_is_disjoint_and_stratified():
    labels = np.repeat(np.arange(10), 100)
    pool, population = M.sample_pool(labels, 500, 200, seed=0)
    assert len(pool) == 500 and len(population) == 200 and not set(pool) & set(population)
    assert (np.bincount(labels[pool]) == 50).all()
    with pytest.raises(ValueError, match="exceeds"):
        M.sample_pool(labels, 900, 200, seed=0)


@pytest.mark.parametrize("bad", [1, 2, "4", 2.5])
def test_bad_counts_raise(bad):
    with pytest.raises((ValueError, TypeError)):
        M.balanced_keep(bad, 10, 0)
    with pytest.raises(ValueError, match="mode"):
        M.make_membership(5, 10, 0, mode="shokri")
