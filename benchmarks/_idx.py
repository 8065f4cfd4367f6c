"""MNIST / Fashion-MNIST for the doctor's benchmarks, through ravine's own loaders (checksums verified).

The data directory is ``$RAVINE_DATA`` or, for this repository's checkout, ``../shared/data``; nothing is downloaded.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ravine.lab.data import load_fashion_mnist, load_mnist

ROOT = Path(__file__).resolve().parents[1]
LOADERS = {"mnist": load_mnist, "fashion-mnist": load_fashion_mnist}


def data_dir() -> Path:
    """The shared data directory (``$RAVINE_DATA`` or ``../shared/data`` next to the repository)."""
    env = os.environ.get("RAVINE_DATA")
    for cand in ([Path(env)] if env else []) + [ROOT.parent / "shared" / "data"]:
        if (cand / "mnist").is_dir():
            return cand
    raise FileNotFoundError("no shared data directory: set RAVINE_DATA to the folder holding mnist/")


def load(name: str = "mnist", split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """Images as float32 in [0, 1] with shape (N, 784) and int64 labels, for ``mnist`` or ``fashion-mnist``."""
    data = LOADERS[name](data_dir())
    part = data.train if split == "train" else data.test
    return part.x.reshape(len(part.x), -1).float() / 255.0, part.y
