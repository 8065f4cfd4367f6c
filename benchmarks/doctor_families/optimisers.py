"""The optimisers a family can run under: torch's and ravine's, by short name, each built from ``(params, lr)``."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch

import ravine.optim as ro

Make = Callable[[Iterable[torch.Tensor], float], torch.optim.Optimizer]

OPTIMISERS: dict[str, Make] = {
    "torch.sgd": lambda p, lr: torch.optim.SGD(p, lr=lr),
    "torch.momentum": lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9),
    "torch.nesterov": lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9, nesterov=True),
    "torch.adam": lambda p, lr: torch.optim.Adam(p, lr=lr),
    "torch.adamw": lambda p, lr: torch.optim.AdamW(p, lr=lr),
    "torch.rmsprop": lambda p, lr: torch.optim.RMSprop(p, lr=lr),
    "torch.adagrad": lambda p, lr: torch.optim.Adagrad(p, lr=lr),
    "ravine.sgd": lambda p, lr: ro.SGD(p, lr=lr),
    "ravine.momentum": lambda p, lr: ro.SGD(p, lr=lr, momentum=0.9),
    "ravine.adam": lambda p, lr: ro.Adam(p, lr=lr),
    "ravine.adamw": lambda p, lr: ro.AdamW(p, lr=lr),
    "ravine.nadam": lambda p, lr: ro.NAdam(p, lr=lr),
    "ravine.rmsprop": lambda p, lr: ro.RMSprop(p, lr=lr),
    "ravine.adagrad": lambda p, lr: ro.Adagrad(p, lr=lr),
    "ravine.lion": lambda p, lr: ro.Lion(p, lr=lr),
    "ravine.radam": lambda p, lr: ro.RAdam(p, lr=lr),
}


def make(name: str, params: Iterable[torch.Tensor], lr: float) -> torch.optim.Optimizer:
    """The optimiser ``name`` (a key of :data:`OPTIMISERS`) over ``params`` at learning rate ``lr``."""
    if name not in OPTIMISERS:
        raise ValueError(f"optimiser must be one of {', '.join(OPTIMISERS)}; got {name!r}")
    return OPTIMISERS[name](params, lr)
