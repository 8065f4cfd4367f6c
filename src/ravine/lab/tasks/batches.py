"""Rows of dense and sparse (CSR) data: mini-batches, subsets, and the validation carve (fixed, not per run).

Sparse bag-of-words batches are coalesced COO tensors, which ``torch.sparse.mm`` multiplies with a dense weight
matrix and differentiates with a *dense* gradient for that weight, so every optimiser can train on them.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import Tensor


def fixed_sample(n: int, k: int, seed: int = 0) -> Tensor:
    """``k`` of ``range(n)`` drawn without replacement by a fixed generator, in increasing order.

    ``numpy.random.RandomState`` is used because its streams are frozen across NumPy versions, so a split is
    the same everywhere. A systematic sample (every k-th) would not do: MNIST's training images alternate
    between two populations (even and odd positions differ in mean intensity), so every 6th image is not
    a representative validation set.
    """
    if not 0 <= k <= n:
        raise ValueError(f"k must be in [0, {n}], got {k}")
    perm = np.random.RandomState(seed).permutation(n)[:k]
    return torch.from_numpy(np.sort(perm).astype(np.int64))


def carve(n: int, held: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Split ``range(n)`` into (kept, held out) with ``held`` examples drawn by :func:`fixed_sample`."""
    out = fixed_sample(n, held, seed)
    mask = torch.ones(n, dtype=torch.bool)
    mask[out] = False
    return torch.arange(n, dtype=torch.int64)[mask], out


def _gather(x: Tensor, idx: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """For CSR ``x``: the row lengths of ``idx``, and the positions of their entries in ``x.values()``."""
    crow = x.crow_indices()
    start = crow[idx]
    lens = crow[idx + 1] - start
    total = int(lens.sum())
    first = torch.repeat_interleave(torch.cumsum(lens, 0) - lens, lens)
    pos = torch.repeat_interleave(start, lens) + torch.arange(total, dtype=torch.int64) - first
    return lens, pos, torch.repeat_interleave(torch.arange(len(idx), dtype=torch.int64), lens)


def take(x: Tensor, idx: Tensor) -> Tensor:
    """Rows ``idx`` of ``x`` as a model input: dense rows, or a coalesced sparse COO matrix for CSR ``x``."""
    if x.layout != torch.sparse_csr:
        return x[idx]
    _, pos, rows = _gather(x, idx)
    cols = x.col_indices()[pos]
    return torch.sparse_coo_tensor(
        torch.stack([rows, cols]),
        x.values()[pos],
        (len(idx), x.shape[1]),
        is_coalesced=True,  # rows in order, columns sorted within each CSR row
        check_invariants=False,
    )


def rows(x: Tensor, start: int, stop: int) -> Tensor:
    """Rows ``start:stop`` of ``x`` without copying the data (CSR stays CSR, which ``torch.sparse.mm`` takes)."""
    if x.layout != torch.sparse_csr:
        return x[start:stop]
    crow = x.crow_indices()[start : stop + 1]
    lo, hi = int(crow[0]), int(crow[-1])
    return csr(crow - lo, x.col_indices()[lo:hi], x.values()[lo:hi], (stop - start, x.shape[1]))


def select(x: Tensor, idx: Tensor) -> Tensor:
    """Rows ``idx`` of ``x`` in ``x``'s own layout (CSR stays CSR)."""
    if x.layout != torch.sparse_csr:
        return x[idx]
    lens, pos, _ = _gather(x, idx)
    crow = torch.cat([torch.zeros(1, dtype=torch.int64), torch.cumsum(lens, 0)])
    return csr(crow, x.col_indices()[pos], x.values()[pos], (len(idx), x.shape[1]))


def csr(crow: Tensor, col: Tensor, values: Tensor, size: tuple[int, int]) -> Tensor:
    """A CSR tensor, without torch's "sparse CSR is in beta" warning."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(crow, col, values, size=size, check_invariants=False)
