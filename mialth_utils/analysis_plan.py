"""The analysis plan (``analysis_plan.toml`` at the repository root): how each claim is judged, written
down before the results it judges. Claims read their primary attack, metric, margins, alpha and
multiplicity rule from here; every verdict row carries ``plan_hash``; the report says, from git,
whether the plan changed after the results it reports were produced.
"""
from __future__ import annotations

import hashlib
import subprocess
import tomllib
from functools import lru_cache
from pathlib import Path

PLAN_FILE = Path(__file__).resolve().parent.parent / "analysis_plan.toml"


@lru_cache(maxsize=4)
def _read(path: str) -> tuple[bytes, dict]:
    raw = Path(path).read_bytes()
    return raw, tomllib.loads(raw.decode())


def load(path: Path | str = PLAN_FILE) -> dict:
    """The plan as a dict of sections (``general``, ``C1`` ... ``E6``)."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"no analysis plan at {path}: the verdicts need analysis_plan.toml at the "
                                "repository root (it is under version control; restore it with git checkout)")
    return _read(str(path))[1]


def plan_hash(path: Path | str = PLAN_FILE) -> str:
    """The first 16 hex digits of the SHA-256 of the plan file's bytes."""
    load(path)
    return hashlib.sha256(_read(str(path))[0]).hexdigest()[:16]


def section(claim: str, path: Path | str = PLAN_FILE) -> dict:
    """One claim's section, with the ``general`` keys as defaults."""
    plan = load(path)
    return {**plan["general"], **plan.get(claim, {})}


def plan_changed_after(commits, path: Path | str = PLAN_FILE) -> str:
    """Whether the plan file changed in git after the commits that produced the results (``commits``:
    the ``git_sha`` values of the runs). Returns a sentence for the report."""
    commits = sorted({str(c) for c in commits if isinstance(c, str) and c and c != "nan"})
    if not commits:
        return "the runs record no commit: whether the plan changed after them is unknown"
    root = Path(path).resolve().parent
    changed = set()
    for commit in commits:
        try:
            out = subprocess.run(["git", "log", "--format=%h", f"{commit}..HEAD", "--", Path(path).name], cwd=root,
                                 capture_output=True, text=True, timeout=30, check=True).stdout.split()
        except (OSError, subprocess.SubprocessError):
            return "git history not available here: whether the plan changed after the results is unknown"
        changed.update(out)
    if changed:
        return (f"the plan CHANGED after the results were produced (commits {', '.join(sorted(changed))}): "
                "a deviation to be stated")
    return f"the plan did not change after the results were produced (runs at {', '.join(c[:8] for c in commits)})"
