"""Optimisers by name, with the settings the textbooks use, for the labs and the command line.

``build("nesterov", params)`` gives ``ravine.optim.SGD(params, lr=..., momentum=0.9, nesterov=True)``; any
``torch.<Name>`` (``torch.Adam``) gives the torch.optim class instead, for side-by-side comparisons.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import torch

from ravine import optim


@dataclass(frozen=True)
class Entry:
    """A named optimiser: its class, the settings that make it what its name says, and a one-line summary."""

    cls: type
    settings: dict[str, Any] = field(default_factory=dict)
    summary: str = ""

    @property
    def default_lr(self) -> float:
        """The class's own default learning rate (what a user who sets nothing gets)."""
        lr = self.settings.get("lr", inspect.signature(self.cls).parameters["lr"].default)
        return float(lr)


OPTIMIZERS: dict[str, Entry] = {
    "sgd": Entry(optim.SGD, {}, "plain (mini-batch) gradient descent"),
    "momentum": Entry(optim.SGD, {"momentum": 0.9}, "SGD with heavy-ball momentum 0.9"),
    "nesterov": Entry(optim.SGD, {"momentum": 0.9, "nesterov": True}, "SGD with Nesterov momentum 0.9"),
    "adagrad": Entry(optim.Adagrad, {}, "Adagrad"),
    "rmsprop": Entry(optim.RMSprop, {}, "RMSProp"),
    "adadelta": Entry(optim.Adadelta, {}, "Adadelta"),
    "adam": Entry(optim.Adam, {}, "Adam"),
    "amsgrad": Entry(optim.Adam, {"amsgrad": True}, "Adam with AMSGrad"),
    "adamw": Entry(optim.AdamW, {}, "AdamW (decoupled weight decay 0.01)"),
    "nadam": Entry(optim.NAdam, {}, "NAdam"),
    # torch's L-BFGS until ravine.optim.LBFGS lands; one iteration (with its line search) per step() call, so
    # that a step budget means the same for every optimiser. max_eval must be raised with max_iter=1, or torch
    # leaves the line search no evaluation and the iterate never moves.
    "lbfgs": Entry(
        torch.optim.LBFGS,
        {"lr": 1.0, "max_iter": 1, "max_eval": 25, "history_size": 10, "line_search_fn": "strong_wolfe"},
        "L-BFGS, one iteration with a strong-Wolfe line search per step (torch.optim.LBFGS)",
    ),
}


def names() -> list[str]:
    """All names ``build`` accepts, besides ``torch.<Name>``."""
    return list(OPTIMIZERS)


def entry(name: str) -> Entry:
    """The registry entry for ``name``; ``torch.<Name>`` maps to the torch.optim class with no extra settings."""
    if name.startswith("torch."):
        cls = getattr(torch.optim, name[len("torch.") :], None)
        if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)):
            raise ValueError(f"unknown optimizer {name!r}: torch.optim has no optimiser {name[6:]!r}")
        return Entry(cls, {}, f"torch.optim.{cls.__name__}")
    try:
        return OPTIMIZERS[name]
    except KeyError:
        raise ValueError(
            f"unknown optimizer {name!r}; known: {', '.join(OPTIMIZERS)} (or torch.<Name>, e.g. torch.Adam)"
        ) from None


def build(name: str, params: Iterable[Any], **overrides: Any) -> torch.optim.Optimizer:
    """Instantiate the optimiser called ``name``; ``overrides`` (lr, betas, ...) win over its settings."""
    e = entry(name)
    return e.cls(params, **{**e.settings, **overrides})
