"""The kit's speed, as ratios against the plain way, in one run (``python -m mialth_utils.bench``):

1. trainer: tensor-resident training vs torchvision + DataLoader (samples/s, ``bench.trainer``);
2. batched: a level's 9 models trained per model vs in one batched pass, and the trainer's GFLOP/s
   beside a matmul of the same shapes on the same threads (``bench.batched``; LeNet-300-100, Conv-2);
3. bootstrap: vectorised bootstrap CIs vs sklearn once per resample, 200 resamples (``bench.bootstrap``);
4. model set: building the quick model set sequentially vs ``workers=2`` processes, and per model vs
   batched by level on those workers (``bench.modelset``);
5. attacks: SAMIA's fit before and after, Shokri's MLPs beside boosted trees (``bench.samia``).

``--device cuda`` runs every row on the GPU; ``--gpu-check`` runs the prepared GPU measurements
instead (``bench.gpu_check``: the training rows, a paper-profile level, a 64-reference 16-level model set).
The machine this project runs on is shared: quote the ratios of one run, not its seconds.
"""
from __future__ import annotations

import argparse
import logging
import os
import platform

import pandas as pd

from ..log import setup
from . import batched, bootstrap, gpu_check, modelset, samia, trainer

log = logging.getLogger("mialth_utils.bench")
PARTS = ["trainer", "batched", "bootstrap", "modelset", "attacks"]


def _rows(args, device: str) -> list[dict]:
    rows = []
    if "trainer" in args.parts:
        rows += [{"part": "trainer", **row} for row in trainer.run_benchmark(args.models, device=device)]
    if "batched" in args.parts:
        rows += [{"part": "batched training (9 models, one level)", **batched.benchmark(m, device=device)}
                 for m in args.models]
    if "bootstrap" in args.parts:
        rows.append({"part": "bootstrap (200 resamples, 4000 examples)", **bootstrap.benchmark()})
    if "modelset" in args.parts:
        result = modelset.benchmark(args.workers, epochs=args.epochs, n_levels=args.levels, device=device)
        rows.append({"part": f"model set (sequential vs {args.workers} workers)", **result})
        result = modelset.batched_benchmark(args.workers, epochs=args.epochs, n_levels=args.levels, device=device)
        rows.append({"part": f"model set (per model vs batched, {args.workers} workers)", **result})
    if "attacks" in args.parts:
        rows += samia.benchmark(device=device)
    return rows


def main(argv=None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", nargs="+", default=PARTS, choices=PARTS)
    parser.add_argument("--models", nargs="+", default=["lenet-300-100", "conv-2"], help="trainer and batched parts")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda: every row runs there")
    parser.add_argument("--gpu-check", action="store_true", help="the prepared GPU measurements (bench.gpu_check)")
    parser.add_argument("--tiny", action="store_true", help="--gpu-check at tiny sizes (tests its logic on a CPU)")
    parser.add_argument("--workers", type=int, default=2, help="model-set part: worker processes")
    parser.add_argument("--levels", type=int, default=4, help="model-set part: IMP levels after the dense one")
    parser.add_argument("--epochs", type=int, default=30, help="model-set part: epochs per level (quick: 30)")
    parser.add_argument("--csv", default=None, help="also write the rows to this CSV")
    args = parser.parse_args(argv)
    setup()  # the kit's INFO lines only (not every Dask worker's)
    from ..runtime import resolve_device

    device = str(resolve_device(args.device))
    log.info("machine: %s %s, %d cores; device %s", platform.machine(), platform.processor() or "", os.cpu_count(),
             device)
    if args.gpu_check:
        rows = gpu_check.run(device, gpu_check.GpuCheckSizes.tiny() if args.tiny else None)
    else:
        rows = _rows(args, device)
    table = pd.DataFrame(rows)
    for _, row in table.iterrows():
        why = row.get("not_batched_because")
        label = f"{row['part']} ({row['model']})" if isinstance(row.get("model"), str) else row["part"]
        if isinstance(why, str) and why:
            log.info("%-55s not compared: %s", label, why)
        else:
            log.info("%-55s ratio %.2fx", label, row.get("ratio", float("nan")))
    if args.csv:
        table.to_csv(args.csv, index=False)
    return table


if __name__ == "__main__":
    main()
