"""Small models and batches for the range-test tests (seconds in total)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import torch
from torch import nn


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def make_model() -> Callable[..., nn.Module]:
    return bn_model


@pytest.fixture
def make_batches() -> Callable[..., list]:
    return batches


def bn_model(seed: int = 0) -> nn.Module:
    """A model with BatchNorm buffers and dropout (which draws from torch's global generator)."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3))


def batches(n: int = 8, size: int = 32, seed: int = 1) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(6, 3, generator=g)
    out = []
    for _ in range(n):
        x = torch.randn(size, 6, generator=g)
        out.append((x, (x @ w).argmax(dim=1)))
    return out
