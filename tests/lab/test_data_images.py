"""MNIST and Fashion-MNIST from the real files, against the counts in the data sets' READMEs; the IDX and
CIFAR-10 decoders on small files made here."""

from __future__ import annotations

import io
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from ravine.lab.data import DataError, load_cifar10, load_fashion_mnist, load_mnist
from ravine.lab.data.images import read_cifar10_tar, read_idx

# Label histograms 0..9 as given in shared/data/mnist/README.md (and LeCun's page).
MNIST_TRAIN = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_mnist_counts_shapes_and_label_histograms(shared_data: Path) -> None:
    m = load_mnist(shared_data)
    assert m.train.x.shape == (60_000, 28, 28) and m.test.x.shape == (10_000, 28, 28)
    assert m.train.x.dtype == torch.uint8 and m.train.y.dtype == torch.int64
    assert m.train.y.bincount().tolist() == MNIST_TRAIN
    assert m.test.y.bincount().tolist() == MNIST_TEST
    assert int(m.train.x.min()) == 0 and int(m.train.x.max()) == 255
    assert m.classes == tuple("0123456789")


def test_fashion_mnist_is_balanced(shared_data: Path) -> None:
    f = load_fashion_mnist(shared_data)
    assert f.train.x.shape == (60_000, 28, 28) and f.test.x.shape == (10_000, 28, 28)
    # README: 6,000 per class in train and 1,000 per class in test.
    assert f.train.y.bincount().tolist() == [6000] * 10
    assert f.test.y.bincount().tolist() == [1000] * 10
    assert f.classes[0] == "T-shirt/top" and f.classes[9] == "Ankle boot"


def _idx(shape: tuple[int, ...], type_code: int = 0x08, extra: int = 0) -> bytes:
    head = bytes([0, 0, type_code, len(shape)]) + struct.pack(f">{len(shape)}i", *shape)
    return head + bytes(range(int(np.prod(shape)) + extra))


def test_read_idx_decodes_the_header_and_data() -> None:
    a = read_idx(_idx((2, 3, 4)))
    assert a.shape == (2, 3, 4) and a.dtype == np.uint8
    assert a.reshape(-1).tolist() == list(range(24))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x01\x00\x08\x01" + struct.pack(">i", 3) + b"abc", "bad magic"),
        (_idx((3,), type_code=0x0D), "not supported"),
        (_idx((2, 3), extra=1), "header"),
        (_idx((2, 3))[:-1], "header"),
        (b"\x00\x00\x08\x03" + b"\x00" * 4, "truncated"),
    ],
)
def test_read_idx_refuses_malformed_files(data: bytes, message: str) -> None:
    with pytest.raises(DataError, match=message):
        read_idx(data, "x.idx")


def _batch(rng: np.random.Generator, n: int) -> tuple[bytes, np.ndarray, list[int]]:
    data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    labels = [int(v) for v in rng.integers(0, 10, size=n)]
    return pickle.dumps({b"data": data, b"labels": labels, b"batch_label": b"x"}, protocol=2), data, labels


def _cifar_tar(path: Path, batches: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, payload in batches.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))


def test_cifar10_reader_on_a_small_archive_in_the_published_layout(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    made = {n: _batch(rng, 4) for n in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]}
    _cifar_tar(tmp_path / "c.tar.gz", {n: b[0] for n, b in made.items()})
    c = read_cifar10_tar(tmp_path / "c.tar.gz")
    assert c.train.x.shape == (20, 3, 32, 32) and c.test.x.shape == (4, 3, 32, 32)
    # Row layout of the published batches: 1024 red, then green, then blue values, each row-major 32x32.
    assert torch.equal(c.train.x[5].reshape(-1), torch.from_numpy(made["data_batch_2"][1][1]))
    assert c.train.y.tolist() == [v for i in range(1, 6) for v in made[f"data_batch_{i}"][2]]
    assert c.test.y.tolist() == made["test_batch"][2]


class _Evil:
    def __reduce__(self) -> tuple:
        return (print, ("this must not run",))


def test_cifar10_reader_refuses_pickles_that_build_other_objects(tmp_path: Path) -> None:
    payload = pickle.dumps({b"data": _Evil(), b"labels": []}, protocol=2)
    _cifar_tar(tmp_path / "c.tar.gz", {"data_batch_1": payload})
    with pytest.raises(DataError, match=r"print, which is not allowed"):
        read_cifar10_tar(tmp_path / "c.tar.gz")


def test_cifar10_reader_reports_missing_batches(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    _cifar_tar(tmp_path / "c.tar.gz", {"data_batch_1": _batch(rng, 2)[0]})
    with pytest.raises(DataError, match="lacks the batches data_batch_2"):
        read_cifar10_tar(tmp_path / "c.tar.gz")


def test_cifar10_missing_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="download cifar-10"):
        load_cifar10(tmp_path)
