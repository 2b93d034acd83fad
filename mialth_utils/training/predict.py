"""Batched prediction under query views, always in float32 (attack signals need it)."""
from __future__ import annotations

import torch
from torch import nn

from ..data.registry import TensorData
from ..data.views import View


@torch.no_grad()
def predict_logits(model: nn.Module, data: TensorData, x: torch.Tensor, views: tuple[str, ...] = ("id",),
                   batch_size: int = 2048) -> torch.Tensor:
    """Logits of ``model`` on uint8 images ``x`` under each query view: (n_views, N, n_classes), float32."""
    model.eval()
    out = []
    for view in map(View.parse, views):
        chunks = []
        for i in range(0, len(x), batch_size):
            xb = x[i:i + batch_size].to(data.device)
            chunks.append(model(data.normalise(view.apply(xb))).float())
        out.append(torch.cat(chunks))
    return torch.stack(out).cpu()


@torch.no_grad()
def accuracy(model: nn.Module, data: TensorData, x: torch.Tensor, y: torch.Tensor, batch_size: int = 4096) -> float:
    logits = predict_logits(model, data, x, ("id",), batch_size)[0]
    return (logits.argmax(1) == y.cpu()).float().mean().item()
