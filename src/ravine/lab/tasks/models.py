"""The models of the task catalogue, built by module-level functions (so tasks pickle into worker processes).

Every builder draws its initial weights from torch's global generator, which the runner seeds per run.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn


class SparseLinear(nn.Module):
    """``y = x W^T + b`` for a dense or a sparse (COO or CSR) input ``x``; the gradient of ``W`` is dense.

    Initialised as ``torch.nn.Linear``: ``W, b ~ U(-1/sqrt(in), 1/sqrt(in))``.
    """

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(out_features, in_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound))

    def forward(self, x: Tensor) -> Tensor:
        if x.layout != torch.strided:
            return torch.sparse.mm(x, self.weight.t()) + self.bias
        return F.linear(x, self.weight, self.bias)


class InputDropout(nn.Module):
    """Dropout on the inputs, dense or sparse COO: keep each entry with probability ``1 - p``, scale by ``1/(1-p)``.

    For bag-of-words features this is the "dropout noise" of Wang & Manning (ACL 2013), used by Kingma & Ba
    (2015, section 6.1) on IMDB.
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"p must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        if x.layout == torch.strided:
            return F.dropout(x, self.p, training=True)
        if x.layout != torch.sparse_coo:
            raise ValueError(f"InputDropout takes dense or sparse COO inputs, got {x.layout}")
        values = x.values()
        keep = torch.rand(values.shape, dtype=values.dtype) >= self.p
        return torch.sparse_coo_tensor(
            x.indices(), values * keep / (1.0 - self.p), x.shape, is_coalesced=True, check_invariants=False
        )


class NoisyQuadratic(nn.Module):
    """``f(theta; x) = 1/2 (theta - x)^T Q (theta - x)`` per example ``x``, ``theta`` starting at ones (DeepOBS)."""

    def __init__(self, hessian: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("hessian", torch.as_tensor(hessian, dtype=torch.float32))
        self.theta = nn.Parameter(torch.ones(hessian.shape[0]))

    def forward(self, x: Tensor) -> Tensor:
        q = self.theta - x
        return 0.5 * ((q @ self.hessian) * q).sum(dim=1)


def logistic_regression(in_features: int, classes: int, input_dropout: float = 0.0) -> nn.Module:
    """Multinomial (classes > 1) or binary (classes == 1 output logit) logistic regression."""
    layers: list[nn.Module] = [InputDropout(input_dropout)] if input_dropout else []
    return nn.Sequential(*layers, SparseLinear(in_features, classes))


def mlp(in_features: int, hidden: int, classes: int, dropout: float = 0.0) -> nn.Module:
    """Two hidden ReLU layers of ``hidden`` units (Kingma & Ba 2015, section 6.2, use 1000), optional dropout."""
    layers: list[nn.Module] = []
    width = in_features
    for _ in range(2):
        layers += [nn.Linear(width, hidden), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = hidden
    return nn.Sequential(*layers, nn.Linear(width, classes))


def small_cnn(classes: int = 10) -> nn.Module:
    """conv5x5(16)-ReLU-maxpool2, conv5x5(32)-ReLU-maxpool2, linear: a CPU-sized LeNet for 28x28 images."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 4 * 4, classes),
    )


def noisy_quadratic(hessian: np.ndarray) -> nn.Module:
    """The :class:`NoisyQuadratic` model for a fixed Hessian."""
    return NoisyQuadratic(hessian)
