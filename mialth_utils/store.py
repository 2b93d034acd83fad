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

``DONE`` records the sha256 of every file of its artefact. ``Artifact.intact()`` (what a model set
asks before it loads) checks them: a file missing, damaged or truncated moves the whole folder aside
to ``<cache>/damaged/<kind>/`` (nothing is deleted), logs which folder and why, and reports the
artefact as not built, so it is rebuilt. An artefact from before checksums (an empty ``DONE``) is
read back once instead and, if it reads, gets its checksums. A file the kit cannot rebuild (yours,
e.g. an audited target's state_dict) raises ``CorruptArtifactError`` naming it and what to do.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import socket
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch

from .paths import cache_root

log = logging.getLogger(__name__)
DONE_FORMAT = 2  # 2: DONE written with the checksums (and noise query views seeded by example position)


class CorruptArtifactError(RuntimeError):
    """A file could not be read back; the message names it and what to do."""


def _short(err: Exception) -> str:
    """An exception's kind and the first line of its message (torch's run to a page)."""
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0][:200] if text else ''}"


def _what_to_do(path: Path) -> str:
    """The advice for a file that does not read: the store rebuilds its own, a user's file is the user's."""
    folder = Path(path).parent
    if (folder / "DONE").exists() or ".tmp-" in folder.name:
        return (f"It belongs to the kit's store: the next run moves {folder} aside and rebuilds it "
                f"(or delete that folder).")
    return ("It is not a file of the kit's store, so the kit cannot rebuild it: write it again from its "
            "source (e.g. torch.save(model.state_dict(), path) or np.save(path, array)).")


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
        raise CorruptArtifactError(f"cannot read {path} ({_short(err)}). {_what_to_do(path)}") from err


def save_state(path: Path, state_dict: dict) -> None:
    tmp = _tmp_name(path)
    torch.save({k: v.detach().cpu() for k, v in state_dict.items()}, tmp)
    os.replace(tmp, path)


def load_state(path: Path, device: torch.device | str = "cpu") -> dict:
    """Load a saved ``state_dict`` with ``weights_only=True``; a damaged file raises CorruptArtifactError."""
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except Exception as err:  # noqa: BLE001 (torch raises many kinds on a damaged file)
        raise CorruptArtifactError(f"checkpoint {path} is damaged or missing ({_short(err)}). "
                                   f"{_what_to_do(path)}") from err


def save_arrays(path: Path, **arrays: np.ndarray) -> None:
    tmp = _tmp_name(path, ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path) as npz:
            return {k: npz[k] for k in npz.files}
    except Exception as err:  # noqa: BLE001
        raise CorruptArtifactError(f"cannot read {path} ({_short(err)}). {_what_to_do(path)}") from err


def load_npy(path: Path) -> np.ndarray:
    """One array saved with ``np.save`` (e.g. an audited target's logits or member indices)."""
    try:
        return np.load(path, allow_pickle=False)
    except Exception as err:  # noqa: BLE001
        raise CorruptArtifactError(f"cannot read {path} ({_short(err)}). {_what_to_do(path)}") from err


def file_sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def checksums(folder: Path) -> dict[str, str]:
    """sha256 of every file of an artefact folder but ``DONE``, by name relative to the folder."""
    return {p.relative_to(folder).as_posix(): file_sha256(p) for p in sorted(Path(folder).rglob("*"))
            if p.is_file() and p.name != "DONE"}


