"""Seeding and device choice: the one place either is decided."""
from __future__ import annotations

import random
import subprocess

import numpy as np
import torch

from .paths import PROJECT_ROOT


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy's legacy state and torch; return a torch Generator for explicit use.

    The kit itself never draws from global ``np.random``: splits and keep matrices take
    ``np.random.default_rng(seed)``. This helper only tames third-party code.
    """
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__} {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"`` picks CUDA, then Apple MPS, then the CPU; anything else is passed to torch."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"unknown device {device!r}: use 'auto', 'cpu', 'cuda' or 'cuda:N'") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but CUDA is not available here: use device='auto' or 'cpu'")
    return dev


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=5)
        return out.stdout if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def git_sha() -> str:
    return (_git("rev-parse", "HEAD") or "unknown").strip() or "unknown"


def git_dirty() -> bool | None:
    """Whether tracked code differs from the commit (results/ and notebooks' outputs aside)."""
    status = _git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!results")
    return None if status is None else bool(status.strip())


def environment_info(device: torch.device | str | None = None) -> dict:
    """What every metrics.json records about where it ran."""
    import platform

    info = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": __import__("os").cpu_count(),
        "git_sha": git_sha(),
        "git_dirty": git_dirty(),
        "device": str(device) if device is not None else "cpu",
    }
    if device is not None and torch.device(device).type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info
