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
import warnings
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from ..data.registry import TensorData
from ..data.views import augment
from ..log import progress
from ..sparsity.masks import Masks, apply_masks, as_multipliers
from .defences import EarlyStopping, make_private, ppb_loss

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
    # defences; hashed only when set, so that older artefacts keep their hashes
    target_epsilon: float = 0.0  # DP-SGD with Opacus when > 0: the epsilon one training run may spend
    delta: float = 0.0  # DP delta; 0 means 1 / n_train
    max_grad_norm: float = 1.0  # DP-SGD per-example clipping norm
    ppb_lambda: float = 0.0  # PPB (Yuan & Zhang 2022): weight of the KL term between sorted posteriors
    early_stop_patience: int = 0  # > 0: stop when held-out accuracy has not improved for that many epochs

    def __post_init__(self):
        if self.precision not in ("auto", "bf16", "fp32"):
            raise ValueError(f"precision must be 'auto', 'bf16' or 'fp32', got {self.precision!r}")
        if self.optimizer not in ("sgd", "adam"):
            raise ValueError(f"optimizer must be 'sgd' or 'adam', got {self.optimizer!r}")
        if self.schedule not in ("cosine", "step", "constant"):
            raise ValueError(f"schedule must be 'cosine', 'step' or 'constant', got {self.schedule!r}")
        if not isinstance(self.epochs, int) or self.epochs < 0:
            raise ValueError(f"epochs must be a non-negative int, got {self.epochs!r}")
        if self.target_epsilon < 0 or self.ppb_lambda < 0 or self.max_grad_norm <= 0 or self.delta < 0:
            raise ValueError("target_epsilon, delta and ppb_lambda must be >= 0 and max_grad_norm > 0")
        if self.target_epsilon and self.ppb_lambda:
            raise ValueError("PPB's batch-pair term breaks DP-SGD's per-example gradients: use one of "
                             "target_epsilon and ppb_lambda, not both")

    @property
    def dp(self) -> bool:
        return self.target_epsilon > 0

    def to_dict(self) -> dict:
        """The hashed form: fields added later enter it only when set to a non-default value."""
        out = dataclasses.asdict(self)
        for name, default in LATER_FIELDS.items():
            if out[name] == default:
                del out[name]
        return out


LATER_FIELDS = {"target_epsilon": 0.0, "delta": 0.0, "max_grad_norm": 1.0, "ppb_lambda": 0.0,
                "early_stop_patience": 0}


@dataclass
class TrainResult:
    history: list[dict] = field(default_factory=list)
    snapshot: dict | None = None  # weights saved at ``snapshot_step`` (for late rewinding)
    seconds: float = 0.0
    precision: str = "fp32"
    privacy: dict = field(default_factory=dict)  # DP-SGD's achieved epsilon, early stopping's epoch


def make_optimizer(model: nn.Module, spec: TrainSpec, steps: int):
    params = [p for p in model.parameters() if p.requires_grad]
    if spec.optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=spec.lr, momentum=spec.momentum, weight_decay=spec.weight_decay, nesterov=True)
    else:
        opt = torch.optim.Adam(params, lr=spec.lr, weight_decay=spec.weight_decay)
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(spec, steps))


