"""The executor and the store under parallel and concurrent writers: same bits, one set of artefacts."""
import multiprocessing as mp
import os
import signal
import time

import numpy as np

from mialth_utils.executor import run_units
from mialth_utils.modelsets import ModelSet, ModelSetSpec
from mialth_utils.training.loop import TrainSpec


def _spec(**kw):
    base = dict(dataset="fake", model="mlp", n_models=3, n_pool=200, n_population=50, n_levels=2,
                controls=("random_mask",), train=TrainSpec(epochs=3, batch_size=64))
    return ModelSetSpec(**{**base, **kw})


def _logits(models: ModelSet) -> dict:
    return {(m, lvl, b): models.logits(m, lvl, b) for m in range(models.spec.n_models) for lvl, b in models.chain(m)}


def _same_bits(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def _square(x):
    return x * x


def test_run_units_in_process_and_on_a_local_cluster():
    assert run_units(_square, [(1,), (2,), (3,)], workers=1) == [1, 4, 9]
    assert run_units(_square, [(1,), (2,), (3,)], workers=2) == [1, 4, 9]
    assert run_units(_square, [], workers=2) == []


def _note_start(path, i, seconds):
    with open(path, "a") as log:
        log.write(f"start {i}\n")
    time.sleep(seconds)
    with open(path, "a") as log:
        log.write(f"end {i}\n")
    return i


def test_local_cluster_starts_units_in_the_order_given(tmp_path):
    """Unit 0 is long: units 1-4 all run on the other worker meanwhile, in order (handed out all at
    once, Dask would have queued unit 2 behind unit 0 on the first worker, so unit 2 would start only
    after unit 0 ended). Judged by the order of events, not by clock times, so a loaded machine (a
    worker slow to start) cannot fail it."""
    log = tmp_path / "events.txt"
    units = [(log, 0, 3.0)] + [(log, i, 0.2) for i in range(1, 5)]
    assert run_units(_note_start, units, workers=2) == [0, 1, 2, 3, 4]
    events = log.read_text().splitlines()
    starts = [int(e.split()[1]) for e in events if e.startswith("start")]
    assert [i for i in starts if i != 0] == [1, 2, 3, 4]  # handed out in the order given
    assert all(events.index(f"start {i}") < events.index("end 0") for i in range(1, 5))  # none waits on unit 0


def test_workers_and_dask_give_the_same_bits_as_one_process(tmp_path):
    one = _logits(ModelSet(_spec(), cache_dir=tmp_path / "one").build(workers=1))
    two = _logits(ModelSet(_spec(), cache_dir=tmp_path / "two").build(workers=2))
    assert _same_bits(one, two)
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        dask = _logits(ModelSet(_spec(), cache_dir=tmp_path / "dask").build(scheduler=cluster.scheduler_address))
    assert _same_bits(one, dask)


def _build(cache_dir, trained_log=None):
    import mialth_utils.modelsets as M

    if trained_log:  # note every (model, level, branch) this process trains
        original = M.ModelSet._save_level  # both paths, per model and batched, save through it

        def logged(self, m, level, branch, *args, **kw):
            with open(trained_log, "a") as log:
                log.write(f"{m} {level} {branch}\n")
            return original(self, m, level, branch, *args, **kw)

        M.ModelSet._save_level = logged
    ModelSet(_spec(), cache_dir=cache_dir).build(workers=1)


def test_two_processes_building_one_model_set_at_once(tmp_path):
    """One set of artefacts, no error, and each model-level trained once: the second process waits
    for the chain the first is building (store.building) instead of training it too."""
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_build, args=(tmp_path, tmp_path / f"trained-{i}.txt")) for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(300)
    assert [p.exitcode for p in procs] == [0, 0]
    folders = [p for p in (tmp_path / "population").iterdir()]
    assert all((p / "DONE").exists() for p in folders)  # no temporary folder left, none half-written
    assert len(folders) == 3 * 3 + 2  # 3 models x 3 levels + the target's 2 random-mask levels
    trained = [line for i in range(2) if (tmp_path / f"trained-{i}.txt").exists()
               for line in (tmp_path / f"trained-{i}.txt").read_text().splitlines()]
    assert sorted(trained) == sorted(set(trained)) and len(trained) == 3 * 3 + 2
    again = ModelSet(_spec(), cache_dir=tmp_path)
    assert not any(again.missing(m) for m in range(3))