def _read_back(path: Path) -> None:
    """Read a file the way the kit does (a legacy artefact has no checksums): raises if it does not read."""
    if path.suffix == ".npz":
        with np.load(path) as npz:
            for key in npz.files:
                npz[key]
    elif path.suffix == ".pt":
        torch.load(path, map_location="cpu", weights_only=True)
    elif path.suffix == ".json":
        json.loads(path.read_text())


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
            atomic_write_bytes(tmp / "DONE", json.dumps({"format": DONE_FORMAT, "sha256": checksums(tmp)},
                                                        indent=1).encode())
            if self.path.exists() and not self.done:
                shutil.rmtree(self.path, ignore_errors=True)  # left unfinished by an older writer or invalidated
            try:
                os.rename(tmp, self.path)
            except OSError:
                if not self.done:
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def problem(self) -> str | None:
        """Why a done artefact cannot be used (a file missing, damaged or truncated), or None if it can."""
        try:
            record = (self.path / "DONE").read_bytes()
            sums = json.loads(record)["sha256"] if record.strip() else None
        except FileNotFoundError:
            return "its DONE marker is gone"
        except (ValueError, KeyError, TypeError) as err:
            return f"its DONE marker does not read ({err})"
        if sums is None:
            return self._legacy_problem()
        for name, want in sums.items():
            path = self.path / name
            if not path.is_file():
                return f"{name} is missing"
            if file_sha256(path) != want:
                return f"{name} does not match its checksum (damaged or truncated; {path.stat().st_size} bytes)"
        return None

    def _legacy_problem(self) -> str | None:
        """An artefact written before checksums: read every file back; if all read, record their checksums."""
        for path in sorted(p for p in self.path.rglob("*") if p.is_file() and p.name != "DONE"):
            try:
                _read_back(path)
            except Exception as err:  # noqa: BLE001 (numpy, zipfile, torch and json raise many kinds)
                return f"{path.relative_to(self.path)} does not read ({_short(err)})"
        record = {"format": 1, "sha256": checksums(self.path)}  # format 1: written before checksums, read back
        atomic_write_bytes(self.path / "DONE", json.dumps(record, indent=1).encode())
        return None

    def intact(self) -> bool:
        """Done, with every file as written. A damaged artefact is moved aside (logged) and False returned,
        so that the caller rebuilds it; two processes checking at once move it aside once."""
        if not self.done:
            return False
        with _flock(self.path.parent.parent / "locks" / f"{self.kind}-{self.hash}.check.lock"):
            if not self.done:
                return False
            why = self.problem()
            if why is None:
                return True
            self.move_aside(why)
            return False

    def move_aside(self, why: str) -> Path | None:
        """Move the folder to ``<cache>/damaged/<kind>/`` with a note of why (never delete what may be
        wanted back); None if another process moved it first."""
        dest = self.path.parent.parent / "damaged" / self.kind / f"{self.hash}-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(self.path, dest)
        except FileNotFoundError:
            return None
        (dest / "DAMAGED.txt").write_text(f"{why}\n")
        log.warning("damaged artefact %s: %s. Moved aside to %s; it is rebuilt.", self.path, why, dest)
        return dest

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
    if not art.intact():
        with art.writing() as folder:
            build(folder)
    return art.path


_HELD: dict[str, int] = {}  # locks this process holds (building() is re-entrant within a process)
_HELD_GUARD = threading.Lock()


@contextmanager
def _flock(path: Path, wait: bool = True) -> Iterator[bool]:
    """An exclusive ``fcntl.flock`` on ``path``; yields False if ``wait`` is off and another process holds it.
    Re-entrant within a process. Without such locks (Windows, some network file systems) it only logs."""
    key = str(path)
    with _HELD_GUARD:
        if _HELD.get(key):
            _HELD[key] += 1
            mine = True
        else:
            mine = False
    if mine:
        try:
            yield True
        finally:
            with _HELD_GUARD:
                _HELD[key] -= 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        try:
            import fcntl

            fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        except (ImportError, OSError) as err:
            log.debug("no lock for %s (%s): going on without one", path, err)
        with _HELD_GUARD:
            _HELD[key] = 1
        try:
            yield True
        finally:
            with _HELD_GUARD:
                _HELD.pop(key, None)


@contextmanager
def building(artifact: Artifact, wait: bool = True) -> Iterator[bool]:
    """Hold an exclusive lock named after ``artifact`` (``<cache>/locks/``) while building it and what
    follows from it: another process asking for the same lock waits until this one is done (with
    ``wait=False`` it gets False at once instead). The lock is the operating system's (``fcntl.flock``),
    released when its holder exits or is killed, so a dead worker never blocks the next; re-entrant
    within a process. Where there are no such locks it only logs: the atomic rename keeps the store
    correct, the work may be done twice."""
    with _flock(artifact.path.parent.parent / "locks" / f"{artifact.kind}-{artifact.hash}.lock", wait) as held:
        yield held
