"""Compression methods applied identically to a target and its reference models (paper P2, E6):
one-shot magnitude pruning + fine-tuning, L1 structured pruning (Li et al. 2016), post-training
per-channel quantization (fake-quant), and knowledge distillation (Hinton et al. 2015)."""
from __future__ import annotations

import torch
from torch import nn

from .models import output_layer_name, register_model, MLP
from .prune import Masks, prunable_names

register_model("mlp-small", lambda s, k: MLP(s[0] * s[1] * s[2], (100,), k))  # the default student


def structured_masks(model: nn.Module, sparsity: float) -> Masks:
    """L1-norm filter pruning: in every conv layer remove the ``sparsity`` fraction of output filters
    with the smallest L1 norm; in every hidden linear layer the same for output neurons (rows).
    The output layer is kept whole. Masks cover whole filters / rows."""
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"structured sparsity must be in [0, 1), got {sparsity!r}")
    out_name = f"{output_layer_name(model)}.weight"
    params = dict(model.named_parameters())
    masks = {}
    for name in prunable_names(model):
        w = params[name].detach()
        mask = torch.ones_like(w, dtype=torch.bool)
        if name != out_name:
            norms = w.abs().flatten(1).sum(1)
            n_remove = int(round(sparsity * len(norms)))
            mask[norms.argsort(stable=True)[:n_remove]] = False
        masks[name] = mask
    return masks


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


# --------------------------------------------------------------------------- compressed populations
import dataclasses  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import numpy as np  # noqa: E402

from . import cache  # noqa: E402
from .prune import counted_sparsity, one_shot_masks  # noqa: E402
from .train import accuracy, make_model, predict_logits, train  # noqa: E402

METHODS = ("prune", "structured", "quant", "distill", "imp")


@dataclass(frozen=True)
class Compression:
    """``prune``: one-shot magnitude pruning to ``amount`` sparsity + fine-tuning; ``structured``: L1
    filter / neuron pruning of ``amount`` of each layer + fine-tuning; ``quant``: weights (and
    activations) to ``amount`` bits; ``distill``: a student of architecture ``amount``; ``imp``: the
    lottery ticket at level ``amount`` of the base population."""

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


class CompressedPopulation:
    """Every model of a built (dense) population, compressed the same way. Quacks like a Population
    for ``signals.attack_data`` (level and branch are ignored)."""

    def __init__(self, base, compression: Compression):
        self.base, self.compression = base, compression
        self.spec, self.membership, self.data = base.spec, base.membership, base.data
        self.labels, self.population_labels = base.labels, base.population_labels
        self.pool_idx, self.population_idx = base.pool_idx, base.population_idx

    def artifact(self, m: int) -> cache.Artifact:
        spec = {"base": self.base.artifact(m, 0).hash, "compression": dataclasses.asdict(self.compression)}
        return cache.Artifact("compressed", spec, self.base.cache_dir)

    def build(self, progress: bool = True, log=print) -> "CompressedPopulation":
        if self.compression.method == "imp":
            if self.base.spec.n_levels < int(self.compression.amount):
                raise ValueError(f"imp-{self.compression.amount} needs a base population with at least that "
                                 f"many levels (it has {self.base.spec.n_levels})")
            return self
        for m in range(self.spec.n_models):
            if not self.artifact(m).done:
                self._build_one(m, log)
        return self

    def _build_one(self, m: int, log) -> None:
        c, data, base = self.compression, self.data, self.base
        start = time.perf_counter()
        net = make_model(self.spec.model, data, 0)
        net.load_state_dict(base.state(m, 0))
        member_idx = torch.from_numpy(base.pool_idx[base.membership.keep[m]])
        ft = dataclasses.replace(self.spec.train, epochs=c.finetune_epochs, lr=self.spec.train.lr * 0.1)
        quantizer, info = None, {}
        if c.method in ("prune", "structured"):
            masks = one_shot_masks(net, float(c.amount)) if c.method == "prune" else structured_masks(net, float(c.amount))
            train(net, data, member_idx, ft, seed=10_000 + m, masks=masks, log=None, progress=False)
            info["sparsity"] = counted_sparsity(net)["overall"]
        elif c.method == "quant":
            quantize_model(net, int(c.amount))
            if c.activations:
                quantizer = ActivationQuantizer(net, int(c.amount), data.normalise(data.train_x[member_idx[:256]]))
            info["bits"] = int(c.amount)
        elif c.method == "distill":
            teacher = predict_logits(net, data, data.train_x)[0]
            net = make_model(str(c.amount), data, 20_000 + m)
            train(net, data, member_idx, self.spec.train, seed=30_000 + m, log=None, progress=False,
                  teacher_logits=teacher, temperature=c.temperature, alpha=c.alpha)
        logits = base.predict(net)
        keep = self.membership.keep[m]
        correct = logits[0, : self.spec.n_pool].argmax(1).numpy() == self.labels
        info.update(count_params_and_macs(net, data.input_shape))
        info.update({"model_index": m, "compression": c.label, "method": c.method, "amount": str(c.amount),
                     "train_acc": float(correct[keep].mean()), "test_acc": accuracy(net, data, data.test_x, data.test_y),
                     "dense_test_acc": base.metrics(m, 0)["test_acc"], "seconds": time.perf_counter() - start})
        info["gap"] = info["train_acc"] - info["test_acc"]
        if quantizer:
            quantizer.remove()
        folder = self.artifact(m).prepare()
        cache.save_arrays(folder / "outputs.npz", logits=logits.numpy().astype(np.float16))
        cache.write_json(folder / "metrics.json", info)
        self.artifact(m).mark_done()
        if log:
            log(f"{c.label} model {m}: test {info['test_acc']:.4f} (dense {info['dense_test_acc']:.4f})")

    def logits(self, model: int, level: int = 0, branch: str = "imp") -> np.ndarray:
        if self.compression.method == "imp":
            return self.base.logits(model, int(self.compression.amount))
        return cache.load_arrays(self.artifact(model).path / "outputs.npz")["logits"].astype(np.float32)

    def metrics(self, model: int, level: int = 0, branch: str = "imp") -> dict:
        if self.compression.method == "imp":
            info = dict(self.base.metrics(model, int(self.compression.amount)))
            net = make_model(self.spec.model, self.data, 0)
            net.load_state_dict(self.base.state(model, int(self.compression.amount)))
            info.update(count_params_and_macs(net, self.data.input_shape))
            info.update(compression=self.compression.label, method="imp", amount=str(self.compression.amount),
                        dense_test_acc=self.base.metrics(model, 0)["test_acc"])
            return info
        return cache.read_json(self.artifact(model).path / "metrics.json")

