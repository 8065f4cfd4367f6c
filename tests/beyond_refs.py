"""Reference implementations from PyPI for the optimisers beyond torch.optim, and a seeded runner for both sides.

Each reference is imported lazily: a test whose package is absent skips, naming it. The runner is
``trajectories``'s problem on shapes of its own (held out: none of ravine's defaults or tolerances were chosen on
them), so that a case runs ravine and its reference from the same start through the same gradients.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import pytest
import torch

from trajectories import loss_fn

HELD_OUT_SHAPES = [(5,), (4, 6), (2, 3, 4), (1,), (9, 2)]


def need(module: str) -> Any:
    """Import ``module`` or skip the test, naming the package to install (all are in the ``test`` extra)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        pytest.skip(f"reference package {module!r} is not installed (pip install -e '.[test]' installs it)")


def problem(dtype: torch.dtype, seed: int = 17, shapes: list[tuple[int, ...]] = HELD_OUT_SHAPES):
    """Start and data of trajectories.py's objective on ``shapes``: every coordinate 3-5 units from its target."""
    g = torch.Generator().manual_seed(seed)
    params, data = [], []
    for shape in shapes:
        p0 = torch.randn(shape, generator=g, dtype=torch.float64)
        w = 0.5 + torch.rand(shape, generator=g, dtype=torch.float64)
        side = torch.where(torch.rand(shape, generator=g, dtype=torch.float64) < 0.5, -1.0, 1.0)
        c = p0 + side * (3 + 2 * torch.rand(shape, generator=g, dtype=torch.float64))
        params.append(p0.to(dtype))
        data.append((w.to(dtype), c.to(dtype)))
    return params, data


def run(
    make: Callable[[list], torch.optim.Optimizer],
    dtype: torch.dtype,
    steps: int = 200,
    *,
    closure: bool = False,
    sign: float = 1.0,
    after: Callable[[torch.optim.Optimizer], None] | None = None,
    start: list[torch.Tensor] | None = None,
) -> tuple[list[torch.Tensor], torch.optim.Optimizer]:
    """``steps`` steps of ``make(params)`` from the seeded start (or from the leaves ``start``, to resume a run);
    ``closure`` drives SAM-like optimisers; ``after(opt)`` runs at the end (e.g. ``opt.eval()``)."""
    init, data = problem(dtype)
    params = start if start is not None else [p.clone().requires_grad_() for p in init]
    opt = make(params)

    def evaluate() -> torch.Tensor:
        opt.zero_grad()
        loss = loss_fn(params, data, sign)
        loss.backward()
        return loss

    for _ in range(steps):
        evaluate()
        opt.step(evaluate) if closure else opt.step()
    if after is not None:
        after(opt)
    return [p.detach().clone() for p in params], opt
