import time
import numpy as np
import pytest
import torch

from mialth_utils import store as cache
from mialth_utils.modelsets import ModelSet, ModelSetSpec
from mialth_utils.training.loop import TrainSpec


def test_pinned_hash_values():
    """Changing these breaks every user's cache: do it only on purpose, and say so in the changelog."""
    assert cache.spec_hash({"a": 1, "b": [1, 2]}) == cache.spec_hash({"b": [1, 2], "a": 1})
    assert cache.spec_hash({"a": 1, "b": [1, 2]}) == "8baa73198470c7bb"
    assert cache.spec_hash(TrainSpec().to_dict()) == "150d03e59821bfbc"
    assert cache.spec_hash(ModelSetSpec().to_dict()) == "037ca2aafcba0472"


def test_hit_miss_and_done_marker(tmp_path):
    calls = []

    def build(folder):
        calls.append(folder)
        (folder / "x.txt").write_text("hello")

    spec = {"kind": "demo", "seed": 1}
    path = cache.cached("demo", spec, build, tmp_path)
    assert (path / "DONE").exists() and (path / "spec.json").exists()
    assert cache.cached("demo", spec, build, tmp_path) == path and len(calls) == 1  # hit
    cache.cached("demo", {"kind": "demo", "seed": 2}, build, tmp_path)
    assert len(calls) == 2  # miss
    (path / "DONE").unlink()
    (path / "stale.txt").write_text("left by an interrupted run")
    cache.cached("demo", spec, build, tmp_path)
    assert len(calls) == 3 and not (path / "stale.txt").exists()  # redone from scratch


def test_corrupted_checkpoint_gives_a_clear_error(tmp_path):
    cache.save_state(tmp_path / "state.pt", {"w": torch.ones(3)})
    assert torch.equal(cache.load_state(tmp_path / "state.pt")["w"], torch.ones(3))
    (tmp_path / "state.pt").write_bytes(b"garbage")
    with pytest.raises(cache.CorruptArtifactError, match="state.pt.*cannot rebuild it"):
        cache.load_state(tmp_path / "state.pt")
    (tmp_path / "a.npz").write_bytes(b"garbage")
    with pytest.raises(cache.CorruptArtifactError):
        cache.load_arrays(tmp_path / "a.npz")


def _spec(**kw):
    base = dict(dataset="fake", model="mlp", n_models=3, n_pool=200, n_population=50, n_levels=2,
                train=TrainSpec(epochs=2, batch_size=64))
    base.update(kw)
    return ModelSetSpec(**base)


def test_population_resumes_after_an_interrupted_level(tmp_path):
    full = ModelSet(_spec(), cache_dir=tmp_path / "a").build(workers=1)
    interrupted = ModelSet(_spec(), cache_dir=tmp_path / "b")
    interrupted.spec = _spec(n_levels=1)
    interrupted.build(workers=1)
    art = interrupted.artifact(1, 1)
    art.invalidate()  # as if killed while writing model 1, level 1
    interrupted.spec = _spec()
    interrupted.build(workers=1)
    for m in range(3):
        for level in range(3):
            np.testing.assert_array_equal(full.logits(m, level), interrupted.logits(m, level))


def test_cache_key_includes_keep_row_and_split(tmp_path):
    a = ModelSet(_spec(seed=0), cache_dir=tmp_path)
    b = ModelSet(_spec(seed=1), cache_dir=tmp_path)
    assert a.artifact(0, 0).hash != b.artifact(0, 0).hash
    assert a.artifact(0, 0).spec["keep_row"] != a.artifact(1, 0).spec["keep_row"]
    assert a.artifact(0, 0).hash != a.artifact(0, 1).hash
    with pytest.raises(FileNotFoundError, match="build"):
        a.logits(0, 0)


def _hold_lock(root, ready):
    from mialth_utils.store import Artifact, building

    with building(Artifact("population", {"a": 1}, root)):
        open(ready, "w").close()
        time.sleep(600)


def test_building_lock_waits_for_its_holder_and_is_freed_when_the_holder_is_killed(tmp_path):
    import multiprocessing as mp
    import os
    import signal
    import threading

    from mialth_utils.store import Artifact, building

    ready = tmp_path / "ready"
    proc = mp.get_context("spawn").Process(target=_hold_lock, args=(tmp_path, ready))
    proc.start()
    deadline = time.time() + 120
    while not ready.exists() and time.time() < deadline:
        time.sleep(0.05)
    assert ready.exists(), "the holder never took the lock"
    entered = threading.Event()

    def waiter():
        with building(Artifact("population", {"a": 1}, tmp_path)):
            entered.set()

    thread = threading.Thread(target=waiter, daemon=True)
    thread.start()
    assert not entered.wait(1.0)  # held by the other process
    with building(Artifact("population", {"a": 2}, tmp_path)):  # another artefact's lock is free
        pass
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    assert entered.wait(60)  # the kernel released the dead holder's lock
