"""A private reader of the MNIST / Fashion-MNIST idx files for the doctor's benchmarks.

Stand-in until the shared loaders (``ravine.lab.data``) land; it reads the gzip idx files from
``../shared/data`` (or ``$RAVINE_DATA``) and never downloads.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """The shared data directory (``$RAVINE_DATA`` or ``../shared/data`` next to the repository)."""
    env = os.environ.get("RAVINE_DATA")
    for cand in ([Path(env)] if env else []) + [ROOT.parent / "shared" / "data"]:
        if (cand / "mnist").is_dir():
            return cand
    raise FileNotFoundError("no shared data directory: set RAVINE_DATA to the folder holding mnist/")


def _read(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic = int.from_bytes(raw[:4], "big")
    ndim = magic & 0xFF
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load(name: str = "mnist", split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """Images as float32 in [0, 1] with shape (N, 784) and int64 labels, for ``mnist`` or ``fashion-mnist``."""
    prefix = "train" if split == "train" else "t10k"
    d = data_dir() / name
    x = _read(d / f"{prefix}-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255.0
    y = _read(d / f"{prefix}-labels-idx1-ubyte.gz").astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)
