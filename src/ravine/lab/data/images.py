"""Image data sets from their original files: MNIST and Fashion-MNIST (IDX), CIFAR-10 (python pickles in a tar).

Images stay uint8 as published (tasks scale them); labels are int64. Nothing is extracted to disk: the gzip and
tar files are read in memory after their checksums are verified.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ravine.lab.data.sources import CIFAR10, FASHION_MNIST, MNIST, DataError, DataSet, locate

MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


@dataclass(frozen=True)
class Split:
    """Examples of one split: ``x`` uint8 images (N, H, W) or (N, C, H, W), ``y`` int64 labels (N,)."""

    x: Tensor
    y: Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])


@dataclass(frozen=True)
class ImageData:
    """A published train/test split of an image data set."""

    name: str
    train: Split
    test: Split
    classes: tuple[str, ...]


# IDX type codes (LeCun's format description, "THE IDX FILE FORMAT"): only unsigned bytes occur in (F)MNIST.
_IDX_UBYTE = 0x08


def read_idx(data: bytes, what: str = "IDX data") -> np.ndarray:
    """Decode an uncompressed IDX file: magic ``00 00 <type> <ndim>``, ``ndim`` big-endian int32 sizes, data.

    Raises:
        DataError: a malformed header, a type other than unsigned byte, or a length that does not match.
    """
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DataError(f"{what} is not an IDX file (bad magic number)")
    if data[2] != _IDX_UBYTE:
        raise DataError(f"{what}: IDX type 0x{data[2]:02x} is not supported (only unsigned bytes, 0x08)")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{what}: truncated IDX header")
    shape = tuple(int(s) for s in np.frombuffer(data, dtype=">i4", count=ndim, offset=4))
    expected = header + int(np.prod(shape, dtype=np.int64))
    if len(data) != expected:
        raise DataError(f"{what}: {len(data):,} bytes, but its header {shape} says {expected:,}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def _read_idx_gz(path: Path) -> np.ndarray:
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise DataError(f"{path} is not a readable gzip file: {e}") from None
    return read_idx(raw, str(path))


def _load_idx_set(ds: DataSet, classes: tuple[str, ...], data_dir: str | os.PathLike | None) -> ImageData:
    files = locate(ds, data_dir)
    splits = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        x = _read_idx_gz(files[f"{prefix}-images-idx3-ubyte.gz"])
        y = _read_idx_gz(files[f"{prefix}-labels-idx1-ubyte.gz"])
        if x.ndim != 3 or y.ndim != 1 or x.shape[0] != y.shape[0]:
            raise DataError(f"{ds.title} {split}: images {x.shape} and labels {y.shape} do not match")
        splits[split] = Split(torch.from_numpy(x.copy()), torch.from_numpy(y.astype(np.int64)))
    return ImageData(ds.name, splits["train"], splits["test"], classes)


def load_mnist(data_dir: str | os.PathLike | None = None) -> ImageData:
    """MNIST: 60,000 train and 10,000 test 28x28 digits, verified against the published files.

    Args:
        data_dir: where to look (default ``$RAVINE_DATA``, else ``<cache>/data``); see :mod:`.sources`.

    Returns:
        :class:`ImageData` with ``x`` uint8 (N, 28, 28) in 0..255 and ``y`` int64 in 0..9.

    Raises:
        DataError: the files are missing or corrupt (the message says where ravine looked and how to get them).

    References: LeCun, Bottou, Bengio & Haffner (1998), Gradient-based learning applied to document recognition.
    """
    return _load_idx_set(MNIST, MNIST_CLASSES, data_dir)


def load_fashion_mnist(data_dir: str | os.PathLike | None = None) -> ImageData:
    """Fashion-MNIST: MNIST's format and sizes with 10 clothing classes (Xiao et al. 2017, arXiv:1708.07747).

    Args and Returns as :func:`load_mnist`.
    """
    return _load_idx_set(FASHION_MNIST, FASHION_CLASSES, data_dir)


class _ArraysOnly(pickle.Unpickler):
    """CIFAR-10's batches are pickled dicts of numpy arrays; refuse anything else a pickle could construct."""

    def find_class(self, module: str, name: str) -> object:
        allowed = {
            ("numpy", "ndarray"): np.ndarray,
            ("numpy", "dtype"): np.dtype,
            ("_codecs", "encode"): _latin1_encode,
        }
        if name == "_reconstruct" and module in ("numpy.core.multiarray", "numpy._core.multiarray"):
            return _ndarray_reconstruct()
        try:
            return allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"CIFAR-10 batch refers to {module}.{name}, which is not allowed") from None


def _latin1_encode(s: str, encoding: str = "latin1") -> bytes:
    return s.encode(encoding)


def _ndarray_reconstruct() -> object:
    core = getattr(np, "_core", None) or np.core
    return core.multiarray._reconstruct


def read_cifar10_tar(path: Path) -> ImageData:
    """Decode ``cifar-10-python.tar.gz`` without extracting it: five training batches and the test batch.

    Returns:
        :class:`ImageData` with ``x`` uint8 (N, 3, 32, 32) and ``y`` int64 in 0..9.
    """
    batches: dict[str, dict] = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                base = member.name.rsplit("/", 1)[-1]
                if member.isfile() and (base.startswith("data_batch_") or base == "test_batch"):
                    raw = tar.extractfile(member).read()  # type: ignore[union-attr]
                    batches[base] = _ArraysOnly(io.BytesIO(raw), encoding="bytes").load()
    except (OSError, EOFError, tarfile.TarError, pickle.UnpicklingError) as e:
        raise DataError(f"{path} could not be read as the CIFAR-10 python archive: {e}") from None
    names = [f"data_batch_{i}" for i in range(1, 6)]
    missing = [n for n in [*names, "test_batch"] if n not in batches]
    if missing:
        raise DataError(f"{path} lacks the batches {', '.join(missing)}")

    def split(keys: list[str]) -> Split:
        x = np.concatenate([np.asarray(batches[k][b"data"], dtype=np.uint8) for k in keys])
        y = np.concatenate([np.asarray(batches[k][b"labels"], dtype=np.int64) for k in keys])
        return Split(torch.from_numpy(x.reshape(-1, 3, 32, 32).copy()), torch.from_numpy(y))

    return ImageData(CIFAR10.name, split(names), split(["test_batch"]), CIFAR10_CLASSES)


def load_cifar10(data_dir: str | os.PathLike | None = None) -> ImageData:
    """CIFAR-10: 50,000 train and 10,000 test 32x32 colour images in 10 classes, for users who have the file.

    Args and Raises as :func:`load_mnist`; the file is ``cifar-10-python.tar.gz``.

    References: Krizhevsky (2009), Learning Multiple Layers of Features from Tiny Images, ch. 3.
    """
    files = locate(CIFAR10, data_dir)
    return read_cifar10_tar(files["cifar-10-python.tar.gz"])