def test_a_worker_killed_mid_level_then_a_rerun_gives_the_same_numbers(tmp_path):
    reference = _logits(ModelSet(_spec(), cache_dir=tmp_path / "clean").build(workers=1))
    ctx = mp.get_context("spawn")
    proc = ctx.Process(target=_build_slow_then_die, args=(tmp_path / "killed",))
    proc.start()
    deadline = time.time() + 120
    while time.time() < deadline and not list((tmp_path / "killed" / "population").glob("*.tmp-*")):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    assert list((tmp_path / "killed" / "population").glob("*.tmp-*")), "the kill did not land mid-level"
    rebuilt = _logits(ModelSet(_spec(), cache_dir=tmp_path / "killed").build(workers=1))
    assert _same_bits(reference, rebuilt)
    assert not list((tmp_path / "killed" / "population").glob("*.tmp-*"))  # the orphan was removed


def _build_slow_then_die(cache_dir):
    """Build the normal model set's artefacts, but slowly: the kill lands while a level is written."""
    import mialth_utils.modelsets as M

    original = M.ModelSet.save_outputs

    def slow_save(self, art, net, info, states=None):
        with art.writing() as folder:
            (folder / "partial").write_text("being written")
            time.sleep(60)
        return original(self, art, net, info, states)

    M.ModelSet.save_outputs = slow_save
    ModelSet(_spec(), cache_dir=cache_dir).build(workers=1)


def test_local_cluster_workers_do_not_inherit_dasks_malloc_trim_setting():
    """Dask's default MALLOC_TRIM_THRESHOLD_=65536 slows PyTorch's CPU training about 2.8x here."""
    import os

    from mialth_utils.executor import run_units

    os.environ["MALLOC_TRIM_THRESHOLD_"] = "65536"  # as a Dask cluster started earlier in this process leaves it
    try:
        assert run_units(os.getenv, [("MALLOC_TRIM_THRESHOLD_",), ("OMP_NUM_THREADS",)], workers=2) == [None, "1"]
    finally:
        os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)


def test_per_model_path_gives_the_same_bits_on_any_number_of_workers(tmp_path):
    one = _logits(ModelSet(_spec(), cache_dir=tmp_path / "one").build(workers=1, batched=False))
    two = _logits(ModelSet(_spec(), cache_dir=tmp_path / "two").build(workers=2, batched=False))
    assert _same_bits(one, two)


def test_batched_model_set_equals_the_per_model_one_in_fp32(tmp_path, monkeypatch):
    """Same starts, masks, seeds and examples: fp32 logits equal to float tolerance; every artefact
    saved under the same key; MIALTH_BATCHED=0 is the per-model path."""
    import mialth_utils.levels as L

    spec = _spec(train=TrainSpec(epochs=3, batch_size=64, precision="fp32"))
    passes = []
    original = L.train_batched
    monkeypatch.setattr(L, "train_batched", lambda jobs, *a, **kw: passes.append(len(jobs)) or original(jobs, *a, **kw))
    batched = ModelSet(spec, cache_dir=tmp_path / "b").build(workers=1)
    assert sum(passes) == 3 * 3 + 2 and max(passes) >= 2  # every model-level batched, several at a time
    monkeypatch.setenv("MIALTH_BATCHED", "0")
    n_passes = len(passes)
    single = ModelSet(spec, cache_dir=tmp_path / "s").build(workers=1)
    assert len(passes) == n_passes  # the per-model build made no batched pass
    a, b = _logits(batched), _logits(single)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=1e-4, atol=1e-4)
    assert batched.metrics(0, 1).keys() == single.metrics(0, 1).keys()  # the same columns
    assert sorted(p.name for p in (tmp_path / "b" / "population").iterdir()) == \
        sorted(p.name for p in (tmp_path / "s" / "population").iterdir())


def test_groups_split_the_work_evenly(tmp_path):
    models = ModelSet(_spec(n_models=9, controls=("random_mask", "random_reinit"), n_levels=3), cache_dir=tmp_path)
    groups = models.groups(list(range(9)), 2)
    work = [sum(len(models.chain(m)) for m in g) for g in groups]
    assert sorted(m for g in groups for m in g) == list(range(9)) and max(work) - min(work) <= 4
    assert models.groups([3], 2) == [(3,)]
