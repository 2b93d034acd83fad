"""Batched training (training/batched.py) against the per-model loop, its reference."""
import pytest
import torch

from mialth_utils.data.registry import load_dataset
from mialth_utils.models import make_model
from mialth_utils.sparsity.masks import full_masks, random_masks_like
from mialth_utils.training.batched import Job, batched_sgd, train_batched, why_not_batched
from mialth_utils.training.loop import TrainSpec, train
from mialth_utils.training.predict import accuracy


@pytest.fixture(scope="module")
def data():
    return load_dataset("fake")


def _jobs(data, n_models=3, n_train=320, snapshot_step=None, masked=True):
    """Models of one level: the second has fewer examples (a smaller last batch), the first no masks."""
    jobs = []
    for m in range(n_models):
        net = make_model("mlp", data, seed=10 + m)
        masks = random_masks_like(full_masks(net), seed=m) if masked and m else None  # model 0 dense
        idx = torch.randperm(1000, generator=torch.Generator().manual_seed(m))[:n_train - 17 * (m == 1)]
        jobs.append(Job(net, idx, seed=100 + m, masks=masks, snapshot_step=snapshot_step))
    return jobs


def test_batched_sgd_is_the_trainers_sgd():
    """The fused kernel batched training uses gives the default kernel's updates (the per-model loop's)."""
    gen = torch.Generator().manual_seed(0)
    params = [torch.randn(3, 16, 4, generator=gen), torch.randn(3, 1, 10, generator=gen)]  # fused, default kernel
    spec = TrainSpec(lr=0.1, momentum=0.9, weight_decay=5e-4)
    mine, theirs = [p.clone() for p in params], [p.clone().requires_grad_() for p in params]
    batched = batched_sgd(mine, spec)
    assert [o.defaults["fused"] for o in batched] == [True, None]
    plain = torch.optim.SGD(theirs, lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True)
    for step in range(5):
        grads = [torch.randn(p.shape, generator=gen) for p in params]
        for opts, ps in ((batched, mine), ([plain], theirs)):
            for p, g in zip(ps, grads):
                p.grad = g.clone()
            for opt in opts:
                opt.param_groups[0]["lr"] = 0.1 * (1 - step / 10)
                opt.step()
    for a, b in zip(mine, theirs):
        torch.testing.assert_close(a, b.detach(), rtol=1e-6, atol=1e-7)


def test_batched_equals_per_model_in_fp32(data):
    spec = TrainSpec(epochs=2, batch_size=64, precision="fp32", label_smoothing=0.1)
    batched, single = _jobs(data, snapshot_step=3), _jobs(data, snapshot_step=3)
    results = train_batched(batched, data, spec)
    for job, ours in zip(single, results):
        theirs = train(job.net, data, job.train_idx, spec, seed=job.seed, masks=job.masks,
                       snapshot_step=job.snapshot_step, bar=False)
        for a, b in zip(job.net.state_dict().values(), batched[single.index(job)].net.state_dict().values()):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
        for k in theirs.snapshot:
            torch.testing.assert_close(theirs.snapshot[k], ours.snapshot[k], rtol=1e-4, atol=1e-5)
        for h_ours, h_theirs in zip(ours.history, theirs.history):
            assert h_ours["lr"] == pytest.approx(h_theirs["lr"], rel=1e-12)
            assert h_ours["loss"] == pytest.approx(h_theirs["loss"], rel=1e-4)
    # the per-model masks hold: pruned weights exactly zero, model 0 (no masks) dense
    for job in batched[1:]:
        for name, mask in job.masks.items():
            assert (dict(job.net.named_parameters())[name][~mask] == 0).all()
    assert all((p != 0).float().mean() > 0.99 for p in batched[0].net.parameters())


def test_batched_bf16_learns_like_per_model(data):
    """bf16 rounds differently batched (other kernels), so equal in distribution: both learn alike."""
    spec = TrainSpec(epochs=6, batch_size=64, precision="bf16")
    batched, single = _jobs(data, n_train=1000, masked=False), _jobs(data, n_train=1000, masked=False)
    train_batched(batched, data, spec)
    for job in single:
        train(job.net, data, job.train_idx, spec, seed=job.seed, bar=False)
    acc_b = [accuracy(j.net, data, data.test_x, data.test_y) for j in batched]
    acc_s = [accuracy(j.net, data, data.test_x, data.test_y) for j in single]
    assert min(acc_b) > 0.6
    assert abs(sum(acc_b) / 3 - sum(acc_s) / 3) < 0.05


@pytest.mark.parametrize("kw, reason", [({"optimizer": "adam"}, "adam"), ({"target_epsilon": 1.0}, "DP-SGD"),
                                        ({"ppb_lambda": 1.0}, "PPB"), ({"augment": True}, "augmentation"),
                                        ({"early_stop_patience": 2}, "early stopping")])
def test_what_is_not_batched_says_why(data, kw, reason):
    assert reason in why_not_batched(_jobs(data), TrainSpec(**kw))
    with pytest.raises(ValueError, match=reason):
        train_batched(_jobs(data), data, TrainSpec(**kw))


def test_conv_nets_and_unequal_sizes_are_not_batched(data):
    conv = [Job(make_model("conv-2", data, seed=0), torch.arange(64), seed=0)]
    assert "not an MLP" in why_not_batched(conv, TrainSpec())
    jobs = _jobs(data)
    jobs[1].train_idx = jobs[1].train_idx[:100]
    assert "steps per epoch" in why_not_batched(jobs, TrainSpec(batch_size=64))
    assert why_not_batched(_jobs(data), TrainSpec()) is None


def test_a_models_bits_do_not_depend_on_the_models_beside_it(data):
    """Padded to full batches, a model trains to the same bits alone or beside others (so a model set's
    numbers do not depend on its worker count or on what the store already held)."""
    spec = TrainSpec(epochs=2, batch_size=64)
    together = _jobs(data)
    train_batched(together, data, spec)
    for m in range(3):  # alone, and first of a pass (the place where the fused kernel's tail differed)
        for others in ([], [j for j in range(3) if j != m]):
            jobs = [_jobs(data)[j] for j in [m] + others]
            train_batched(jobs, data, spec)
            assert all(torch.equal(a, b) for a, b in zip(together[m].net.state_dict().values(),
                                                         jobs[0].net.state_dict().values())), (m, others)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_input_table_gives_normalise_s_values(data, dtype):
    from mialth_utils.training.batched import _normalised

    rows = torch.arange(200)
    assert torch.equal(_normalised(data, dtype)(rows), data.normalise(data.train_x[rows]).to(dtype))
