"""JupyterLab in a real browser: Debian's chromium driven by Playwright opens the quickstart and the
explorer notebooks with the "Python (mialth)" kernel, runs all cells through the Run menu and checks what
a reader sees: no error output, a rendered figure, and an explorer that redraws when a control changes.

Nothing in the repository is written: the notebooks are copied (at the smoke profile) into a temporary
folder that is JupyterLab's root, and ``MIALTH_RESULTS`` points at a temporary folder. Screenshots go to
``$MIALTH_SCREENSHOTS`` (default: the test's temporary folder). Skipped, with the reason, where chromium,
Playwright or JupyterLab cannot be had; ``make setup`` installs chromium with apt-get when run as root.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from mialth_utils.paths import PROJECT_ROOT
from mialth_utils.sweep import NOTEBOOKS

KERNEL, KERNEL_DISPLAY = "mialth", "Python (mialth)"
ERROR_IN_STDERR = re.compile(r"Traceback|^\w*(Error|Exception)\b", re.MULTILINE)


def chromium_path() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return found or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def smoke_copy(name: str, folder: Path) -> Path:
    """The notebook with ``profile = "smoke"`` in its parameters cell and the mialth kernel in its metadata."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    cell.source, n = re.subn(r'^profile = "\w+"', 'profile = "smoke"', cell.source, flags=re.MULTILINE)
    assert n == 1, f"{name}: no profile parameter to set"
    nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": KERNEL_DISPLAY, "language": "python"}
    nbformat.write(nb, folder / name)
    return folder / name


def kernel_paths(tmp: Path) -> list[str]:
    """Extra JUPYTER_PATH entries: none when ``make setup`` registered the kernel, else one registered here."""
    from jupyter_client.kernelspec import KernelSpecManager

    if KERNEL in KernelSpecManager().find_kernel_specs():
        return []
    prefix = tmp / "kernel_prefix"
    subprocess.run([sys.executable, "-m", "ipykernel", "install", "--prefix", str(prefix), "--name", KERNEL,
                    "--display-name", KERNEL_DISPLAY], check=True, capture_output=True)
    return [str(prefix / "share" / "jupyter")]


def python_path() -> str:
    """This checkout's package first, for the kernel and the sweep, whatever the venv installed."""
    return os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))


