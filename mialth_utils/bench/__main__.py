"""The kit's speed, as ratios against the plain way, in one run (``python -m mialth_utils.bench``):

1. trainer: tensor-resident training vs torchvision + DataLoader (samples/s, ``bench.trainer``);
2. bootstrap: vectorised bootstrap CIs vs sklearn once per resample, 200 resamples (``bench.bootstrap``);
3. model set: building the quick model set sequentially vs ``workers=2`` processes (``bench.modelset``).
"""
from __future__ import annotations

import argparse
import logging
import os
import platform

import pandas as pd

from ..log import setup
from . import bootstrap, modelset, trainer

log = logging.getLogger("mialth_utils.bench")


def main(argv=None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", nargs="+", default=["trainer", "bootstrap", "modelset"])
    parser.add_argument("--models", nargs="+", default=["lenet-300-100", "conv-2"], help="trainer part")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--workers", type=int, default=2, help="model-set part: worker processes")
    parser.add_argument("--levels", type=int, default=4, help="model-set part: IMP levels after the dense one")
    parser.add_argument("--epochs", type=int, default=30, help="model-set part: epochs per level (quick: 30)")
    parser.add_argument("--csv", default=None, help="also write the rows to this CSV")
    args = parser.parse_args(argv)
    setup()  # the kit's INFO lines only (not every Dask worker's)
    log.info("machine: %s %s, %d cores", platform.machine(), platform.processor() or "", os.cpu_count())
    rows = []
    if "trainer" in args.parts:
        rows += [{"part": "trainer", **row} for row in trainer.run_benchmark(args.models, device=args.device)]
    if "bootstrap" in args.parts:
        rows.append({"part": "bootstrap (200 resamples, 4000 examples)", **bootstrap.benchmark()})
    if "modelset" in args.parts:
        result = modelset.benchmark(args.workers, epochs=args.epochs, n_levels=args.levels)
        rows.append({"part": f"model set (sequential vs {args.workers} workers)", **result})
    table = pd.DataFrame(rows)
    for _, row in table.iterrows():
        log.info("%-45s ratio %.2fx", row["part"], row["ratio"])
    if args.csv:
        table.to_csv(args.csv, index=False)
    return table


if __name__ == "__main__":
    main()
