"""Batched prediction under query views, always in float32 (attack signals need it).

Every model of a model set is queried on the same examples under the same views, so the views'
normalised inputs can be built once (``query_inputs``) and handed to every ``predict_logits`` call;
without them each call builds its views batch by batch (for data too large to hold twice).
"""
from __future__ import annotations

import torch
from torch import nn

from ..data.registry import TensorData
from ..data.views import View

CACHED_INPUTS_BYTES = 2 ** 30  # largest set of view inputs a model set keeps for reuse


def _view_batches(data: TensorData, x: torch.Tensor, view: View, batch_size: int):
    return (data.normalise(view.apply(x[i:i + batch_size].to(data.device), start=i))
            for i in range(0, len(x), batch_size))


def query_inputs(data: TensorData, x: torch.Tensor, views: tuple[str, ...] = ("id",), batch_size: int = 2048,
                 max_bytes: int = CACHED_INPUTS_BYTES) -> list[list[torch.Tensor]] | None:
    """The normalised inputs of uint8 images ``x`` under each view, in ``predict_logits``' batches, or
    None when they would take more than ``max_bytes`` (then each prediction builds its own)."""
    if len(views) * x.numel() * 4 > max_bytes:
        return None
    return [list(_view_batches(data, x, View.parse(v), batch_size)) for v in views]


@torch.no_grad()
def predict_logits(model: nn.Module, data: TensorData, x: torch.Tensor, views: tuple[str, ...] = ("id",),
                   batch_size: int = 2048, inputs: list[list[torch.Tensor]] | None = None) -> torch.Tensor:
    """Logits of ``model`` on uint8 images ``x`` under each query view: (n_views, N, n_classes), float32.
    ``inputs``: the same images, views and batch size from ``query_inputs`` (the views are not rebuilt)."""
    model.eval()
    per_view = inputs if inputs is not None else (_view_batches(data, x, View.parse(v), batch_size) for v in views)
    return torch.stack([torch.cat([model(b).float() for b in batches]) for batches in per_view]).cpu()


@torch.no_grad()
def accuracy(model: nn.Module, data: TensorData, x: torch.Tensor, y: torch.Tensor, batch_size: int = 4096,
             inputs: list[list[torch.Tensor]] | None = None) -> float:
    logits = predict_logits(model, data, x, ("id",), batch_size, inputs)[0]
    return (logits.argmax(1) == y.cpu()).float().mean().item()
