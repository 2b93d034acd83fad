"""Clear errors for data: the right folder per data set, the command that fetches it, pool sizes against
the class count; noise query views independent across batches."""
import numpy as np
import pytest
import torch

from mialth_utils.data.files import DataNotFoundError
from mialth_utils.data.membership import sample_pool
from mialth_utils.data.registry import load_dataset
from mialth_utils.data.views import View
from mialth_utils.training.predict import query_inputs


@pytest.mark.parametrize("name,folder", [("cifar10", "cifar-10-batches-py"), ("cifar100", "cifar-100-python")])
def test_a_missing_cifar_names_its_own_folder_and_the_command_that_fetches_it(name, folder):
    with pytest.raises(DataNotFoundError) as err:
        load_dataset(name)
    message = str(err.value)
    assert folder in message and f"python -m mialth_utils.data --download {name}" in message
    other = {"cifar-10-batches-py", "cifar-100-python"} - {folder}
    assert not any(o in message for o in other) and "download=True" not in message


def test_a_missing_mnist_names_the_command():
    with pytest.raises(DataNotFoundError, match="python -m mialth_utils.data --download mnist"):
        load_dataset("mnist")


@pytest.mark.parametrize("n_pool,n_population", [(3, 100), (400, 4)])
def test_pool_sizes_below_the_class_count_get_the_kits_message(n_pool, n_population):
    labels = np.repeat(np.arange(10), 50)
    name = "n_pool" if n_pool < 10 else "n_population"
    with pytest.raises(ValueError, match=f"{name} = {min(n_pool, n_population)} is smaller than the 10 classes"):
        sample_pool(labels, n_pool, n_population, seed=0)
    pool, population = sample_pool(labels, 10, 10, seed=0)  # one per class is allowed
    assert len(pool) == 10 and len(np.intersect1d(pool, population)) == 0


def test_noise_views_are_independent_across_batches_and_do_not_depend_on_the_batch_size():
    data = load_dataset("fake")
    x = data.train_x[:1000]
    view = View.parse("noise:0.05:1")
    full = view.apply(x)
    batched = torch.cat([view.apply(x[i:i + 300], start=i) for i in range(0, 1000, 300)])
    assert torch.equal(full, batched)
    first = view.apply(x[:300]) - x[:300].float() / 255.0
    second = view.apply(x[300:600], start=300) - x[300:600].float() / 255.0
    inside = (x[:300] > 20) & (x[:300] < 235) & (x[300:600] > 20) & (x[300:600] < 235)  # away from clipping
    assert not torch.allclose(first[inside], second[inside])  # was the same pattern for every equal-sized batch
    assert abs(np.corrcoef(first[inside].numpy(), second[inside].numpy())[0, 1]) < 0.05
    assert not torch.equal(full, View.parse("noise:0.05:2").apply(x))  # another view, other noise
    small, large = (query_inputs(data, x, ("noise:0.05:0",), batch_size=b)[0] for b in (128, 2048))
    assert torch.equal(torch.cat(small), torch.cat(large))
