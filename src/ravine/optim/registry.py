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
    matrices_only: bool = False  # Muon: every parameter must be a 2-D weight matrix

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
    # One iteration (with its line search, up to 24 evaluations) per step(closure) call, so that a budget of steps
    # means the same for every optimiser in the labs; pass max_iter to run a whole solve in one call.
    "lbfgs": Entry(
        optim.LBFGS,
        {"max_iter": 1, "max_eval": 25, "history_size": 10, "line_search_fn": "strong_wolfe"},
        "L-BFGS, memory 10, one strong-Wolfe iteration per step (step needs a closure)",
    ),
    "adamax": Entry(optim.Adamax, {}, "Adamax (Adam with the infinity norm)"),
    "radam": Entry(optim.RAdam, {}, "RAdam (Adam with a rectified, warmed-up variance)"),
    "asgd": Entry(optim.ASGD, {}, "averaged SGD (decaying step; the average is in state['ax'])"),
    "rprop": Entry(optim.Rprop, {}, "Rprop (per-coordinate steps from gradient signs; lr is the first step)"),
    "adafactor": Entry(optim.Adafactor, {}, "Adafactor (factored second moment, step relative to |p|)"),
    "muon": Entry(optim.Muon, {}, "Muon (orthogonalised momentum; 2-D weight matrices only)", matrices_only=True),
}


def sam_sgd(params: Iterable[Any], lr: float = 1e-3, rho: float = 0.05, momentum: float = 0.9) -> optim.SAM:
    """SAM around SGD with momentum (Foret et al.'s setting); each step evaluates the loss twice."""
    return optim.SAM(params, optim.SGD, rho=rho, lr=lr, momentum=momentum)


def lookahead_adam(params: Iterable[Any], lr: float = 1e-3, k: int = 5, alpha: float = 0.5) -> optim.Lookahead:
    """Lookahead (k = 5, alpha = 0.5, the paper's) around Adam."""
    return optim.Lookahead(optim.Adam(params, lr=lr), k=k, alpha=alpha)


OPTIMIZERS.update(
    {
        "lion": Entry(optim.Lion, {}, "Lion (sign of interpolated momentum; lr 3-10x below AdamW's)"),
        "schedulefree_adamw": Entry(optim.ScheduleFreeAdamW, {}, "schedule-free AdamW (no lr schedule; eval at x)"),
        "schedulefree_sgd": Entry(optim.ScheduleFreeSGD, {}, "schedule-free SGD, momentum 0.9 (eval at x)"),
        "lamb": Entry(optim.LAMB, {}, "LAMB (Adam with a layer-wise trust ratio)"),
        "lars": Entry(optim.LARS, {}, "LARS (SGD momentum with a layer-wise trust ratio on matrices)"),
        "shampoo": Entry(optim.Shampoo, {}, "Shampoo (Kronecker-factored preconditioner; reference path)"),
        "sam": Entry(sam_sgd, {}, "SAM around SGD momentum 0.9, rho 0.05 (two evaluations per step)"),
        "lookahead": Entry(lookahead_adam, {}, "Lookahead (k 5, alpha 0.5) around Adam"),
    }
)

MATRICES_ONLY_ADVICE = (
    "Muon orthogonalises the update of a weight matrix, so it takes 2-D parameters only; torch's recipe is Muon "
    "for the hidden layers' matrices and AdamW for the rest (biases, gains, embeddings, the output layer): "
    "see README, 'When to choose which'"
)


def names() -> list[str]:
    """All names ``build`` accepts, besides ``torch.<Name>``."""
    return list(OPTIMIZERS)


def entry(name: str) -> Entry:
    """The registry entry for ``name``; ``torch.<Name>`` maps to the torch.optim class with no extra settings."""
    if name.startswith("torch."):
        cls = getattr(torch.optim, name[len("torch.") :], None)
        if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)):
            raise ValueError(f"unknown optimizer {name!r}: torch.optim has no optimiser {name[6:]!r}")
        return Entry(cls, {}, f"torch.optim.{cls.__name__}", matrices_only=cls.__name__ == "Muon")
    try:
        return OPTIMIZERS[name]
    except KeyError:
        raise ValueError(
            f"unknown optimizer {name!r}; known: {', '.join(OPTIMIZERS)} (or torch.<Name>, e.g. torch.Adam)"
        ) from None


def build(name: str, params: Iterable[Any], **overrides: Any) -> torch.optim.Optimizer:
    """Instantiate the optimiser called ``name``; ``overrides`` (lr, betas, ...) win over its settings."""
    e = entry(name)
    if e.matrices_only:
        params = list(params)
        tensors = [p for x in params for p in (x["params"] if isinstance(x, dict) else [x])]
        shapes = sorted({tuple(p.shape) for p in tensors if p.dim() != 2})
        if shapes:
            raise ValueError(
                f"{name} cannot take parameters of shape {', '.join(map(str, shapes))}. {MATRICES_ONLY_ADVICE}"
            )
    return e.cls(params, **{**e.settings, **overrides})
