"""One readable training function and a batched prediction helper.

Data stay on the device as uint8 tensors; batches are drawn by index, normalised and (optionally)
augmented on the fly. On CUDA the forward runs in bf16 autocast with channels_last.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn
from tqdm.auto import tqdm

from .data import TensorData, augment, shift
from .models import build_model


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


def make_model(name: str, data: TensorData, seed: int) -> nn.Module:
    """Build ``name`` for ``data`` with weights drawn from ``seed`` (global RNG left untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_model(name, data.input_shape, data.n_classes)
    return model.to(data.device)


def _optimizer(model: nn.Module, spec: TrainSpec, steps: int):
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


def _autocast(device: torch.device, precision: str = "fp32"):
    if precision == "bf16" and device.type in ("cuda", "cpu"):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def apply_masks(model: nn.Module, masks: dict[str, torch.Tensor] | None) -> None:
    """Zero the pruned weights in place (``masks``: parameter name -> bool tensor, True = kept)."""
    if not masks:
        return
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, mask in masks.items():
            params[name].mul_(mask.to(params[name].device, params[name].dtype))


def train(model: nn.Module, data: TensorData, train_idx: torch.Tensor, spec: TrainSpec, *, seed: int,
          masks: dict[str, torch.Tensor] | None = None, snapshot_step: int | None = None,
          hooks: tuple[Callable[[int, nn.Module, dict], None], ...] = (), desc: str = "train",
          log: Callable[[str], None] | None = print, progress: bool = True,
          teacher_logits: torch.Tensor | None = None, temperature: float = 4.0, alpha: float = 0.9) -> TrainResult:
    """Train ``model`` in place on ``data.train_x[train_idx]``.

    ``masks`` keep pruned weights exactly zero (re-applied after every step). ``snapshot_step``
    saves the weights after that many optimiser steps (0 = before training) for late rewinding.
    ``hooks`` are called as ``hook(epoch, model, stats)`` after every epoch. ``teacher_logits``
    (aligned with ``data.train_x``) switch on knowledge distillation (Hinton et al. 2015): loss =
    alpha * T^2 * KL(softmax(teacher/T) || softmax(student/T)) + (1 - alpha) * cross-entropy.
    """
    device = data.device
    train_idx = torch.as_tensor(train_idx, dtype=torch.long)
    if len(train_idx) == 0:
        raise ValueError("train_idx is empty: nothing to train on")
    gen = torch.Generator().manual_seed(seed)
    steps_per_epoch = math.ceil(len(train_idx) / spec.batch_size)
    opt, sched = _optimizer(model, spec, spec.epochs * steps_per_epoch)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=spec.label_smoothing)
    precision = resolve_precision(spec.precision, device)
    if any(isinstance(m, nn.Conv2d) for m in model.modules()):
        model = model.to(memory_format=torch.channels_last)
    result, step, start = TrainResult(), 0, time.perf_counter()
    apply_masks(model, masks)
    if snapshot_step == 0:
        result.snapshot = {k: v.detach().clone() for k, v in model.state_dict().items()}
    bar = tqdm(range(spec.epochs), desc=desc, leave=False, disable=not progress)
    for epoch in bar:
        model.train()
        order = train_idx[torch.randperm(len(train_idx), generator=gen)].to(device)
        total_loss, correct = torch.zeros((), device=device), torch.zeros((), device=device)
        for i in range(0, len(order), spec.batch_size):
            idx = order[i:i + spec.batch_size]
            xb, yb = data.train_x[idx], data.train_y[idx]
            if spec.augment:
                xb = augment(xb, gen)
            with _autocast(device, precision):
                out = model(data.normalise(xb))
                loss = loss_fn(out.float(), yb)
                if teacher_logits is not None:
                    soft = nn.functional.log_softmax(teacher_logits[idx].to(device).float() / temperature, 1)
                    kl = nn.functional.kl_div(nn.functional.log_softmax(out.float() / temperature, 1), soft,
                                              log_target=True, reduction="batchmean")
                    loss = alpha * temperature ** 2 * kl + (1 - alpha) * loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            apply_masks(model, masks)
            step += 1
            if snapshot_step is not None and step == snapshot_step:
                result.snapshot = {k: v.detach().clone() for k, v in model.state_dict().items()}
            total_loss += loss.detach() * len(idx)
            correct += (out.argmax(1) == yb).sum()
        stats = {"epoch": epoch + 1, "loss": total_loss.item() / len(order), "train_acc": correct.item() / len(order),
                 "lr": sched.get_last_lr()[0], "seconds": time.perf_counter() - start}
        for hook in hooks:
            hook(epoch + 1, model, stats)
        result.history.append(stats)
        bar.set_postfix(loss=f"{stats['loss']:.3f}", acc=f"{stats['train_acc']:.3f}")
        if log:
            log(f"{desc} epoch {epoch + 1}/{spec.epochs} loss {stats['loss']:.4f} train_acc {stats['train_acc']:.4f}"
                f" ({stats['seconds']:.1f}s)")
    result.seconds = time.perf_counter() - start
    result.precision = precision
    return result


# --------------------------------------------------------------------------- prediction
QUERY_SETS = {
    "none": ("id",),
    "flip": ("id", "flip"),
    "shifts": ("id", "flip", "shift:1:0", "shift:-1:0", "shift:0:1", "shift:0:-1"),
}
NOISE_QUERIES = tuple(f"noise:0.05:{k}" for k in range(4))  # for SAMIA's sensitivity and label-only attacks


def apply_query(x: torch.Tensor, query: str) -> torch.Tensor:
    """A deterministic query view of a uint8 batch, as float in [0, 1]: ``id``, ``flip``,
    ``shift:dx:dy`` or ``noise:sigma:k`` (Gaussian noise from seed k, clipped)."""
    kind, *args = query.split(":")
    xf = x.float() / 255.0
    if kind == "id":
        return xf
    if kind == "flip":
        return xf.flip(3)
    if kind == "shift":
        return shift(xf, int(args[0]), int(args[1]))
    if kind == "noise":
        gen = torch.Generator().manual_seed(int(args[1]) * 7919 + x.shape[0])
        noise = torch.randn(x.shape, generator=gen).to(x.device)
        return (xf + float(args[0]) * noise).clamp(0, 1)
    raise ValueError(f"unknown query {query!r}: use id, flip, shift:dx:dy or noise:sigma:k")


@torch.no_grad()
def predict_logits(model: nn.Module, data: TensorData, x: torch.Tensor, queries: tuple[str, ...] = ("id",),
                   batch_size: int = 2048) -> torch.Tensor:
    """Logits of ``model`` on uint8 images ``x`` under each query view: (n_queries, N, n_classes).

    Always computed in float32: attack signals such as LiRA's logit-scaled confidence need it."""
    model.eval()
    out = []
    for query in queries:
        chunks = []
        for i in range(0, len(x), batch_size):
            xb = x[i:i + batch_size].to(data.device)
            chunks.append(model(data.normalise(apply_query(xb, query))).float())
        out.append(torch.cat(chunks))
    return torch.stack(out).cpu()


@torch.no_grad()
def accuracy(model: nn.Module, data: TensorData, x: torch.Tensor, y: torch.Tensor, batch_size: int = 4096) -> float:
    logits = predict_logits(model, data, x, ("id",), batch_size)[0]
    return (logits.argmax(1) == y.cpu()).float().mean().item()
