"""The data sets of the family benchmark: small subsets of MNIST, Fashion-MNIST and IMDB, and synthetic tasks.

Every task is a frozen :class:`Task` (train and validation tensors, the loss); subsets are drawn with a seeded
generator so a run is the same on every machine. Real data come through ravine's own loaders (checksums
verified), from ``$RAVINE_DATA`` or ``../shared/data``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

import _idx
from _doctor_scenarios import _low_rank_task, linreg, sequences, teacher

Loss = Callable[[Tensor, Tensor], Tensor]


@dataclass(frozen=True)
class Task:
    """A supervised task: training and validation sets, the loss, the input and output sizes."""

    name: str
    x: Tensor
    y: Tensor
    xv: Tensor
    yv: Tensor
    loss: Loss
    d_in: int
    d_out: int
    curvature: float = math.nan  # lambda_max of the loss Hessian where it is known exactly (linear regression)


def _subset(x: Tensor, y: Tensor, n: int, seed: int) -> tuple[Tensor, Tensor]:
    idx = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))[:n]
    if x.is_sparse:
        return x.index_select(0, idx).to_dense().float(), y[idx]
    return x[idx], y[idx]


@functools.cache
def _images(name: str, split: str) -> tuple[Tensor, Tensor]:
    return _idx.load(name, split)


@functools.cache
def _imdb(vocab: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    from ravine.lab.data import load_imdb

    d = load_imdb(_idx.data_dir(), vocab_size=vocab)
    # sparse CSR on load; rows are picked from COO and made dense (a subset of 2,000 words is small)
    return d.train.x.to_sparse_coo(), d.train.y.long(), d.test.x.to_sparse_coo(), d.test.y.long()


def _spirals(n: int, seed: int, noise: float = 0.2) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    t = torch.rand(n, generator=g) * 3 * math.pi
    label = torch.randint(0, 2, (n,), generator=g)
    r = t / (3 * math.pi) * 2
    ang = t + math.pi * label
    x = torch.stack([r * torch.cos(ang), r * torch.sin(ang)], 1) + noise * 0.3 * torch.randn(n, 2, generator=g)
    return x, label


NAMES = ("mnist", "fashion", "imdb", "cls", "reg", "spirals", "seq", "linreg", "regnoisy", "parity", "lowrank")


@functools.cache
def task(name: str, n: int = 2048, seed: int = 0) -> Task:
    """The task ``name`` with ``n`` training examples (validation: 1000, or as many as the task has).

    Names: ``mnist``, ``fashion`` (flattened 784 pixels in [0, 1]), ``imdb`` (2,000-word binary bag of words),
    ``cls`` (20-d Gaussian inputs, label from a random halfspace pair), ``reg`` (tanh-teacher regression),
    ``spirals`` (2-d two-arm spirals), ``seq`` (sequences of 20 steps x 8, target the mean of channel 0),
    ``linreg`` (ill-conditioned linear regression, exact Hessian), ``regnoisy`` (sin(2x) + noise 0.3, 1-d),
    ``parity`` (parity of 10 +-1 bits), ``lowrank`` (a rank-4 linear map 16 -> 4).
    """
    if name in ("mnist", "fashion"):
        src = "mnist" if name == "mnist" else "fashion-mnist"
        x, y = _subset(*_images(src, "train"), n, seed)
        xv, yv = _subset(*_images(src, "test"), 1000, seed)
        return Task(name, x, y, xv, yv, F.cross_entropy, 784, 10)
    if name == "imdb":
        xt, yt, xs, ys = _imdb(2000)
        x, y = _subset(xt, yt, n, seed)
        xv, yv = _subset(xs, ys, 1000, seed)
        return Task(name, x, y, xv, yv, F.cross_entropy, 2000, 2)
    if name == "cls":
        g = torch.Generator().manual_seed(seed + 101)
        xa = torch.randn(n + 1000, 20, generator=g)
        w = torch.randn(20, 2, generator=g)
        ya = ((xa @ w).tanh().sum(1) + 0.3 * torch.randn(n + 1000, generator=g) > 0).long()
        return Task(name, xa[:n], ya[:n], xa[n:], ya[n:], F.cross_entropy, 20, 2)
    if name == "reg":
        xa, ya = teacher(n + 1000, 16, seed + 202, noise=0.05)
        return Task(name, xa[:n], ya[:n], xa[n:], ya[n:], F.mse_loss, 16, 1)
    if name == "spirals":
        xa, ya = _spirals(n + 1000, seed + 303)
        return Task(name, xa[:n], ya[:n], xa[n:], ya[n:], F.cross_entropy, 2, 2)
    if name == "seq":
        xa, ya = sequences(n + 1000, 20, 8, seed + 404)
        return Task(name, xa[:n], ya[:n], xa[n:], ya[n:], F.mse_loss, 8, 1)
    if name == "linreg":
        xa, ya, lam = linreg(n + 1000, 20, seed + 505)
        return Task(name, xa[:n], ya[:n], xa[n:], ya[n:], F.mse_loss, 20, 1, lam)
    if name == "regnoisy":
        g = torch.Generator().manual_seed(seed + 606)
        xs = torch.rand(n, 1, generator=g) * 4 - 2
        xv = torch.linspace(-2, 2, 400).unsqueeze(1)
        ys = torch.sin(2 * xs) + 0.3 * torch.randn(n, 1, generator=g)
        return Task(name, xs, ys, xv, torch.sin(2 * xv), F.mse_loss, 1, 1)
    if name == "parity":
        g = torch.Generator().manual_seed(seed + 707)
        xa = torch.randint(0, 2, (n + 1000, 10), generator=g).float() * 2 - 1
        ya = (xa.prod(1) > 0).long()
        return Task(name, xa[:n], ya[:n], xa[n:], ya[n:], F.cross_entropy, 10, 2)
    if name == "lowrank":
        xa, ya = _low_rank_task(n + 1000, 16, 4, seed + 808)
        return Task(name, xa[:n], ya[:n], xa[n:], ya[n:], F.mse_loss, 16, 4)
    raise ValueError(f"task name must be one of {', '.join(NAMES)}; got {name!r}")