def lr_lambda(spec: TrainSpec, steps: int) -> Callable[[int], float]:
    """The schedule's factor of the base learning rate after ``s`` of ``steps`` optimiser steps."""
    if spec.schedule == "cosine":
        return lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / max(steps, 1)))
    if spec.schedule == "step":
        return lambda s: 0.1 ** ((s >= steps // 2) + (s >= 3 * steps // 4))
    return lambda s: 1.0


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


def default_loss(spec: TrainSpec) -> LossHook:
    """Cross-entropy with the spec's label smoothing, plus PPB's term when ``ppb_lambda`` is set."""
    base = cross_entropy(spec)
    return ppb_loss(base, spec.ppb_lambda) if spec.ppb_lambda else base


# 12 parameters: the run (model, data, rows, spec, seed) and optional keyword-only hooks (masks, snapshot,
# loss, epoch hooks, held-out set, progress): every caller sets a different few, each with a default.
def train(model: nn.Module, data: TensorData, train_idx: torch.Tensor, spec: TrainSpec, *, seed: int,
          masks: Masks | None = None, snapshot_step: int | None = None, loss: LossHook | None = None,
          hooks: tuple[EpochHook, ...] = (), desc: str = "train", bar: bool = True,
          heldout: tuple[torch.Tensor, torch.Tensor] | None = None) -> TrainResult:
    """Train ``model`` in place on ``data.train_x[train_idx]``.

    ``masks`` keep pruned weights exactly zero (re-applied after every step, DP-SGD's noisy steps
    included). ``snapshot_step`` saves the weights after that many optimiser steps (0 = before
    training) for late rewinding. ``loss`` replaces the default loss (``default_loss``); ``hooks`` are
    called as ``hook(epoch, model, stats)`` after every epoch; ``bar=False`` hides the per-epoch
    progress bar. Defences come from ``spec``: DP-SGD (``target_epsilon``; the model must have gone
    through ``defences.dp_compatible``; the achieved epsilon lands in ``result.privacy``) and early
    stopping on ``heldout`` (uint8 x, y) when ``early_stop_patience`` is set.
    """
    device = data.device
    train_idx = torch.as_tensor(train_idx, dtype=torch.long)
    if len(train_idx) == 0:
        raise ValueError("train_idx is empty: nothing to train on")
    if spec.early_stop_patience and heldout is None:
        raise ValueError("early_stop_patience needs a held-out set: pass heldout=(x, y)")
    gen = torch.Generator().manual_seed(seed)
    steps = spec.epochs * math.ceil(len(train_idx) / spec.batch_size)
    opt, sched = make_optimizer(model, spec, steps)
    if spec.dp and loss is not None:
        raise ValueError("DP-SGD trains with its own per-example cross-entropy: a custom loss hook "
                         "(distillation, PPB) cannot be combined with target_epsilon")
    loss = loss or default_loss(spec)
    precision = "fp32" if spec.dp else resolve_precision(spec.precision, device)  # per-example grads in fp32
    if any(isinstance(m, nn.Conv2d) for m in model.modules()):
        model = model.to(memory_format=torch.channels_last)
    result = TrainResult(precision=precision)
    masks = as_multipliers(model, masks)
    apply_masks(model, masks)
    if snapshot_step == 0:
        result.snapshot = {k: v.detach().clone() for k, v in model.state_dict().items()}
    private = make_private(model, opt, train_idx, spec, seed) if spec.dp else None
    if private is not None:
        opt, sched = private.optimizer, torch.optim.lr_scheduler.LambdaLR(private.optimizer, sched.lr_lambdas[0])
        if private.criterion is not None:
            loss = lambda outputs, batch_idx, targets: private.criterion(outputs, targets)  # noqa: E731
    stopper = EarlyStopping(spec.early_stop_patience, heldout, data.normalise) if spec.early_stop_patience else None
    forward = private.module if private else model
    start = time.perf_counter()
    with warnings.catch_warnings():
        # Opacus' hooks warn on every backward that the input needs no gradient (it never does here)
        warnings.filterwarnings("ignore", message="Full backward hook is firing", category=UserWarning)
        run = _Run(forward, model, data, spec, gen, opt, sched, loss, precision, masks, snapshot_step, result)
        _epochs(run, train_idx, private, stopper, hooks, desc, bar, start)
    if private is not None:
        result.privacy = private.report()
        private.close()
    if stopper is not None:
        result.privacy.update(stopper.restore(model))
    result.seconds = time.perf_counter() - start
    return result


@dataclass
class _Run:
    """What every step of one training run uses (``forward`` is the model, or Opacus' wrapper of it)."""

    forward: nn.Module
    model: nn.Module
    data: TensorData
    spec: TrainSpec
    gen: torch.Generator
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LRScheduler
    loss: LossHook
    precision: str
    masks: Masks | None
    snapshot_step: int | None
    result: TrainResult
    step: int = 0


def _epochs(run: _Run, train_idx, private, stopper, hooks, desc, bar, start) -> None:
    for epoch in progress(range(run.spec.epochs), desc=desc, leave=False, disable=not bar):
        batches = ((b[0] for b in private.loader) if private else _shuffled(train_idx, run.spec.batch_size, run.gen))
        stats = _epoch(run, batches)
        stats.update(epoch=epoch + 1, seconds=time.perf_counter() - start)
        for hook in hooks:
            hook(epoch + 1, run.model, stats)
        run.result.history.append(stats)
        log.debug("%s epoch %d/%d loss %.4f train_acc %.4f (%.1fs)", desc, epoch + 1, run.spec.epochs, stats["loss"],
                  stats["train_acc"], stats["seconds"])
        if stopper is not None and stopper.update(epoch + 1, run.model):
            break


def _shuffled(train_idx: torch.Tensor, batch_size: int, gen: torch.Generator):
    order = train_idx[torch.randperm(len(train_idx), generator=gen)]
    return (order[i:i + batch_size] for i in range(0, len(order), batch_size))


def _epoch(run: _Run, batches) -> dict:
    """One pass over the batches of indices; returns mean loss, accuracy and learning rate."""
    run.forward.train()
    data, device = run.data, run.data.device
    total_loss, correct = torch.zeros((), device=device), torch.zeros((), device=device)
    seen = 0
    for idx in batches:
        if len(idx) == 0:  # an empty Poisson batch (probability (1 - q)^n, negligible at the sizes used)
            continue
        idx = idx.to(device)
        xb, yb = data.train_x[idx], data.train_y[idx]
        if run.spec.augment:
            xb = augment(xb, run.gen)
        with autocast(device, run.precision):
            out = run.forward(data.normalise(xb))
            batch_loss = run.loss(out, idx, yb)
        run.opt.zero_grad(set_to_none=True)
        batch_loss.backward()
        run.opt.step()
        run.sched.step()
        apply_masks(run.model, run.masks)
        run.step += 1
        if run.snapshot_step is not None and run.step == run.snapshot_step:
            run.result.snapshot = {k: v.detach().clone() for k, v in run.model.state_dict().items()}
        total_loss += batch_loss.detach() * len(idx)
        correct += (out.argmax(1) == yb).sum()
        seen += len(idx)
    seen = max(seen, 1)
    return {"loss": total_loss.item() / seen, "train_acc": correct.item() / seen, "lr": run.sched.get_last_lr()[0]}
