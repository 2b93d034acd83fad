"""The Jupyter kernel the kit's notebook runs use: "Python (mialth)" when ``make setup`` registered it,
started and stopped without transport noise (no plain-TCP warning, no interrupt at shutdown)."""
from __future__ import annotations

import logging
import sys
from pathlib import Path

from jupyter_client import AsyncKernelManager

log = logging.getLogger(__name__)

KERNEL = "mialth"  # registered by `make setup`: ipykernel install --user --name mialth


class QuietKernelManager(AsyncKernelManager):
    """A kernel manager that does not interrupt a kernel it is shutting down. jupyter_client sends SIGINT
    before every shutdown request; a kernel that finished its notebook is idle, so the interrupt only makes
    it log ``KeyboardInterrupt caught in kernel``. A kernel still busy is terminated, then killed, after
    ``shutdown_wait_time`` as before; interrupts at other times (nbclient's timeout) are sent as usual."""

    async def _async_interrupt_kernel(self) -> None:
        if self.shutting_down:
            return
        await super()._async_interrupt_kernel()

    interrupt_kernel = _async_interrupt_kernel


def kernel_config():
    """Traitlets config for the kernel managers: CurveZMQ transport encryption where pyzmq has it and this
    jupyter_client can provision it ("auto": for kernelspecs that declare it, as ipykernel's do); the kernel
    then does not warn that it runs over plain TCP."""
    import zmq
    from traitlets.config import Config

    config = Config()
    if "transport_encryption" in AsyncKernelManager.class_trait_names():
        config.KernelManager.transport_encryption = "auto" if zmq.has("curve") else "disabled"
    return config


def has_kernel(name: str) -> bool:
    """A kernelspec ``name`` exists and runs this very Python (the interpreter running papermill)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        return False
    return Path(spec.argv[0]).absolute() == Path(sys.executable).absolute()


def kernel_name() -> str:
    """``mialth`` (the kernelspec the notebooks are committed with) when ``make setup`` registered it for this
    Python, else ``python3``, the kernel of the Python that runs papermill. ``make setup`` registers the
    spec per user: another clone's set-up re-points it to that clone's venv, whose notebooks would then run
    the other clone's code (this happened: a second clone set up mid-study ran a study's later notebooks),
    so a spec that runs another interpreter is not used (logged)."""
    if has_kernel(KERNEL):
        return KERNEL
    from jupyter_client.kernelspec import KernelSpecManager

    if KERNEL in KernelSpecManager().find_kernel_specs():
        log.warning("kernelspec %r runs another Python than %s (another clone's set-up?): using python3",
                    KERNEL, sys.executable)
    return "python3"
