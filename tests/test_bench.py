"""The bench's CPU-side logic at tiny sizes: the GPU check and the batched-training rows."""
import pytest

from mialth_utils.bench import __main__ as bench
from mialth_utils.bench import batched, gpu_check


def test_gpu_check_runs_its_every_step_on_the_cpu_at_tiny_sizes(tmp_path):
    table = bench.main(["--device", "cpu", "--gpu-check", "--tiny", "--csv", str(tmp_path / "rows.csv")])
    parts = list(table["part"])
    assert len(parts) == 4 and parts[0].endswith("lenet-300-100") and "resnet-18" in parts[2]
    assert "3-model, 1-level" in parts[3]
    big = table.iloc[3]
    assert big["model_levels"] == 3 * 2 + 2 and big["seconds"] > 0  # 3 models x 2 levels + 2 controls
    assert table.iloc[0]["batched_seconds"] > 0 and table.iloc[0]["matmul_gflops"] > 0
    assert table.iloc[1]["not_batched_because"].startswith("ConvNet")  # Conv-2 falls back, and says why
    assert table.iloc[2]["projected_level_seconds"] > table.iloc[2]["epoch_seconds"]
    assert (tmp_path / "rows.csv").read_text().count("\n") == 5


def test_matmul_rate_counts_six_products_per_weight_and_example():
    import torch

    rate = batched.matmul_rate([(16, 8), (8, 4)], n_models=2, batch_size=4, dtype=torch.float32,
                               device=torch.device("cpu"), seconds=0.05)
    assert rate > 0


def test_gpu_check_sizes_default_to_the_verdicts_scale():
    sizes = gpu_check.GpuCheckSizes()
    assert (sizes.n_refs, sizes.n_levels, sizes.epochs) == (64, 16, 30)
    with pytest.raises(SystemExit):
        bench.main(["--parts", "nothing"])
