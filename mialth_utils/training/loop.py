"""One training loop: a frozen ``TrainSpec``, optional masks, and hooks for the loss and each epoch.

Data stay on the device as uint8 tensors; batches are drawn by index, normalised and (optionally)
augmented on the fly. bf16 autocast where the hardware does bf16 natively (``precision="auto"``).
Distillation (and, later, defences) plug in through ``loss``: a callable
``loss(outputs, batch_idx, targets) -> scalar``; ``cross_entropy(spec)`` is the default.
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from ..data.registry import TensorData
from ..data.views import augment
from ..log import progress
from ..sparsity.masks import Masks, apply_masks

log = logging.getLogger(__name__)
LossHook = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
EpochHook = Callable[[int, nn.Module, dict], None]


@dataclass(frozen=True)
class TrainSpec:
    """Training settings; part of every cached model's spec."""

    epochs: int = 20
    batch_size: int = 128
    optimizer: str = "sgd"  # sgd | adam
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "cosine"  # cosine | step | constant
    label_smoothing: float = 0.0
    augment: bool = False
    precision: str = "auto"  # auto (bf16 autocast where the hardware does bf16 natively) | bf16 | fp32

    def __post_init__(self):
        if self.precision not in ("auto", "bf16", "fp32"):
            raise ValueError(f"precision must be 'auto', 'bf16' or 'fp32', got {self.precision!r}")
        if self.optimizer not in ("sgd", "adam"):
            raise ValueError(f"optimizer must be 'sgd' or 'adam', got {self.optimizer!r}")
        if self.schedule not in ("cosine", "step", "constant"):
            raise ValueError(f"schedule must be 'cosine', 'step' or 'constant', got {self.schedule!r}")
        if not isinstance(self.epochs, int) or self.epochs < 0:
            raise ValueError(f"epochs must be a non-negative int, got {self.epochs!r}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class TrainResult:
    history: list[dict] = field(default_factory=list)
    snapshot: dict | None = None  # weights saved at ``snapshot_step`` (for late rewinding)
    seconds: float = 0.0
    precision: str = "fp32"


def make_optimizer(model: nn.Module, spec: TrainSpec, steps: int):
    params = [p for p in model.parameters() if p.requires_grad]
    if spec.optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=spec.lr, momentum=spec.momentum, weight_decay=spec.weight_decay, nesterov=True)
    else:
        opt = torch.optim.Adam(params, lr=spec.lr, weight_decay=spec.weight_decay)
    if spec.schedule == "cosine":
        fn = lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / max(steps, 1)))  # noqa: E731
    elif spec.schedule == "step":
        fn = lambda s: 0.1 ** ((s >= steps // 2) + (s >= 3 * steps // 4))  # noqa: E731
    else:
        fn = lambda s: 1.0  # noqa: E731
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, fn)


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` -> ``bf16`` on CUDA with bf16 support or a CPU with oneDNN bf16 kernels, else ``fp32``."""
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type == "cpu":
        return "bf16" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "fp32"
    return "fp32"


def autocast(device: torch.device, precision: str = "fp32"):
    if precision == "bf16" and device.type in ("cuda", "cpu"):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def cross_entropy(spec: TrainSpec) -> LossHook:
    """The default loss hook: cross-entropy with the spec's label smoothing."""
    fn = nn.CrossEntropyLoss(label_smoothing=spec.label_smoothing)
    return lambda outputs, batch_idx, targets: fn(outputs.float(), targets)


def distillation_loss(spec: TrainSpec, teacher_logits: torch.Tensor, temperature: float = 4.0,
                      alpha: float = 0.9) -> LossHook:
    """Knowledge distillation (Hinton et al. 2015) as a loss hook; ``teacher_logits`` are aligned with
    ``data.train_x``: alpha * T^2 * KL(softmax(teacher/T) || softmax(student/T)) + (1 - alpha) * CE."""
    ce = cross_entropy(spec)

    def loss(outputs, batch_idx, targets):
        soft = nn.functional.log_softmax(teacher_logits[batch_idx].to(outputs.device).float() / temperature, 1)
        kl = nn.functional.kl_div(nn.functional.log_softmax(outputs.float() / temperature, 1), soft,
                                  log_target=True, reduction="batchmean")
        return alpha * temperature ** 2 * kl + (1 - alpha) * ce(outputs, batch_idx, targets)
    return loss


def train(model: nn.Module, data: TensorData, train_idx: torch.Tensor, spec: TrainSpec, *, seed: int,
          masks: Masks | None = None, snapshot_step: int | None = None, loss: LossHook | None = None,
          hooks: tuple[EpochHook, ...] = (), desc: str = "train", bar: bool = True) -> TrainResult:
    """Train ``model`` in place on ``data.train_x[train_idx]``.

    ``masks`` keep pruned weights exactly zero (re-applied after every step). ``snapshot_step`` saves
    the weights after that many optimiser steps (0 = before training) for late rewinding. ``loss``
    replaces cross-entropy; ``hooks`` are called as ``hook(epoch, model, stats)`` after every epoch;
    ``bar=False`` hides the per-epoch progress bar (model sets show one bar for all their models).
    """
    device = data.device
    train_idx = torch.as_tensor(train_idx, dtype=torch.long)
    if len(train_idx) == 0:
        raise ValueError("train_idx is empty: nothing to train on")
    gen = torch.Generator().manual_seed(seed)
    opt, sched = make_optimizer(model, spec, spec.epochs * math.ceil(len(train_idx) / spec.batch_size))
    loss = loss or cross_entropy(spec)
    precision = resolve_precision(spec.precision, device)
    if any(isinstance(m, nn.Conv2d) for m in model.modules()):
        model = model.to(memory_format=torch.channels_last)
    result, state = TrainResult(precision=precision), {"step": 0}
    apply_masks(model, masks)
    if snapshot_step == 0:
        result.snapshot = {k: v.detach().clone() for k, v in model.state_dict().items()}
    start = time.perf_counter()
    for epoch in progress(range(spec.epochs), desc=desc, leave=False, disable=not bar):
        stats = _epoch(model, data, train_idx, spec, gen, opt, sched, loss, precision, masks, snapshot_step,
                       result, state)
        stats.update(epoch=epoch + 1, seconds=time.perf_counter() - start)
        for hook in hooks:
            hook(epoch + 1, model, stats)
        result.history.append(stats)
        log.debug("%s epoch %d/%d loss %.4f train_acc %.4f (%.1fs)", desc, epoch + 1, spec.epochs, stats["loss"],
                  stats["train_acc"], stats["seconds"])
    result.seconds = time.perf_counter() - start
    return result


def _epoch(model, data, train_idx, spec, gen, opt, sched, loss, precision, masks, snapshot_step, result,
           state) -> dict:
    """One pass over ``train_idx`` in a seeded order; returns mean loss, accuracy and learning rate."""
    model.train()
    device = data.device
    order = train_idx[torch.randperm(len(train_idx), generator=gen)].to(device)
    total_loss, correct = torch.zeros((), device=device), torch.zeros((), device=device)
    for i in range(0, len(order), spec.batch_size):
        idx = order[i:i + spec.batch_size]
        xb, yb = data.train_x[idx], data.train_y[idx]
        if spec.augment:
            xb = augment(xb, gen)
        with autocast(device, precision):
            out = model(data.normalise(xb))
            batch_loss = loss(out, idx, yb)
        opt.zero_grad(set_to_none=True)
        batch_loss.backward()
        opt.step()
        sched.step()
        apply_masks(model, masks)
        state["step"] += 1
        if snapshot_step is not None and state["step"] == snapshot_step:
            result.snapshot = {k: v.detach().clone() for k, v in model.state_dict().items()}
        total_loss += batch_loss.detach() * len(idx)
        correct += (out.argmax(1) == yb).sum()
    return {"loss": total_loss.item() / len(order), "train_acc": correct.item() / len(order),
            "lr": sched.get_last_lr()[0]}