def server_env(tmp: Path, results: Path) -> dict:
    env = {**os.environ, "MIALTH_RESULTS": str(results), "PYTHONPATH": python_path(),
           "JUPYTER_CONFIG_DIR": str(tmp / "config"), "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces")}
    env.pop("MPLBACKEND", None)  # the kernel's inline backend, as a reader has it, so figures are images
    extra = kernel_paths(tmp)
    if extra:
        env["JUPYTER_PATH"] = os.pathsep.join(extra + [env.get("JUPYTER_PATH", "")]).rstrip(os.pathsep)
    labconfig = tmp / "config" / "labconfig"
    labconfig.mkdir(parents=True)
    (labconfig / "page_config.json").write_text(json.dumps(  # no news toast over the notebook
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    return env


def wait_for_server(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"jupyter lab did not answer {url} within {timeout:.0f}s")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a free loopback port (root: copies of two notebooks) and a chromium browser."""
    browser_path = chromium_path()
    if browser_path is None:
        pytest.skip("no chromium on PATH: apt-get install chromium (make setup does, as root)")
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright (Python) is not installed")
    if shutil.which("jupyter-lab", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("jupyterlab is not installed in this environment")
    tmp = tmp_path_factory.mktemp("browser")
    root, results = tmp / "notebooks", tmp / "results"
    root.mkdir()
    for name in ("00_quickstart.ipynb", "08_explore.ipynb"):
        smoke_copy(name, root)
    # 08_explore browses the lottery-ticket attack tables: make them at the smoke profile meanwhile
    sweep_log = tmp / "sweep.log"
    with open(sweep_log, "w") as log:
        sweep = subprocess.Popen([sys.executable, "-m", "mialth_utils.sweep", "run",
                                  str(NOTEBOOKS / "03_lth_attack.ipynb"), "-p", "profile=smoke",
                                  "--results-dir", str(results), "--workers", "1"],
                                 env={**os.environ, "PYTHONPATH": python_path()}, cwd=tmp, stdout=log,
                                 stderr=subprocess.STDOUT)
    token, port = secrets.token_hex(16), free_port()
    cmd = [str(Path(sys.executable).parent / "jupyter-lab"), "--no-browser", f"--ServerApp.token={token}",
           f"--port={port}", "--ip=127.0.0.1", f"--ServerApp.root_dir={root}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    server_log = open(tmp / "jupyter.log", "w")
    server = subprocess.Popen(cmd, env=server_env(tmp, results), cwd=root, stdout=server_log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    pw = browser = None
    try:
        wait_for_server(f"{base}/api/status?token={token}", server, tmp / "jupyter.log")
        pw = playwright.sync_playwright().start()
        browser = pw.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
        yield {"browser": browser, "base": base, "token": token, "sweep": sweep, "sweep_log": sweep_log}
    finally:
        if browser is not None:
            browser.close()
        if pw is not None:
            pw.stop()
        os.killpg(server.pid, signal.SIGTERM)  # the server's session: it and its kernels
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        server_log.close()
        if sweep.poll() is None:
            sweep.kill()
            sweep.wait()


def screenshots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("MIALTH_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def open_notebook(lab, name: str):
    """A fresh page with only this notebook open (``reset``: no tabs restored), its kernel started and idle."""
    page = lab["browser"].new_page(viewport={"width": 1400, "height": 1800})
    page.goto(f"{lab['base']}/lab/tree/{name}?reset&token={lab['token']}")
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    panel.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
    panel.locator(".jp-Toolbar-kernelName", has_text=KERNEL_DISPLAY).wait_for(timeout=60_000)
    panel.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(timeout=60_000)
    return page, panel


def run_all_cells(page, panel, timeout: float = 120) -> list[str]:
    """Run > Run All Cells, then wait until every code cell has run or one shows an error; the prompts."""
    page.locator("#jp-MainMenu .lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-item[data-command='runmenu:run-all']", has_text="Run All Cells").click()
    deadline = time.time() + timeout
    while time.time() < deadline:
        prompts = [p.strip() for p in panel.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()]
        finished = all(re.fullmatch(r"\[\d+\]:", p) for p in prompts)
        if not any("*" in p for p in prompts) and (finished or errors(panel)):
            panel.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(timeout=30_000)
            return prompts
        time.sleep(0.5)
    raise TimeoutError(f"cells still running after {timeout:.0f}s: {prompts}")


def errors(panel) -> list[str]:
    texts = panel.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").all_inner_texts()
    return [t for t in texts if ERROR_IN_STDERR.search(t)]


def figures(panel) -> list[str]:
    return [img.get_attribute("src") or "" for img in panel.locator(".jp-OutputArea-output img").all()]


def test_quickstart_runs_in_jupyterlab_with_the_mialth_kernel(lab, tmp_path):
    page, panel = open_notebook(lab, "00_quickstart.ipynb")
    prompts = run_all_cells(page, panel)
    page.screenshot(path=str(screenshots(tmp_path) / "00_quickstart.png"))
    assert not errors(panel), errors(panel)[0][-2000:]
    assert all(re.fullmatch(r"\[\d+\]:", p) for p in prompts), prompts
    assert any(src.startswith("data:image/png") for src in figures(panel)), "no figure rendered"
    assert panel.locator(".jp-Toolbar-kernelName").inner_text().strip() == KERNEL_DISPLAY


def test_explorer_redraws_when_a_control_changes(lab, tmp_path):
    assert lab["sweep"].wait(timeout=180) == 0, lab["sweep_log"].read_text()[-3000:]
    page, panel = open_notebook(lab, "08_explore.ipynb")
    run_all_cells(page, panel)
    assert not errors(panel), errors(panel)[0][-2000:]
    metric = panel.locator(".widget-dropdown", has_text="metric").locator("select")
    metric.wait_for(timeout=30_000)
    panel.locator(".jupyter-widgets-output-area img, .widget-output img").first.wait_for(timeout=30_000)
    before = figures(panel)
    page.screenshot(path=str(screenshots(tmp_path) / "08_explore_before.png"))
    options = metric.locator("option").all_inner_texts()
    assert options[0] == "auc" and len(options) > 1, options
    metric.select_option(label=options[1])
    deadline = time.time() + 30
    while figures(panel) == before and time.time() < deadline:
        time.sleep(0.3)
    after = figures(panel)
    page.screenshot(path=str(screenshots(tmp_path) / "08_explore_after.png"))
    assert after and after != before, "the explorer's figure did not change with the metric"
    assert not errors(panel)
    assert panel.locator(".jp-Toolbar-kernelName").inner_text().strip() == KERNEL_DISPLAY
