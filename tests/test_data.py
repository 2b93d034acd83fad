import numpy as np
import pytest
from conftest import write_image_folder
import torch

from mialth_utils.data import files as F, registry as D, views as V


def write_fake_idx(folder, n_train=50, n_test=20, gz=True):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    arrays = {"train_x": rng.integers(0, 256, (n_train, 28, 28)), "train_y": rng.integers(0, 10, n_train),
              "test_x": rng.integers(0, 256, (n_test, 28, 28)), "test_y": rng.integers(0, 10, n_test)}
    for key, stem in F.IDX_FILES.items():
        F.write_idx(folder / (stem + (".gz" if gz else "")), arrays[key])
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_idx_round_trip(tmp_path, gz):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / ("a.idx" + (".gz" if gz else ""))
    F.write_idx(path, arr)
    np.testing.assert_array_equal(F.read_idx(path), arr)


def test_idx_rejects_bad_files(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04rubbish")
    with pytest.raises(ValueError, match="magic"):
        F.read_idx(tmp_path / "bad")
    arr = np.zeros((4, 5), np.uint8)
    F.write_idx(tmp_path / "t", arr)
    (tmp_path / "t").write_bytes((tmp_path / "t").read_bytes()[:-3])
    with pytest.raises(ValueError, match="truncated"):
        F.read_idx(tmp_path / "t")


def test_fashion_mnist_loads_from_files_in_real_format(tmp_path, monkeypatch):
    monkeypatch.setattr(D, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "nowhere")
    arrays = write_fake_idx(tmp_path / "data" / "fashion-mnist")
    D._cached_arrays.cache_clear()
    data = D.load_dataset("fashion-mnist")
    assert data.train_x.shape == (50, 1, 28, 28) and data.train_x.dtype == torch.uint8
    np.testing.assert_array_equal(data.train_y.numpy(), arrays["train_y"])
    assert data.classes[0] == "T-shirt/top" and data.n_classes == 10


def test_missing_data_set_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setattr(D, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "nowhere")
    D._cached_arrays.cache_clear()
    with pytest.raises(F.DataNotFoundError, match="dataset-fashion-mnist") as err:
        D.load_dataset("fashion-mnist")
    assert "python -m mialth_utils.data --download fashion-mnist" in str(err.value)
    with pytest.raises(F.DataNotFoundError, match="download"):
        D.load_dataset("cifar10")


def test_unknown_and_wrongly_typed_names():
    with pytest.raises(ValueError, match="unknown data set 'svhn'.*fashion-mnist"):
        D.load_dataset("svhn")
    with pytest.raises(TypeError):
        D.load_dataset(10)


def test_class_subset_is_seeded_and_reindexed():
    full = D.load_dataset("fake")
    sub = D.load_dataset("fake", n_classes=3, seed=0)
    again = D.load_dataset("fake", n_classes=3, seed=0)
    assert sub.n_classes == 3 and set(sub.train_y.unique().tolist()) == {0, 1, 2}
    assert sub.classes == again.classes and torch.equal(sub.train_x, again.train_x)
    kept = [int(c) for c in sub.classes]
    assert len(sub.train_y) == int(sum((full.train_y == c).sum() for c in kept))
    with pytest.raises(ValueError, match="n_classes"):
        D.load_dataset("fake", n_classes=11)


def test_digits_and_fake_shapes():
    digits = D.load_dataset("digits")
    assert digits.input_shape == (1, 8, 8) and digits.n_classes == 10
    assert len(digits.train_y) + len(digits.test_y) == 1797
    fake = D.load_dataset("fake")
    assert fake.input_shape == (1, 12, 12) and fake.train_x.dtype == torch.uint8


def test_imagefolder_reads_class_folders(tmp_path):
    write_image_folder(tmp_path / "imgs", size=30, n_classes=3)
    data = D.load_dataset("imagefolder", path=str(tmp_path / "imgs"), image_size=16)
    assert data.input_shape == (3, 16, 16)
    assert len(data.train_y) + len(data.test_y) == 30 and len(data.test_y) == 6
    with pytest.raises(F.DataNotFoundError, match="does not exist"):
        D.load_dataset("imagefolder", path=str(tmp_path / "missing"))


def test_normalise_and_augment():
    data = D.load_dataset("fake")
    x = data.normalise(data.train_x)
    assert abs(float(x.mean())) < 0.05 and abs(float(x.std()) - 1) < 0.05
    batch = data.train_x[:64]
    a1 = V.augment(batch, torch.Generator().manual_seed(1))
    a2 = V.augment(batch, torch.Generator().manual_seed(1))
    assert a1.shape == batch.shape and torch.equal(a1, a2) and not torch.equal(a1, batch)


def test_shift_moves_pixels():
    x = torch.zeros(1, 1, 4, 4)
    x[0, 0, 1, 1] = 1
    assert V.shift(x, 1, 0)[0, 0, 1, 2] == 1 and V.shift(x, 0, -1)[0, 0, 0, 1] == 1
    assert V.shift(x, 1, 0).sum() == 1
