"""Hash-keyed artefact store (OpenLTH style), safe under concurrent writers.

An artefact lives in ``<cache>/<kind>/<hash>/`` where the hash is taken over the canonical JSON
of its spec (which must include everything that changes it: data set, split, keep-row, model,
training, seed). It is built in a uniquely named temporary folder beside it, which gets
``spec.json`` and a ``DONE`` marker last and is then renamed into place in one step: ``DONE``
present means load. Two processes building the same artefact both finish; the first rename wins
and the other discards its copy. A writer killed mid-way leaves only its temporary folder, which
the next writer on the same host removes once its process is gone. So that two processes do not
both do the work, a unit that builds a chain of artefacts holds ``building(first_artifact)``: the
second waits, then finds the chain done.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import socket
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch

from .paths import cache_root

log = logging.getLogger(__name__)


class CorruptArtifactError(RuntimeError):
    """A cached file could not be read back; the message names the folder to delete."""


def _plain(obj: Any):
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, (np.ndarray, tuple)):
        return list(obj.tolist() if isinstance(obj, np.ndarray) else obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot put {type(obj).__name__} into a cache spec")


def canonical_json(spec: dict) -> str:
    return json.dumps(spec, sort_keys=True, separators=(",", ":"), default=_plain)


def spec_hash(spec: dict) -> str:
    """16 hex digits of sha256 over the canonical JSON of ``spec``."""
    return hashlib.sha256(canonical_json(spec).encode()).hexdigest()[:16]


def _tmp_name(path: Path, suffix: str = ".tmp") -> Path:
    """A temporary name beside ``path`` that no other writer uses."""
    return Path(path).with_name(f"{Path(path).name}.{os.getpid()}-{uuid.uuid4().hex[:8]}{suffix}")


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    tmp = _tmp_name(path)
    tmp.write_bytes(payload)
    os.replace(tmp, path)


def write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(Path(path), json.dumps(obj, indent=2, sort_keys=True, default=_plain).encode())


def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise CorruptArtifactError(f"cannot read {path}: {err}. Delete its folder to recompute it.") from err


def save_state(path: Path, state_dict: dict) -> None:
    tmp = _tmp_name(path)
    torch.save({k: v.detach().cpu() for k, v in state_dict.items()}, tmp)
    os.replace(tmp, path)


def load_state(path: Path, device: torch.device | str = "cpu") -> dict:
    """Load a saved ``state_dict`` with ``weights_only=True``; a damaged file raises CorruptArtifactError."""
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except Exception as err:  # noqa: BLE001 (torch raises many kinds on a damaged file)
        raise CorruptArtifactError(f"checkpoint {path} is damaged ({type(err).__name__}: {err}). "
                                   f"Delete {Path(path).parent} to recompute it.") from err


def save_arrays(path: Path, **arrays: np.ndarray) -> None:
    tmp = _tmp_name(path, ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path) as npz:
            return {k: npz[k] for k in npz.files}
    except Exception as err:  # noqa: BLE001
        raise CorruptArtifactError(f"cannot read {path} ({err}). Delete {Path(path).parent} to recompute it.") from err


class Artifact:
    """One artefact folder, written atomically through ``writing()``."""

    def __init__(self, kind: str, spec: dict, root: Path | None = None):
        self.kind, self.spec = kind, spec
        self.hash = spec_hash(spec)
        self.path = Path(root or cache_root()) / kind / self.hash

    @property
    def done(self) -> bool:
        return (self.path / "DONE").exists()

    @contextmanager
    def writing(self) -> Iterator[Path]:
        """Yield a private temporary folder; on success it becomes the artefact (first finisher wins)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _remove_orphans(self.path)
        tmp = self.path.with_name(f"{self.hash}.tmp-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        tmp.mkdir()
        try:
            yield tmp
            write_json(tmp / "spec.json", self.spec)
            atomic_write_bytes(tmp / "DONE", b"")
            if self.path.exists() and not self.done:
                shutil.rmtree(self.path, ignore_errors=True)  # left unfinished by an older writer or invalidated
            try:
                os.rename(tmp, self.path)
            except OSError:
                if not self.done:
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def invalidate(self) -> None:
        (self.path / "DONE").unlink(missing_ok=True)

    def __repr__(self) -> str:
        return f"Artifact({self.kind}/{self.hash}, done={self.done})"


def _remove_orphans(path: Path) -> None:
    """Remove temporary folders of ``path`` left by killed writers on this host."""
    host = socket.gethostname()
    for tmp in path.parent.glob(f"{path.name}.tmp-{host}-*"):
        pid = int(tmp.name.split("-")[-2]) if tmp.name.split("-")[-2].isdigit() else -1
        if pid > 0 and not _alive(pid):
            shutil.rmtree(tmp, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cached(kind: str, spec: dict, build: Callable[[Path], None], root: Path | None = None) -> Path:
    """Run ``build(folder)`` unless the artefact for ``spec`` is done; return its folder."""
    art = Artifact(kind, spec, root)
    if not art.done:
        with art.writing() as folder:
            build(folder)
    return art.path


@contextmanager
def building(artifact: Artifact) -> Iterator[None]:
    """Hold an exclusive lock named after ``artifact`` (``<cache>/locks/``) while building it and what
    follows from it: another process asking for the same lock waits until this one is done. The lock
    is the operating system's (``fcntl.flock``), released when its holder exits or is killed, so a
    dead worker never blocks the next. Where there are no such locks (Windows, some network file
    systems) it only logs: the atomic rename keeps the store correct, the work may be done twice."""
    path = artifact.path.parent.parent / "locks" / f"{artifact.kind}-{artifact.hash}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        try:
            import fcntl

            fcntl.flock(handle, fcntl.LOCK_EX)
        except (ImportError, OSError) as err:
            log.debug("no lock for %s (%s): building without one", path, err)
        yield
