"""Benchmark: the kit's tensor-resident trainer against the plain PyTorch way, in one run.

(a) plain: torchvision ``FashionMNIST`` + ``ToTensor`` + ``Normalize`` + ``DataLoader`` (per-sample PIL),
(b) kit:   ``mialth_utils.train.train`` on uint8 tensors held on the device.
Same model, optimiser, batch size and examples; after 10 untimed warm-up steps, 3 timed one-epoch
trials per side (fresh model each), the median reported; each side in a fresh process so that
peak memory is its own. The kit side includes everything the
trainer does by default (bf16 autocast where the hardware does bf16, channels_last for conv nets). Prints samples/s of each and the ratio.

    python -m mialth_utils.bench                      # LeNet-300-100 (60k) and Conv-2 (12k)
    python -m mialth_utils.bench --models lenet-300-100 --n-train 60000 --device cuda
"""
from __future__ import annotations

import argparse
import gzip
import logging
import multiprocessing as mp
import resource
import statistics
import shutil
import tempfile
import time
from pathlib import Path

log = logging.getLogger(__name__)
WARMUP_STEPS = 10
DEFAULT_N = {"lenet-300-100": 60000, "conv-2": 12000}


def _raw_root(tmp: Path) -> Path:
    """torchvision's FashionMNIST reads uncompressed IDX files from <root>/FashionMNIST/raw."""
    from ..data.files import IDX_FILES, ensure_fashion_mnist

    src = ensure_fashion_mnist(allow_apt=False)
    raw = tmp / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for stem in IDX_FILES.values():
        gz = Path(src) / (stem + ".gz")
        with (gzip.open(gz) if gz.exists() else open(Path(src) / stem, "rb")) as fin, open(raw / stem, "wb") as fout:
            shutil.copyfileobj(fin, fout)
    return tmp


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run_plain(model_name: str, n_train: int, batch_size: int, device: str, root: str, workers: int,
               repeats: int) -> dict:
    import torch
    from torchvision import datasets, transforms

    from ..models import build_model

    torch.manual_seed(0)
    dev = torch.device(device)
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.286,), (0.353,))])
    ds = torch.utils.data.Subset(datasets.FashionMNIST(root, train=True, transform=tf), range(n_train))
    loader = torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=True, num_workers=workers,
                                         pin_memory=dev.type == "cuda")
    model = build_model(model_name, (1, 28, 28), 10).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4, nesterov=True)
    loss_fn = torch.nn.CrossEntropyLoss()
    for step, (xb, yb) in enumerate(loader):  # untimed warm-up: the same WARMUP_STEPS as the kit
        if step == WARMUP_STEPS:
            break
        loss_fn(model(xb.to(dev)), yb.to(dev)).backward()
    times = []
    for _ in range(repeats):
        model = build_model(model_name, (1, 28, 28), 10).to(dev)
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4, nesterov=True)
        start = time.perf_counter()
        for xb, yb in loader:
            xb, yb = xb.to(dev, non_blocking=True), yb.to(dev, non_blocking=True)
            loss = loss_fn(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    return {"seconds": seconds, "samples_per_s": n_train / seconds, "peak_rss_mb": _peak_mb(),
            "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda" else 0.0}


def _run_kit(model_name: str, n_train: int, batch_size: int, device: str, repeats: int) -> dict:
    import torch

    from ..data.registry import load_dataset
    from ..models import make_model
    from ..training.loop import TrainSpec, train

    data = load_dataset("fashion-mnist", device=device)
    spec = TrainSpec(epochs=1, batch_size=batch_size, schedule="constant")
    train(make_model(model_name, data, seed=1), data, torch.arange(WARMUP_STEPS * batch_size), spec, seed=1)  # untimed warm-up
    times = []
    for _ in range(repeats):
        model = make_model(model_name, data, seed=0)
        start = time.perf_counter()
        train(model, data, torch.arange(n_train), spec, seed=0)
        if data.device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    return {"seconds": seconds, "samples_per_s": n_train / seconds, "peak_rss_mb": _peak_mb(),
            "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20 if data.device.type == "cuda" else 0.0}


def _in_fresh_process(fn, *args) -> dict:
    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(fn, args)


def run_benchmark(models=("lenet-300-100", "conv-2"), n_train: int | None = None, batch_size: int = 128,
                  device: str = "auto", workers: int = 0, repeats: int = 3) -> list[dict]:
    from ..runtime import resolve_device

    dev = str(resolve_device(device))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = str(_raw_root(Path(tmp)))
        for name in models:
            n = n_train or DEFAULT_N.get(name, 12000)
            plain = _in_fresh_process(_run_plain, name, n, batch_size, dev, root, workers, repeats)
            kit = _in_fresh_process(_run_kit, name, n, batch_size, dev, repeats)
            row = {"model": name, "n_train": n, "batch_size": batch_size, "device": dev, "workers": workers,
                   "repeats": repeats,
                   "plain_samples_per_s": plain["samples_per_s"], "kit_samples_per_s": kit["samples_per_s"],
                   "ratio": kit["samples_per_s"] / plain["samples_per_s"],
                   "plain_peak_rss_mb": plain["peak_rss_mb"], "kit_peak_rss_mb": kit["peak_rss_mb"],
                   "plain_peak_gpu_mb": plain["peak_gpu_mb"], "kit_peak_gpu_mb": kit["peak_gpu_mb"]}
            rows.append(row)
            log.info(f"{name:>14} n={n} bs={batch_size} {dev}: plain {row['plain_samples_per_s']:9.0f}/s "
                  f"(peak RSS {row['plain_peak_rss_mb']:.0f} MB) | kit {row['kit_samples_per_s']:9.0f}/s "
                  f"(peak RSS {row['kit_peak_rss_mb']:.0f} MB) | ratio {row['ratio']:.2f}x")
    return rows


def _main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["lenet-300-100", "conv-2"])
    parser.add_argument("--n-train", type=int, default=None, help="examples per epoch (default per model)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers for the plain way")
    parser.add_argument("--repeats", type=int, default=3, help="timed one-epoch trials per side (median reported)")
    parser.add_argument("--csv", default=None, help="also write the rows to this CSV")
    args = parser.parse_args(argv)
    import os
    import platform

    log.info(f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} cores")
    rows = run_benchmark(args.models, args.n_train, args.batch_size, args.device, args.workers, args.repeats)
    if args.csv:
        import pandas as pd

        pd.DataFrame(rows).to_csv(args.csv, index=False)


if __name__ == "__main__":
    _main()
