"""Benchmark: a level's models trained one by one (``loop.train``) vs together (``batched.train_batched``),
and the trainer's arithmetic rate beside a bare matmul of the same shapes on the same threads.

The quick profile's level: 9 models on 2000 members each, batch 128 (fewer epochs than its 30: the
ratio is per step). Both sides in this process, one after the other, after an untimed warm-up. The
core's limit is the rate of the same layers' forward and backward products (``torch.bmm`` over the 9
models, in the trainer's precision) with nothing else; the trainer's GFLOP/s count the same
6 x multiply-adds per example (forward, input and weight gradients) as ``plan.seconds_per_example``.
"""
from __future__ import annotations

import logging
import time

import torch

log = logging.getLogger(__name__)


def _jobs(data, model: str, n_models: int, n_train: int):
    from ..models import make_model
    from ..training.batched import Job

    gen = torch.Generator().manual_seed(0)
    return [Job(make_model(model, data, seed=m), torch.randperm(len(data.train_y), generator=gen)[:n_train], seed=m)
            for m in range(n_models)]


def layer_shapes(net) -> list[tuple[int, int]]:
    from ..training.batched import mlp_linears

    linears = mlp_linears(net)
    return [(m.in_features, m.out_features) for _, m in linears] if linears else []


def matmul_rate(shapes: list[tuple[int, int]], n_models: int, batch_size: int, dtype, device, seconds: float = 1.0):
    """GFLOP/s of the products of one training step (forward, weight and input gradients) of
    ``n_models`` MLPs of ``shapes`` through ``torch.bmm``, nothing else."""
    x = torch.randn(n_models, batch_size, shapes[0][0], device=device).to(dtype)
    weights = [torch.randn(n_models, i, o, device=device).to(dtype) for i, o in shapes]
    flops = 6 * sum(i * o for i, o in shapes) * batch_size * n_models

    def step():
        acts = [x]
        for w in weights:
            acts.append(torch.bmm(acts[-1], w))
        grad = acts[-1]
        for k in range(len(weights) - 1, -1, -1):
            torch.bmm(acts[k].transpose(1, 2), grad)
            grad = torch.bmm(grad, weights[k].transpose(1, 2))
    for _ in range(3):
        step()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        n += 1
    if device.type == "cuda":
        torch.cuda.synchronize()
    return flops * n / (time.perf_counter() - start) / 1e9


def benchmark(model: str = "lenet-300-100", device: str = "auto", **sizes) -> dict:
    """``_benchmark`` with the torch threads of a model set's units (``MIALTH_UNIT_THREADS``, default 1)."""
    from ..executor import unit_threads

    before = torch.get_num_threads()
    torch.set_num_threads(unit_threads())
    try:
        return _benchmark(model, device, **sizes)
    finally:
        torch.set_num_threads(before)


def _benchmark(model: str = "lenet-300-100", device: str = "auto", n_models: int = 9, n_train: int = 2000,
               batch_size: int = 128, epochs: int = 3, dataset: str = "fashion-mnist") -> dict:
    """Seconds of one level trained per model and batched, their ratio, and the GFLOP/s of each
    beside the same-shape matmul rate (MLPs only)."""
    from ..data.registry import load_dataset
    from ..runtime import resolve_device
    from ..training.batched import train_batched, why_not_batched
    from ..training.loop import TrainSpec, resolve_precision, train

    data = load_dataset(dataset, device=resolve_device(device))
    spec = TrainSpec(epochs=epochs, batch_size=batch_size)
    warm = TrainSpec(epochs=1, batch_size=batch_size)
    reason = why_not_batched(_jobs(data, model, 2, 256), spec)
    if reason is None:  # untimed warm-up of both sides
        for job in _jobs(data, model, 2, 256):
            train(job.net, data, job.train_idx, warm, seed=job.seed, bar=False)
        train_batched(_jobs(data, model, 2, 256), data, warm)
    jobs = _jobs(data, model, n_models, n_train)
    per_model = batched = float("nan")
    if reason is None:  # (a model that is not batched trains per model on both sides: nothing to compare)
        start = time.perf_counter()
        for job in jobs:
            train(job.net, data, job.train_idx, spec, seed=job.seed, bar=False)
        _sync(data.device)
        per_model = time.perf_counter() - start
        jobs = _jobs(data, model, n_models, n_train)
        start = time.perf_counter()
        train_batched(jobs, data, spec)
        _sync(data.device)
        batched = time.perf_counter() - start
    row = {"model": model, "device": str(data.device), "threads": torch.get_num_threads(), "n_models": n_models,
           "n_train": n_train, "batch_size": batch_size, "epochs": epochs,
           "precision": resolve_precision(spec.precision, data.device), "per_model_seconds": per_model,
           "batched_seconds": batched, "ratio": per_model / batched if reason is None else 1.0,
           "not_batched_because": reason or ""}
    shapes = layer_shapes(jobs[0].net)
    if shapes:
        flops = 6 * sum(i * o for i, o in shapes) * n_train * epochs * n_models
        dtype = torch.bfloat16 if row["precision"] == "bf16" else torch.float32
        row.update(per_model_gflops=flops / per_model / 1e9, batched_gflops=flops / batched / 1e9,
                   matmul_gflops=matmul_rate(shapes, n_models, batch_size, dtype, data.device))
        row["batched_share_of_matmul"] = row["batched_gflops"] / row["matmul_gflops"]
    log.info("%s, %d models x %d examples x %d epochs on %s: per model %.2f s, batched %.2f s (%.2fx)%s", model,
             n_models, n_train, epochs, data.device, per_model, batched, row["ratio"],
             f"; not batched: {reason}" if reason else "")
    return row


def _sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()
