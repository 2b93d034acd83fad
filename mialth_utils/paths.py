"""Where things live: the project root, the data root and the results root.

Papermill runs a notebook in the caller's working directory, so nothing in the kit
uses a path relative to the cwd. Two environment variables move the roots:

- ``MIALTH_DATA``: data sets (default ``~/.cache/mialth/data``)
- ``MIALTH_RESULTS``: tables, figures, runs and the model cache (default ``<project>/results``)
"""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FASHION_MNIST_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")


def data_root() -> Path:
    return Path(os.environ.get("MIALTH_DATA", Path.home() / ".cache" / "mialth" / "data")).expanduser()


def results_root(results_dir: str | os.PathLike | None = None) -> Path:
    """The results root: an explicit ``results_dir`` wins, then ``MIALTH_RESULTS``, then ``<project>/results``."""
    if results_dir:
        return Path(results_dir).expanduser().resolve()
    return Path(os.environ.get("MIALTH_RESULTS", PROJECT_ROOT / "results")).expanduser().resolve()


def cache_root(results_dir: str | os.PathLike | None = None) -> Path:
    """Cached models, masks and logits (never committed)."""
    return Path(os.environ.get("MIALTH_CACHE", results_root(results_dir) / "cache")).expanduser().resolve()
