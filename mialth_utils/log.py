"""Messages and progress: ``logging`` for the library, tqdm bars that one switch turns off.

Library modules log through ``logging.getLogger(__name__)``; ``setup()`` (called by notebooks and
the command-line entry points) prints INFO lines plainly, one per epoch or level, which survive in
papermill logs where bars freeze. ``MIALTH_PROGRESS=0`` (or ``set_progress(False)``) hides the bars.
"""
from __future__ import annotations

import logging
import os

from tqdm.auto import tqdm

_STATE = {"progress": os.environ.get("MIALTH_PROGRESS", "1") != "0"}


def setup(level: int | str = logging.INFO) -> None:
    """Plain ``mialth: message`` lines on stderr for the kit's loggers (idempotent)."""
    logger = logging.getLogger("mialth_utils")
    if not any(getattr(h, "_mialth", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("mialth: %(message)s"))
        handler._mialth = True
        logger.addHandler(handler)
    logger.setLevel(level)


def set_progress(enabled: bool) -> None:
    _STATE["progress"] = bool(enabled)


def progress(iterable, desc: str = "", **kwargs):
    """``tqdm.auto`` over ``iterable`` unless progress bars are switched off (or it is empty)."""
    disable = bool(kwargs.pop("disable", False)) or not _STATE["progress"]
    return tqdm(iterable, desc=desc, disable=disable, **kwargs)
