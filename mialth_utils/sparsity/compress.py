"""Compression methods applied identically to a target and its reference models (paper P2, E6):
one-shot magnitude pruning + fine-tuning, L1 structured pruning (Li et al. 2016), post-training
per-channel quantization (fake-quant), and knowledge distillation (Hinton et al. 2015)."""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import torch
from torch import nn

from ..models import make_model
from ..training.loop import TrainSpec, distillation_loss, train
from ..training.predict import predict_logits
from .masks import counted_sparsity, one_shot_masks, prunable_names, structured_masks

METHODS = ("prune", "structured", "quant", "distill", "imp")


@dataclass(frozen=True)
class Compression:
    """``prune``: one-shot magnitude pruning to ``amount`` sparsity + fine-tuning; ``structured``: L1
    filter / neuron pruning of ``amount`` of each layer + fine-tuning; ``quant``: weights (and
    activations) to ``amount`` bits; ``distill``: a student of architecture ``amount``; ``imp``: the
    lottery ticket at level ``amount`` of the base model set. (``amount``'s meaning follows the
    method; the named views ``sparsity``, ``bits``, ``student`` and ``level`` say which it is.)"""

    method: str
    amount: float | int | str
    finetune_epochs: int = 5
    activations: bool = True  # quant: also fake-quantize layer inputs
    temperature: float = 4.0
    alpha: float = 0.9

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"unknown compression {self.method!r}: choose one of {', '.join(METHODS)}")

    @property
    def label(self) -> str:
        return f"{self.method}-{self.amount}"

    @property
    def sparsity(self) -> float | None:
        return float(self.amount) if self.method in ("prune", "structured") else None

    @property
    def bits(self) -> int | None:
        return int(self.amount) if self.method == "quant" else None

    @property
    def student(self) -> str | None:
        return str(self.amount) if self.method == "distill" else None


def compress_model(net: nn.Module, c: Compression, data, member_idx: torch.Tensor, train_spec: TrainSpec,
                   seed: int) -> tuple[nn.Module, dict]:
    """Apply ``c`` to a trained dense ``net`` (fine-tuning / distilling on its own members only).
    Quantized models keep activation fake-quant hooks attached. Returns the model and what to record,
    ``seconds`` (the compression's own wall-clock time: fine-tuning, quantizing or distilling) included."""
    info: dict = {}
    start = time.perf_counter()
    if c.sparsity is not None:
        masks = one_shot_masks(net, c.sparsity) if c.method == "prune" else structured_masks(net, c.sparsity)
        ft = dataclasses.replace(train_spec, epochs=c.finetune_epochs, lr=train_spec.lr * 0.1)
        train(net, data, member_idx, ft, seed=seed + 10_000, masks=masks, desc=c.label, bar=False)
        info["sparsity"] = counted_sparsity(net)["overall"]
    elif c.bits is not None:
        quantize_model(net, c.bits)
        if c.activations:
            ActivationQuantizer(net, c.bits, data.normalise(data.train_x[member_idx[:256]]))
        info["bits"] = c.bits
    elif c.student is not None:
        teacher = predict_logits(net, data, data.train_x)[0]
        net = make_model(c.student, data, seed + 20_000)
        train(net, data, member_idx, train_spec, seed=seed + 30_000, desc=c.label, bar=False,
              loss=distillation_loss(train_spec, teacher, c.temperature, c.alpha))
    info["seconds"] = time.perf_counter() - start
    return net, info


def count_params_and_macs(model: nn.Module, input_shape: tuple[int, int, int]) -> dict:
    """Non-zero weights and multiply-accumulates per example of conv and linear layers, counting a
    removed (zero) weight as removed; a removed filter or neuron's downstream weights are still counted."""
    macs = 0
    hooks = []

    def hook(mod, inp, out):
        nonlocal macs
        nnz = int((mod.weight != 0).sum())
        macs += nnz * (out.shape[2] * out.shape[3] if isinstance(mod, nn.Conv2d) else 1)

    for mod in model.modules():
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            hooks.append(mod.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, *input_shape, device=next(model.parameters()).device))
    model.train(was_training)
    for h in hooks:
        h.remove()
    params = sum(int((p != 0).sum()) for p in model.parameters())
    return {"nonzero_params": params, "macs": macs}


def quantize_tensor(w: torch.Tensor, bits: int, per_channel: bool = True) -> torch.Tensor:
    """Symmetric uniform fake-quantization: round(w / s) clipped to +-(2^(bits-1) - 1), times s,
    with s = max|w| / (2^(bits-1) - 1) per output channel (or per tensor)."""
    if not isinstance(bits, int) or not 2 <= bits <= 16:
        raise ValueError(f"bits must be an int in 2..16, got {bits!r}")
    qmax = 2 ** (bits - 1) - 1
    amax = w.abs().flatten(1).amax(1).view(-1, *[1] * (w.dim() - 1)) if per_channel and w.dim() > 1 else w.abs().max()
    scale = torch.clamp(amax, min=1e-12) / qmax
    return torch.clamp(torch.round(w / scale), -qmax, qmax) * scale


@torch.no_grad()
def quantize_model(model: nn.Module, bits: int, per_channel: bool = True) -> nn.Module:
    """Post-training weight quantization of every conv / linear weight, in place."""
    for name in prunable_names(model):
        mod = dict(model.named_modules())[name.rsplit(".", 1)[0]]
        mod.weight.copy_(quantize_tensor(mod.weight, bits, per_channel))
    return model


class ActivationQuantizer:
    """Fake-quantizes the input of every conv / linear layer to ``bits`` (unsigned if the calibration
    batch is non-negative, else symmetric), with per-layer ranges from a calibration batch."""

    def __init__(self, model: nn.Module, bits: int, calibration: torch.Tensor):
        self.bits, self.ranges, self.handles = bits, {}, []
        mods = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        record = [m.register_forward_pre_hook(self._record) for m in mods]
        model.eval()
        with torch.no_grad():
            model(calibration)
        for h in record:
            h.remove()
        self.handles = [m.register_forward_pre_hook(self._quantize) for m in mods]

    def _record(self, mod, inputs):
        x = inputs[0]
        self.ranges[mod] = (float(x.min()), float(x.max()))

    def _quantize(self, mod, inputs):
        lo, hi = self.ranges[mod]
        if lo >= 0:
            scale = max(hi, 1e-12) / (2 ** self.bits - 1)
            return (torch.clamp(torch.round(inputs[0] / scale), 0, 2 ** self.bits - 1) * scale,)
        qmax = 2 ** (self.bits - 1) - 1
        scale = max(abs(lo), abs(hi), 1e-12) / qmax
        return (torch.clamp(torch.round(inputs[0] / scale), -qmax, qmax) * scale,)

    def remove(self):
        for h in self.handles:
            h.remove()
