"""Held-out cases for ``benchmarks/lr_finder.py``: tasks and models that no suggestion rule was chosen on.

Module-level builders only, so the tasks pickle into the lab's worker processes (which import this module from
``benchmarks/``, on their inherited ``sys.path``).
"""

from __future__ import annotations

import functools
from dataclasses import replace

from torch import nn

from ravine.lab.tasks import TASKS, Task
from ravine.lab.tasks.catalog import load_image_task
from ravine.lab.tasks.models import InputDropout, SparseLinear


def bn_mlp(in_features: int = 784, hidden: int = 256, classes: int = 10) -> nn.Module:
    """784-256-256-10 with BatchNorm before each ReLU (Ioffe & Szegedy 2015): a model with running buffers."""
    return nn.Sequential(
        nn.Linear(in_features, hidden),
        nn.BatchNorm1d(hidden),
        nn.ReLU(),
        nn.Linear(hidden, hidden),
        nn.BatchNorm1d(hidden),
        nn.ReLU(),
        nn.Linear(hidden, classes),
    )


def tanh_mlp(in_features: int = 784, hidden: int = 128, classes: int = 10) -> nn.Module:
    """Three tanh layers of 128 units, Glorot-initialised (Glorot & Bengio 2010): saturating units, no ReLU."""
    layers: list[nn.Module] = []
    width = in_features
    for _ in range(3):
        lin = nn.Linear(width, hidden)
        nn.init.xavier_uniform_(lin.weight)
        nn.init.zeros_(lin.bias)
        layers += [lin, nn.Tanh()]
        width = hidden
    layers.append(nn.Linear(width, classes))
    return nn.Sequential(*layers)


def sparse_mlp(in_features: int = 10_000, hidden: int = 64) -> nn.Module:
    """Input dropout 0.5, a sparse 10,000-64 layer, ReLU, one logit: a hidden layer on the IMDB bag of words."""
    return nn.Sequential(InputDropout(0.5), SparseLinear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, 1))


HELD_OUT_TASKS: dict[str, Task] = {
    "fmnist-logreg": replace(
        TASKS["mnist-logreg"],
        name="fmnist-logreg",
        summary="multinomial logistic regression on Fashion-MNIST, L2 1e-4 (held out)",
        load=functools.partial(load_image_task, dataset="fashion-mnist", flat=True),
        dataset="fashion-mnist",
        source="ravine benchmark (held-out data)",
    ),
    "imdb-mlp": replace(
        TASKS["imdb-logreg"],
        name="imdb-mlp",
        summary="input dropout 0.5, sparse 10,000-64 ReLU layer, one logit, on IMDB (held out)",
        model=sparse_mlp,
        source="ravine benchmark (held-out model)",
    ),
    "fmnist-mlp-bn": replace(
        TASKS["mnist-mlp"],
        name="fmnist-mlp-bn",
        summary="MLP 784-256-256-10 with BatchNorm on Fashion-MNIST (held out)",
        load=functools.partial(load_image_task, dataset="fashion-mnist", flat=True),
        model=bn_mlp,
        dataset="fashion-mnist",
        evals=10,
        source="ravine benchmark (held-out model)",
    ),
    "fmnist-tanh": replace(
        TASKS["mnist-mlp"],
        name="fmnist-tanh",
        summary="tanh MLP 784-128-128-128-10 (Glorot) on Fashion-MNIST (held out)",
        load=functools.partial(load_image_task, dataset="fashion-mnist", flat=True),
        model=tanh_mlp,
        dataset="fashion-mnist",
        evals=10,
        source="ravine benchmark (held-out model)",
    ),
    "mnist-cnn": replace(
        TASKS["fmnist-cnn"],
        name="mnist-cnn",
        summary="the small CNN on MNIST (held out)",
        load=functools.partial(load_image_task, dataset="mnist", flat=False),
        dataset="mnist",
        evals=5,
        source="ravine benchmark (held-out model and data)",
    ),
    "fmnist-cnn-5": replace(TASKS["fmnist-cnn"], name="fmnist-cnn-5", evals=5),
}
