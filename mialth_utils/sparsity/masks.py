"""Pruning masks: magnitude (lottery tickets, Frankle & Carbin 2019, OpenLTH), random, structured.

Masks are plain ``{parameter_name: bool tensor}`` dicts (True = kept) over the prunable weights:
conv and linear weights; biases and norm parameters are never pruned.
"""
from __future__ import annotations

import torch
from torch import nn

from ..models import output_layer_name

Masks = dict[str, torch.Tensor]


def prunable_names(model: nn.Module) -> list[str]:
    return [f"{name}.weight" for name, mod in model.named_modules() if isinstance(mod, (nn.Conv2d, nn.Linear))]


def full_masks(model: nn.Module) -> Masks:
    params = dict(model.named_parameters())
    return {name: torch.ones_like(params[name], dtype=torch.bool) for name in prunable_names(model)}


def _prune_smallest(scores: torch.Tensor, keep: torch.Tensor, n_prune: int) -> torch.Tensor:
    """Return a copy of ``keep`` with the ``n_prune`` kept entries of smallest score removed."""
    keep = keep.clone()
    if n_prune <= 0:
        return keep
    flat_keep = keep.flatten()
    alive = flat_keep.nonzero().squeeze(1)
    order = scores.flatten()[alive].argsort(stable=True)
    flat_keep[alive[order[:n_prune]]] = False
    return flat_keep.view_as(keep)


def magnitude_masks(model: nn.Module, masks: Masks | None, prune_frac: float, scope: str = "global",
                    output_rate: float = 1.0) -> Masks:
    """Prune ``prune_frac`` of the *remaining* weights by magnitude.

    ``scope="global"``: one threshold over all prunable layers; ``"layerwise"``: the same fraction in
    each layer. ``output_rate`` scales the output layer's fraction (1 = like the others and, in
    global scope, inside the global ranking; 0.5 = Frankle & Carbin's half rate; 0 = never pruned).
    """
    if not 0.0 <= prune_frac < 1.0:
        raise ValueError(f"prune_frac must be in [0, 1), got {prune_frac!r}")
    if scope not in ("global", "layerwise"):
        raise ValueError(f"scope must be 'global' or 'layerwise', got {scope!r}")
    masks = {k: v.clone() for k, v in (masks or full_masks(model)).items()}
    params = dict(model.named_parameters())
    out_name = f"{output_layer_name(model)}.weight"
    apart = [out_name] if output_rate != 1.0 and out_name in masks else []
    names = [n for n in masks if n not in apart]
    for name in apart:
        n_prune = round(prune_frac * output_rate * int(masks[name].sum()))
        masks[name] = _prune_smallest(params[name].detach().abs(), masks[name], n_prune)
    if scope == "layerwise":
        for name in names:
            n_prune = round(prune_frac * int(masks[name].sum()))
            masks[name] = _prune_smallest(params[name].detach().abs(), masks[name], n_prune)
        return masks
    scores = torch.cat([params[n].detach().abs().flatten() for n in names])
    keep = torch.cat([masks[n].flatten() for n in names])
    keep = _prune_smallest(scores, keep, round(prune_frac * int(keep.sum())))
    offset = 0
    for name in names:
        size = masks[name].numel()
        masks[name] = keep[offset:offset + size].view_as(masks[name])
        offset += size
    return masks


def one_shot_masks(model: nn.Module, sparsity: float, scope: str = "global", output_rate: float = 1.0) -> Masks:
    """Prune a dense model to ``sparsity`` (fraction of prunable weights removed) in one step."""
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity must be in [0, 1) (1 would remove every weight), got {sparsity!r}")
    return magnitude_masks(model, None, sparsity, scope, output_rate)


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


def random_masks_like(masks: Masks, seed: int) -> Masks:
    """The random-pruning control: the same number of kept weights per layer, at random places."""
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for name, mask in masks.items():
        flat = torch.zeros(mask.numel(), dtype=torch.bool)
        flat[torch.randperm(mask.numel(), generator=gen)[: int(mask.sum())]] = True
        out[name] = flat.view(mask.shape).to(mask.device)
    return out


def masks_sparsity(masks: Masks) -> float:
    total = sum(m.numel() for m in masks.values())
    return 1.0 - sum(int(m.sum()) for m in masks.values()) / total


def level_sparsity(prune_frac: float, level: int) -> float:
    """Nominal sparsity after ``level`` IMP levels: 1 - (1 - prune_frac) ** level."""
    return 1.0 - (1.0 - prune_frac) ** level


def counted_sparsity(model: nn.Module) -> dict:
    """Sparsity counted from the weights themselves (zeros / size), per prunable layer and overall."""
    params = dict(model.named_parameters())
    per_layer, zeros, total = {}, 0, 0
    for name in prunable_names(model):
        w = params[name].detach()
        z = int((w == 0).sum())
        per_layer[name] = z / w.numel()
        zeros, total = zeros + z, total + w.numel()
    return {"overall": zeros / total, "per_layer": per_layer, "n_weights": total, "n_zero": zeros}


def check_sparsity_possible(prune_frac: float, n_levels: int) -> None:
    if not isinstance(n_levels, int) or isinstance(n_levels, bool) or n_levels < 0:
        raise ValueError(f"n_levels must be a non-negative int, got {n_levels!r}")
    if not 0.0 < prune_frac < 1.0 and n_levels > 0:
        raise ValueError(f"prune_frac must be in (0, 1) to prune, got {prune_frac!r}")


def as_multipliers(model: nn.Module, masks: Masks | None) -> Masks | None:
    """The masks as 0/1 tensors of their weights' dtype and device, so that applying them after every
    training step converts nothing (the products are the same)."""
    if not masks:
        return masks
    params = dict(model.named_parameters())
    return {name: mask.to(params[name].device, params[name].dtype) for name, mask in masks.items()}


def apply_masks(model: nn.Module, masks: Masks | None) -> None:
    """Zero the pruned weights in place (``masks``: parameter name -> bool tensor, True = kept)."""
    if not masks:
        return
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, mask in masks.items():
            params[name].mul_(mask.to(params[name].device, params[name].dtype))
