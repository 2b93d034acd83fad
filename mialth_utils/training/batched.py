"""Several MLPs of one architecture trained together in one pass: grouped ``torch.bmm`` layers.

The models of one level of a model set (target, references, controls) share architecture, recipe and
step count and differ only in their data rows, masks and seeds, so their steps can run as one batched
matrix product per layer instead of one small product per model: on a CPU core the per-step overhead
of small tensors, not arithmetic, bounds the per-model loop (README, Speed). Each model keeps what the
per-model loop (``loop.train``) gives it: its own ``torch.Generator(seed)`` batch order, its own
initial weights and masks (re-applied after every step), SGD with Nesterov momentum and weight decay
(torch.optim.SGD's fused kernel on the stacked parameters) on the spec's schedule,
and the same cross-entropy with label smoothing. Forward and backward are written out (an MLP's
gradients are three products per layer), which removes autograd's bookkeeping from every step.

Chosen by measurement (2 cores, bf16, 9 LeNet-300-100, batch 128): ``vmap(functional_call)`` over
stacked module states ran at 0.98x the per-model loop, autograd through ``baddbmm`` at 1.6x, the
hand-written products here at the ratio the bench reports (``bench.batched``). Other architectures,
DP-SGD, PPB, early stopping, distillation (a custom loss), augmentation and Adam are not batched:
``why_not_batched`` names the reason and callers fall back to ``loop.train`` per model.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import torch
from torch import nn

from ..data.registry import TensorData
from ..sparsity.masks import Masks
from .loop import TrainResult, TrainSpec, lr_lambda, resolve_precision

log = logging.getLogger(__name__)


@dataclass
class Job:
    """One model of a batch: its network (trained in place), examples, seed, masks and snapshot step."""

    net: nn.Module
    train_idx: torch.Tensor
    seed: int
    masks: Masks | None = None
    snapshot_step: int | None = None


def mlp_linears(net: nn.Module) -> list[tuple[str, nn.Linear]] | None:
    """(name, layer) of every Linear of an MLP (Flatten, then Linear and ReLU alternating, a Linear
    last), or None for any other architecture."""
    leaves = [(n, m) for n, m in net.named_modules() if not list(m.children())]
    kinds = [type(m) for _, m in leaves]
    if len(kinds) < 2 or kinds[0] is not nn.Flatten or kinds[-1] is not nn.Linear:
        return None
    body = kinds[1:]
    if any(k is not (nn.Linear if i % 2 == 0 else nn.ReLU) for i, k in enumerate(body)):
        return None
    return [(n, m) for n, m in leaves if isinstance(m, nn.Linear)]


def why_not_batched(jobs: list[Job], spec: TrainSpec, custom_loss: bool = False) -> str | None:
    """Why these jobs cannot train in one batched pass (None: they can)."""
    reasons = [(spec.optimizer != "sgd", f"optimizer {spec.optimizer}"), (spec.dp, "DP-SGD"),
               (bool(spec.ppb_lambda), "PPB"), (bool(spec.early_stop_patience), "early stopping"),
               (spec.augment, "augmentation"), (custom_loss, "a custom loss (distillation)")]
    for flag, reason in reasons:
        if flag:
            return reason
    shapes = []
    for job in jobs:
        linears = mlp_linears(job.net)
        if linears is None:
            return f"{type(job.net).__name__} is not an MLP (Flatten, Linear, ReLU, ..., Linear)"
        shapes.append(tuple(tuple(m.weight.shape) for _, m in linears))
    if len(set(shapes)) > 1:
        return "the models differ in layer shapes"
    if len({steps_per_epoch(len(job.train_idx), spec.batch_size) for job in jobs}) > 1:
        return "the models take different numbers of steps per epoch (their schedules differ)"
    if any(len(job.train_idx) == 0 for job in jobs):
        return "a model has no examples to train on"
    return None


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """Optimiser steps of one epoch (the last batch may be smaller): models with as many share a pass."""
    return math.ceil(n_train / batch_size)


def batched_sgd(params: list[torch.Tensor], spec: TrainSpec) -> list[torch.optim.SGD]:
    """torch.optim.SGD as ``loop.make_optimizer`` sets it up, on the stacked parameters: its fused kernel
    (one pass over each parameter instead of five; on a CPU core the optimiser's memory traffic costs
    more than the products at these sizes) for parameters of a multiple of 64 values a model, the
    default kernel for the others (the fused kernel's scalar tail rounds differently from its vector
    body, which would make a model's bits depend on its place in the stack). Equal to the default
    kernel to float tolerance (tests/test_batched.py)."""
    kw = {"lr": spec.lr, "momentum": spec.momentum, "weight_decay": spec.weight_decay, "nesterov": True}
    fused = [p for p in params if (p[0].numel() % 64) == 0]
    plain = [p for p in params if (p[0].numel() % 64) != 0]
    return ([torch.optim.SGD(fused, fused=True, **kw)] if fused else []) + \
        ([torch.optim.SGD(plain, foreach=False, **kw)] if plain else [])


class _Stack:
    """The models' weights as (M, in, out) and biases as (M, 1, out) float32, with 0/1 masks alike."""

    def __init__(self, jobs: list[Job]):
        layers = [mlp_linears(job.net) for job in jobs]
        self.names = [name for name, _ in layers[0]]
        with torch.no_grad():
            self.weights = [torch.stack([ls[k][1].weight.detach().t() for ls in layers]).contiguous().float()
                            for k in range(len(self.names))]
            self.biases = [torch.stack([ls[k][1].bias.detach() for ls in layers]).unsqueeze(1).float().contiguous()
                           for k in range(len(self.names))]
        self.masks = ([self._mask(jobs, w, f"{name}.weight", True) for name, w in zip(self.names, self.weights)]
                      + [self._mask(jobs, b, f"{name}.bias", False) for name, b in zip(self.names, self.biases)])
        self.params = self.weights + self.biases
        self.apply_masks()

    @staticmethod
    def _mask(jobs, tensor, name, transpose):
        """The jobs' masks of one parameter, stacked in its layout (None when no job masks it)."""
        if not any(job.masks and name in job.masks for job in jobs):
            return None
        rows = []
        for job, row in zip(jobs, tensor):
            mask = job.masks.get(name) if job.masks else None
            if mask is None or bool(mask.all()):
                rows.append(torch.ones_like(row))
            else:
                mask = mask.to(row.device, row.dtype)
                rows.append(mask.t() if transpose else mask.reshape(row.shape))
        stacked = torch.stack(rows).contiguous()
        return None if bool(stacked.all()) else stacked  # all kept (level 0): nothing to re-apply

    @torch.no_grad()
    def apply_masks(self) -> None:
        for p, mask in zip(self.params, self.masks):
            if mask is not None:
                p.mul_(mask)

    def state_dict(self, m: int) -> dict:
        out = {}
        for name, w, b in zip(self.names, self.weights, self.biases):
            out[f"{name}.weight"] = w[m].t().contiguous().clone()
            out[f"{name}.bias"] = b[m, 0].clone()
        return out


def _forward_backward(stack: _Stack, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor, dtype: torch.dtype,
                      smoothing: float):
    """Per-model cross-entropy (M,) averaged with the per-example ``weight`` (M, B) (1 / the model's
    batch size, 0 on padding), logits (M, B, C) and the gradients of every stacked parameter."""
    weights = [w.to(dtype) for w in stack.weights]
    acts, h = [], x.to(dtype)
    for k, (w, b) in enumerate(zip(weights, stack.biases)):
        acts.append(h)
        h = torch.baddbmm(b.to(dtype), h, w)
        if k < len(weights) - 1:
            h = h.relu()
    logits = h.float()
    n_classes = logits.shape[-1]
    logp = logits.log_softmax(-1)
    target = torch.full_like(logp, smoothing / n_classes)
    target.scatter_add_(-1, y.unsqueeze(-1), torch.full_like(logp[..., :1], 1.0 - smoothing))
    loss = (-(target * logp).sum(-1) * weight).sum(1)
    grad = ((logp.exp() - target) * weight.unsqueeze(-1)).to(dtype)
    grad_w, grad_b = [None] * len(weights), [None] * len(weights)
    for k in range(len(weights) - 1, -1, -1):
        grad_w[k] = torch.bmm(acts[k].transpose(1, 2), grad).float()
        grad_b[k] = grad.sum(1, keepdim=True).float()
        if k:
            grad = torch.bmm(grad, weights[k].transpose(1, 2)) * (acts[k] > 0)
    return loss, logits, grad_w + grad_b


def _normalised(data: TensorData, dtype: torch.dtype):
    """rows -> the normalised training images in ``dtype``, ``data.normalise``'s values: for uint8
    single-channel images through a 256-entry table of them (one pass instead of four)."""
    if data.train_x.dtype != torch.uint8 or data.train_x.shape[1] != 1:
        return lambda rows: data.normalise(data.train_x[rows]).to(dtype)
    table = data.normalise(torch.arange(256, dtype=torch.uint8, device=data.device).view(256, 1, 1, 1))
    table = table.reshape(256).to(dtype)
    return lambda rows: table[data.train_x[rows].long()]


def _epoch_order(idx: list[torch.Tensor], gens: list[torch.Generator], steps: int, batch_size: int):
    """Each model's shuffled examples (``loop._shuffled``'s order), padded to ``steps`` full batches,
    and the per-example weights: 1 / the size of the model's own batch, 0 on the padding. Always padded
    to full batches, so a model's arithmetic does not depend on the models it shares the pass with."""
    orders = torch.zeros(len(idx), steps * batch_size, dtype=torch.long)
    weight = torch.zeros(len(idx), steps * batch_size)
    for m, (i, g) in enumerate(zip(idx, gens)):
        order = i[torch.randperm(len(i), generator=g)]
        orders[m] = order[0]
        orders[m, :len(order)] = order
        sizes = torch.tensor([len(order[lo:lo + batch_size]) for lo in range(0, steps * batch_size, batch_size)])
        weight[m] = torch.where(torch.arange(steps * batch_size) < len(order),
                                1.0 / sizes.clamp(min=1).repeat_interleave(batch_size), 0.0)
    return orders, weight


def train_batched(jobs: list[Job], data: TensorData, spec: TrainSpec, desc: str = "batched") -> list[TrainResult]:
    """Train every job's MLP in place, together; one ``TrainResult`` per job (as ``loop.train`` gives)."""
    reason = why_not_batched(jobs, spec)
    if reason:
        raise ValueError(f"these models cannot train batched ({reason}): train them one by one with loop.train")
    device, n_models, batch_size = data.device, len(jobs), spec.batch_size
    idx = [torch.as_tensor(job.train_idx, dtype=torch.long) for job in jobs]
    sizes = torch.tensor([len(i) for i in idx], dtype=torch.float32, device=device)
    per_epoch = math.ceil(len(idx[0]) / batch_size)
    schedule = lr_lambda(spec, spec.epochs * per_epoch)
    precision = resolve_precision(spec.precision, device)
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    gens = [torch.Generator().manual_seed(job.seed) for job in jobs]
    inputs = _normalised(data, dtype)
    stack, results = _Stack(jobs), [TrainResult(precision=precision) for _ in jobs]
    opts = batched_sgd(stack.params, spec)
    _snapshot(stack, jobs, results, 0)
    start, step = time.perf_counter(), 0
    for epoch in range(spec.epochs):
        orders, weights = (t.to(device) for t in _epoch_order(idx, gens, per_epoch, batch_size))
        total_loss = torch.zeros(n_models, device=device)
        correct = torch.zeros(n_models, device=device)
        for lo in range(0, per_epoch * batch_size, batch_size):
            rows, weight = orders[:, lo:lo + batch_size], weights[:, lo:lo + batch_size]
            x = inputs(rows.reshape(-1)).reshape(n_models, batch_size, -1)
            y = data.train_y[rows]
            loss, logits, grads = _forward_backward(stack, x, y, weight, dtype, spec.label_smoothing)
            for p, g in zip(stack.params, grads):
                p.grad = g
            for opt in opts:
                opt.param_groups[0]["lr"] = spec.lr * schedule(step)
                opt.step()
            stack.apply_masks()
            step += 1
            _snapshot(stack, jobs, results, step)
            real = weight > 0
            total_loss += loss * real.sum(1)
            correct += ((logits.argmax(-1) == y) & real).sum(1)
        lr = spec.lr * schedule(step)
        for m, result in enumerate(results):
            result.history.append({"loss": (total_loss[m] / sizes[m]).item(), "train_acc": (correct[m] / sizes[m]).item(),
                                   "lr": lr, "epoch": epoch + 1, "seconds": time.perf_counter() - start})
        log.debug("%s epoch %d/%d mean loss %.4f", desc, epoch + 1, spec.epochs, (total_loss / sizes).mean().item())
    seconds = time.perf_counter() - start
    for m, (job, result) in enumerate(zip(jobs, results)):
        job.net.load_state_dict(stack.state_dict(m))
        result.seconds = seconds / n_models
    return results


def _snapshot(stack: _Stack, jobs: list[Job], results: list[TrainResult], step: int) -> None:
    for m, (job, result) in enumerate(zip(jobs, results)):
        if job.snapshot_step is not None and job.snapshot_step == step:
            result.snapshot = stack.state_dict(m)
