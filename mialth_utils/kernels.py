"""The Jupyter kernel the kit's notebook runs use: "Python (mialth)" when ``make setup`` registered it,
started and stopped without transport noise (no plain-TCP warning, no interrupt at shutdown)."""
from __future__ import annotations

from jupyter_client import AsyncKernelManager

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
    from jupyter_client.kernelspec import KernelSpecManager

    return name in KernelSpecManager().find_kernel_specs()


def kernel_name() -> str:
    """``mialth`` (the kernelspec the notebooks are committed with) when ``make setup`` registered it, else
    ``python3``, the default kernel of the Python that runs papermill."""
    return KERNEL if has_kernel(KERNEL) else "python3"
