"""One executor for independent units of work: in-process, a local pool of worker processes, or Dask.

A unit is a plain function and its arguments (one model's IMP chain, one compressed model, one
notebook run); units share nothing but the hash-keyed store, so any worker can run any unit and the
caller then loads the results from the store. ``workers=1`` runs in this process (for debugging);
``workers>1`` starts a ``dask.distributed.LocalCluster`` of that many single-threaded processes;
``scheduler`` (or ``MIALTH_DASK_SCHEDULER``) names an existing Dask scheduler, e.g. one started by
``dask_jobqueue.SLURMCluster`` (see the README), whose workers must see the same store.

Every unit runs with ``MIALTH_UNIT_THREADS`` torch threads (default 1), in this process too: CPU
arithmetic depends on the thread count, so a fixed count makes the results bitwise the same
whatever the number of workers (tests/test_executor.py); parallelism comes from running units
side by side.
"""
from __future__ import annotations

import logging
import os
import warnings
from typing import Any, Callable, Sequence

from .log import progress

log = logging.getLogger(__name__)


def default_workers() -> int:
    """``MIALTH_WORKERS`` if set, else the number of cores."""
    return int(os.environ.get("MIALTH_WORKERS") or os.cpu_count() or 1)


def unit_threads() -> int:
    return int(os.environ.get("MIALTH_UNIT_THREADS") or 1)


def _call(fn: Callable, args: tuple) -> Any:
    """Run one unit with ``unit_threads()`` torch threads (restored afterwards)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(unit_threads())
    try:
        return fn(*args)
    finally:
        torch.set_num_threads(before)


def run_units(fn: Callable, units: Sequence[tuple], *, workers: int | None = None, scheduler: str | None = None,
              desc: str = "units") -> list:
    """``[fn(*args) for args in units]``, spread over ``workers`` processes or a Dask scheduler."""
    units = list(units)
    if not units:
        return []
    scheduler = scheduler or os.environ.get("MIALTH_DASK_SCHEDULER") or None
    workers = workers or default_workers()
    if scheduler is None and (workers <= 1 or len(units) == 1):
        return [_call(fn, args) for args in progress(units, desc=desc)]
    from dask.distributed import as_completed

    with _client(scheduler, min(workers, len(units))) as client:
        # On the kit's own cluster a unit is submitted when a worker is free, so units start in the order
        # given (submitted all at once, Dask hands the first few out two per worker up front, and the
        # order the study relies on, e.g. the lottery-ticket runs first, is lost). A cluster of the
        # user's, which may grow, gets every unit at once.
        in_flight = len(units) if scheduler else min(workers, len(units))
        futures = [client.submit(_call, fn, args, pure=False) for args in units[:in_flight]]
        done = as_completed(futures)
        for future in progress(done, desc=desc, total=len(units)):
            future.result()  # re-raise a unit's error here
            if len(futures) < len(units):
                futures.append(client.submit(_call, fn, units[len(futures)], pure=False))
                done.add(futures[-1])
        return client.gather(futures)


SLOW_ENVIRON = ("MALLOC_TRIM_THRESHOLD_",)


def worker_environ() -> dict:
    """Dask's environment for new worker processes without ``MALLOC_TRIM_THRESHOLD_``: Dask sets it to
    64 KiB, which makes glibc hand memory back to the system after almost every free, and PyTorch's
    small CPU tensors then train about 2.8x slower (measured: a quick model-level's training steps
    0.57 s without it, 1.62 s with it). Notebook kernels started from a worker must not inherit it either."""
    import dask

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}))
    for name in SLOW_ENVIRON:
        environ.pop(name, None)
    return environ


def _client(scheduler: str | None, n_workers: int):
    from dask.distributed import Client, LocalCluster

    if scheduler:
        log.info("dask: submitting to the scheduler at %s", scheduler)
        return Client(scheduler)
    import dask

    log.info("dask: local cluster of %d single-threaded worker processes", n_workers)
    # A nanny copies its pre-spawn environment into this process's os.environ and leaves it there, so a
    # cluster started earlier (with Dask's defaults) would hand the setting on through inheritance.
    for variable in SLOW_ENVIRON:
        os.environ.pop(variable, None)
    with warnings.catch_warnings(), dask.config.set({"distributed.nanny.pre-spawn-environ": worker_environ()}):
        warnings.filterwarnings("ignore", message="Port .* is already in use")  # there is no dashboard to host
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=logging.ERROR)
    return _Closing(Client(cluster), cluster)


class _Closing:
    """Context manager closing a client and the local cluster it owns."""

    def __init__(self, client, cluster):
        self.client, self.cluster = client, cluster

    def __enter__(self):
        return self.client

    def __exit__(self, *exc):
        quiet = logging.getLogger("distributed")  # "worker process still alive ..., killing" at close
        level, quiet.level = quiet.level, logging.ERROR
        try:
            self.client.close()
            self.cluster.close()
        finally:
            quiet.setLevel(level)
