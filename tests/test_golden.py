"""The golden test: the collector, run on the committed ``results/experiments/``, writes every table of
``results/tables/`` again, byte for byte but for the timing columns (wall-clock seconds differ from run
to run), and the data dictionary ``results/tables/README.md`` byte for byte. Restructuring the package
must never change a committed table; a change of a verdict rule shows up here first.

Cells are compared as written; a cell that is a number on both sides may differ in its last bits only
(relative 1e-9): LAPACK's least squares (C3's regression) rounds differently under OpenBLAS's kernels for
other processors (Haswell vs SkylakeX), and CI's processor is not ours. Any change of a rule, a
column or a row is far larger."""
from __future__ import annotations

import csv
import io
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "results"
TIMING = ("seconds", "wall_seconds", "cost_seconds")  # measured wall-clock times: the only columns allowed to differ
# The collector runs in a fresh process, single-threaded as the study's kernels run.
COLLECTOR_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
LAST_BITS = 1e-9  # relative difference allowed between two numeric cells (see the module docstring)


def _without_timing(text: str) -> list[list[str]]:
    """The CSV's cells as written (strings, not parsed numbers), timing columns removed."""
    rows = list(csv.reader(io.StringIO(text)))
    keep = [i for i, name in enumerate(rows[0]) if name not in TIMING]
    return [[row[i] for i in keep] for row in rows]


def _number(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def _same_cell(a: str, b: str) -> bool:
    if a == b:
        return True
    x, y = _number(a), _number(b)
    return x is not None and y is not None and math.isclose(x, y, rel_tol=LAST_BITS, abs_tol=1e-15)


def _differences(written: str, committed: str) -> list[str]:
    """Where two CSV texts differ beyond the last bits (header, row count or cells), timing aside."""
    new, old = _without_timing(written), _without_timing(committed)
    if new[0] != old[0] or len(new) != len(old):
        return [f"header or row count: {new[0]} ({len(new)} rows) vs {old[0]} ({len(old)} rows)"]
    return [f"row {r}, {old[0][c]}: {new[r][c]!r} vs {old[r][c]!r}" for r in range(1, len(old))
            for c in range(len(old[0])) if not _same_cell(new[r][c], old[r][c])]


def test_last_bits_tolerance_is_tight():
    """The comparison forgives a rounding in the 12th digit, not a change in the 6th, nor a changed word."""
    base = "attack,auc\nloss,0.59645512345678\n"
    assert not _differences("attack,auc\nloss,0.59645512345679\n", base)
    assert _differences("attack,auc\nloss,0.596456\n", base)
    assert _differences("attack,auc\nrmia,0.59645512345678\n", base)


@pytest.fixture(scope="module")
def rewritten(tmp_path_factory):
    if not (COMMITTED / "experiments").is_dir():
        pytest.skip("no committed results/experiments in this checkout")
    out = tmp_path_factory.mktemp("tables")
    code = "import sys; from mialth_utils.reporting.report import write_tables; write_tables(sys.argv[1], sys.argv[2])"
    env = {**os.environ, **COLLECTOR_ENV, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", code, str(COMMITTED), str(out)], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, f"the collector failed:\n{done.stderr[-3000:]}"
    return out


def test_every_committed_table_is_written_again(rewritten):
    committed = sorted(p.name for p in (COMMITTED / "tables").glob("*.csv"))
    written = sorted(p.name for p in rewritten.glob("*.csv"))
    assert written == committed


@pytest.mark.parametrize("name", sorted(p.name for p in (COMMITTED / "tables").glob("*.csv")))
def test_table_equals_committed_bytes_but_timing(rewritten, name):
    committed = (COMMITTED / "tables" / name).read_text()
    written = (rewritten / name).read_text()
    differences = _differences(written, committed)
    assert not differences, f"{name} differs from results/tables/{name}: {differences[:5]}"


def test_timing_columns_are_the_only_ones_left_out(rewritten):
    """The comparison drops only timing columns, and each committed table still has all its other columns."""
    for path in (COMMITTED / "tables").glob("*.csv"):
        header = path.read_text().splitlines()[0].split(",")
        dropped = [c for c in header if c in TIMING]
        assert all(c.endswith("seconds") for c in dropped)
        assert len(_without_timing(path.read_text())[0]) == len(header) - len(dropped)


def test_data_dictionary_equals_committed(rewritten):
    assert (rewritten / "README.md").read_text() == (COMMITTED / "tables" / "README.md").read_text()
