"""A store that heals: damaged, truncated or missing files are moved aside, logged and rebuilt."""
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from mialth_utils import store
from mialth_utils.modelsets import CompressedModelSet, ModelSet, ModelSetSpec
from mialth_utils.sparsity.compress import Compression
from mialth_utils.training.loop import TrainSpec

ROOT = Path(__file__).resolve().parent.parent


def _spec(**kw):
    base = dict(dataset="fake", model="mlp", n_models=3, n_pool=200, n_population=50, n_levels=1,
                train=TrainSpec(epochs=2, batch_size=64))
    return ModelSetSpec(**{**base, **kw})


def flip(path: Path, n: int = 64) -> None:
    raw = bytearray(path.read_bytes())
    start = len(raw) // 2
    for i in range(start, start + n):
        raw[i] ^= 0xFF
    path.write_bytes(bytes(raw))


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _damaged(cache: Path) -> list[Path]:
    return sorted((cache / "damaged").glob("*/*"))


@pytest.fixture
def built(tmp_path):
    return ModelSet(_spec(), cache_dir=tmp_path / "cache").build(workers=1)


def test_done_records_a_checksum_of_every_file(built):
    path = built.artifact(1, 1).path
    record = json.loads((path / "DONE").read_text())
    sums = record["sha256"]
    assert record["format"] == store.DONE_FORMAT
    assert set(sums) == {"outputs.npz", "metrics.json", "state.pt", "masks.pt", "spec.json"}
    assert sums["outputs.npz"] == store.file_sha256(path / "outputs.npz")
    assert built.artifact(1, 1).problem() is None


@pytest.mark.parametrize("name,damage", [("outputs.npz", flip), ("outputs.npz", truncate), ("state.pt", flip),
                                         ("masks.pt", truncate), ("metrics.json", flip),
                                         ("metrics.json", Path.unlink)])
def test_a_damaged_file_is_moved_aside_logged_and_rebuilt(built, name, damage, caplog):
    art = built.artifact(1, 1)
    before = built.logits(1, 1)
    damage(art.path / name)
    with caplog.at_level(logging.WARNING, logger="mialth_utils.store"):
        assert built.missing(1) == [(1, "imp")]  # the check finds it: no raw zipfile / pickle error
    (aside,) = _damaged(built.cache_dir)
    assert name in (aside / "DAMAGED.txt").read_text() and str(art.path) in caplog.text and str(aside) in caplog.text
    assert not art.path.exists() and (aside / "spec.json").exists()
    ModelSet(_spec(), cache_dir=built.cache_dir).build(workers=1)
    assert art.intact() and built.missing(1) == []
    np.testing.assert_allclose(built.logits(1, 1), before, atol=1e-5)  # the same seeds give the same model


def test_legacy_artefacts_without_checksums_still_load_and_get_them(built):
    arts = [built.artifact(m, lvl) for m in range(3) for lvl in (0, 1)]
    for art in arts:
        (art.path / "DONE").write_bytes(b"")  # DONE as written before checksums
    assert all(built.missing(m) == [] for m in range(3))
    records = [json.loads((a.path / "DONE").read_text()) for a in arts]
    assert all("outputs.npz" in r["sha256"] and r["format"] == 1 for r in records)  # 1: from before checksums
    (arts[1].path / "DONE").write_bytes(b"")
    flip(arts[1].path / "outputs.npz")  # the case: 64 flipped bytes in a legacy outputs.npz
    assert built.missing(0) == [(1, "imp")] and len(_damaged(built.cache_dir)) == 1


def test_a_damaged_compressed_model_is_rebuilt(built):
    comp = CompressedModelSet(built, Compression("prune", 0.5)).build(workers=1)
    before = comp.logits(2)
    truncate(comp.artifact(2).path / "outputs.npz")
    assert comp.missing() == [2]
    comp.build(workers=1)
    assert comp.missing() == [] and len(_damaged(built.cache_dir)) == 1
    np.testing.assert_allclose(comp.logits(2), before, atol=1e-5)


def test_cached_rebuilds_a_damaged_json_artefact(tmp_path):
    calls = []

    def build(folder):
        calls.append(1)
        store.write_json(folder / "x.json", {"value": 1})

    path = store.cached("demo", {"a": 1}, build, tmp_path)
    (path / "x.json").write_text('{"value": 2}')  # same length, another value: only a checksum sees it
    assert store.cached("demo", {"a": 1}, build, tmp_path) == path and len(calls) == 2
    assert json.loads((path / "x.json").read_text()) == {"value": 1} and len(_damaged(tmp_path)) == 1


def test_a_file_the_kit_cannot_rebuild_names_itself_and_what_to_do(tmp_path):
    torch.save({"w": torch.ones(2)}, tmp_path / "mine.pt")
    np.save(tmp_path / "logits.npy", np.ones((3, 2)))
    truncate(tmp_path / "mine.pt")
    truncate(tmp_path / "logits.npy")
    for load, name in ((store.load_state, "mine.pt"), (store.load_npy, "logits.npy")):
        with pytest.raises(store.CorruptArtifactError, match=f"{name}.*cannot rebuild it: write it again"):
            load(tmp_path / name)


def test_a_load_after_the_check_says_the_store_rebuilds_it(built):
    path = built.artifact(0, 0).path / "outputs.npz"
    flip(path)
    with pytest.raises(store.CorruptArtifactError, match="next run moves .* aside and rebuilds it"):
        built.logits(0, 0)


SECOND = """
import json, sys
from mialth_utils.modelsets import ModelSet, ModelSetSpec
from mialth_utils.training.loop import TrainSpec
spec = ModelSetSpec(dataset="fake", model="mlp", n_models=3, n_pool=200, n_population=50, n_levels=1,
                    train=TrainSpec(epochs=2, batch_size=64))
models = ModelSet(spec, cache_dir=sys.argv[1]).build(workers=1)
print(json.dumps([models.missing(m) for m in range(3)]))
"""


def test_damage_found_by_a_second_process_while_the_first_rebuilds(built):
    """The first process rebuilds model 1 (holding its chain's lock); a second finds more damage in that
    chain: it waits for the lock instead of moving files from under the builder, then rebuilds the rest."""
    cache = built.cache_dir
    flip(built.artifact(1, 1).path / "outputs.npz")
    with store.building(built.artifact(1, 0)):
        todo = built.missing(1)
        assert todo == [(1, "imp")]
        truncate(built.artifact(1, 0).path / "metrics.json")  # damaged while the first rebuilds level 1
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        second = subprocess.Popen([sys.executable, "-c", SECOND, str(cache)], env=env, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(3)
        assert second.poll() is None, "the second process must wait for the chain's lock"
        assert len(_damaged(cache)) == 1  # it moved nothing of the chain being built
        for level, branch in todo:
            built._build_level(1, level, branch)
    out, err = second.communicate(timeout=240)
    assert second.returncode == 0, err
    assert json.loads(out.strip().splitlines()[-1]) == [[], [], []]
    assert len(_damaged(cache)) == 2  # level 1's npz (first process), level 0's metrics (second)
    assert all(built.artifact(1, lvl).intact() for lvl in (0, 1))
