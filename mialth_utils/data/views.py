"""The query-view language, parsed in one place, and training-time augmentation.

A view is a deterministic transformation under which a model is queried: ``id``, ``flip``,
``shift:dx:dy`` (pixels, zero fill) or ``noise:sigma:k`` (Gaussian noise of std ``sigma`` in [0, 1]
pixel units, drawn from seed ``k``, clipped). Attacks average over the augmentation views (LiRA's
"augmented queries") and use the noise views for SAMIA's sensitivity and the label-only attack.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

VIEW_SETS = {
    "none": ("id",),
    "flip": ("id", "flip"),
    "shifts": ("id", "flip", "shift:1:0", "shift:-1:0", "shift:0:1", "shift:0:-1"),
}
NOISE_VIEWS = tuple(f"noise:0.05:{k}" for k in range(4))
KINDS = {"id": 0, "flip": 0, "shift": 2, "noise": 2}


@dataclass(frozen=True)
class View:
    kind: str
    args: tuple = ()

    @classmethod
    def parse(cls, name: str) -> "View":
        kind, *raw = str(name).split(":")
        if kind not in KINDS or len(raw) != KINDS[kind]:
            raise ValueError(f"unknown query view {name!r}: use id, flip, shift:dx:dy or noise:sigma:k")
        try:
            args = (int(raw[0]), int(raw[1])) if kind == "shift" else (float(raw[0]), int(raw[1])) if raw else ()
        except ValueError as err:
            raise ValueError(f"unknown query view {name!r}: bad numbers ({err})") from None
        return cls(kind, args)

    @property
    def is_noise(self) -> bool:
        return self.kind == "noise"

    def apply(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        """The view of a uint8 batch, as float in [0, 1]; ``start``: the position of its first example in
        the queried set (a noise view draws each example's noise from the view's seed and its position,
        so the noise is independent across batches and the same whatever the batch size)."""
        xf = x.float() / 255.0
        if self.kind == "flip":
            return xf.flip(3)
        if self.kind == "shift":
            return shift(xf, *self.args)
        if self.kind == "noise":
            sigma, k = self.args
            return (xf + sigma * position_noise(k, start, x.shape).to(x.device)).clamp(0, 1)
        return xf


NOISE_BLOCK = 256  # examples per block of noise; block b of view seed k is drawn from seed (k, b)


def position_noise(k: int, start: int, shape: tuple) -> torch.Tensor:
    """Standard normal noise of ``shape`` for the examples at positions ``start .. start + shape[0] - 1``:
    blocks of NOISE_BLOCK positions, each from its own generator seeded by the view's ``k`` and the block."""
    n, rest = shape[0], tuple(shape[1:])
    first, last = start // NOISE_BLOCK, (start + n - 1) // NOISE_BLOCK if n else start // NOISE_BLOCK - 1
    blocks = [torch.randn((NOISE_BLOCK, *rest), generator=torch.Generator().manual_seed(k * 1_000_003 + b))
              for b in range(first, last + 1)]
    if not blocks:
        return torch.zeros(shape)
    offset = start - first * NOISE_BLOCK
    return torch.cat(blocks)[offset:offset + n]


def view_names(view_set: str) -> tuple[str, ...]:
    """The views of a named set, followed by the noise views (always queried)."""
    if view_set not in VIEW_SETS:
        raise ValueError(f"queries must be one of {sorted(VIEW_SETS)}, got {view_set!r}")
    return VIEW_SETS[view_set] + NOISE_VIEWS


def augmentation_indices(names) -> list[int]:
    """Positions of the augmentation views (identity, flips, shifts), not the noise views."""
    return [i for i, name in enumerate(names) if not View.parse(name).is_noise]


def noise_indices(names) -> list[int]:
    return [i for i, name in enumerate(names) if View.parse(name).is_noise]


def shift(x: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """Shift a batch by (dx, dy) pixels with zero fill."""
    out = torch.zeros_like(x)
    h, w = x.shape[2:]
    out[:, :, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        x[:, :, max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


def augment(x: torch.Tensor, generator: torch.Generator | None = None, pad: int = 2, flip: bool = True) -> torch.Tensor:
    """Training augmentation: random crop with zero padding and random horizontal flip, batched on x's device."""
    n, _, h, w = x.shape
    dev = x.device
    if pad > 0:
        padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
        dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator).to(dev)
        dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator).to(dev)
        rows = (dy[:, None] + torch.arange(h, device=dev)[None])[:, None, :, None]
        cols = (dx[:, None] + torch.arange(w, device=dev)[None])[:, None, None, :]
        idx_n = torch.arange(n, device=dev)[:, None, None, None]
        idx_c = torch.arange(x.shape[1], device=dev)[None, :, None, None]
        x = padded[idx_n, idx_c, rows, cols]
    if flip:
        mask = (torch.rand(n, generator=generator) < 0.5).to(dev)
        x = torch.where(mask[:, None, None, None], x.flip(3), x)
    return x
