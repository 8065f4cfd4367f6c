"""Seeded problems and trajectory runners shared by the optimiser tests.

The parity problem is smooth and well conditioned, and every coordinate starts 3 to 5 units from its target, so
that 200+ steps of adaptive methods (which move about lr per step) stay far from the minimum. Near a minimum Adam-
like methods are unstable fixed points (the step lr/sqrt(v) grows as v decays) and amplify rounding differences
by ~2x per step; away from it, a diverging comparison means different arithmetic, not chaos.
Objective, per parameter p with data (w, c): ``sum(w * (p - c)^2) / 2 + 0.1 * sum(log(1 + p^2))``.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch

SHAPES = [(), (7,), (13, 5), (3, 4, 5)]


def make_problem(
    dtype: torch.dtype, seed: int = 0, shapes: list[tuple[int, ...]] | None = None
) -> tuple[list[torch.Tensor], list[tuple[torch.Tensor, ...]]]:
    g = torch.Generator().manual_seed(seed)
    params, data = [], []
    for shape in SHAPES if shapes is None else shapes:
        p0 = torch.randn(shape, generator=g, dtype=torch.float64)
        w = 0.5 + torch.rand(shape, generator=g, dtype=torch.float64)
        side = torch.where(torch.rand(shape, generator=g, dtype=torch.float64) < 0.5, -1.0, 1.0)
        c = p0 + side * (3 + 2 * torch.rand(shape, generator=g, dtype=torch.float64))
        params.append(p0.to(dtype))
        w, c = w.to(dtype), c.to(dtype)
        data.append((w, c))
    return params, data


def loss_fn(params: list[torch.Tensor], data: list[tuple[torch.Tensor, ...]], sign: float = 1.0) -> torch.Tensor:
    total = 0
    for p, (w, c) in zip(params, data, strict=True):
        total = total + (w * (p - c) ** 2).sum() / 2 + 0.1 * torch.log1p(p * p).sum()
    return sign * total


def run(
    cls: type,
    kwargs: dict[str, Any],
    dtype: torch.dtype,
    steps: int = 210,
    *,
    groups: bool = False,
    scheduler: bool = False,
    seed: int = 0,
    shapes: list[tuple[int, ...]] | None = None,
) -> tuple[list[torch.Tensor], torch.optim.Optimizer]:
    """Run ``cls(params, **kwargs)`` for ``steps`` steps from the seeded start; returns final parameters and optimiser.

    ``groups``: two parameter groups, the second with a third of the learning rate.
    ``scheduler``: torch's StepLR halves the learning rate every ``steps // 3`` steps (70 in a 210-step run): an
    lr changed mid-run by torch.
    With ``maximize=True`` in kwargs the objective is negated, so the run follows the minimising trajectory.
    ``shapes``: the parameters' shapes (default :data:`SHAPES`).
    """
    # a tensor lr is the caller's: torch's schedulers write into it (fill_), so every run gets its own copy
    kwargs = {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()}
    init, data = make_problem(dtype, seed, shapes)
    params = [p.clone().requires_grad_() for p in init]
    if groups:
        lr = kwargs.get("lr", inspect.signature(cls).parameters["lr"].default)
        opt = cls([{"params": params[:2]}, {"params": params[2:], "lr": lr / 3}], **kwargs)
    else:
        opt = cls(params, **kwargs)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, steps // 3), gamma=0.5) if scheduler else None
    sign = -1.0 if kwargs.get("maximize") else 1.0
    for _ in range(steps):
        opt.zero_grad()
        loss_fn(params, data, sign).backward()
        opt.step()
        if sched is not None:
            sched.step()
    return [p.detach() for p in params], opt


def rel_error(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    """||a - b|| / ||b|| over all parameters together, computed in float64."""
    num = sum(((x.double() - y.double()) ** 2).sum() for x, y in zip(a, b, strict=True))
    den = sum((y.double() ** 2).sum() for y in b)
    return float((num / den).sqrt())


# torch.optim's option matrix, one dict of constructor arguments per case (lr chosen so the runs move).
CASES = {
    "SGD": [
        {"lr": 0.05},
        {"lr": 0.05, "momentum": 0.9},
        {"lr": 0.05, "momentum": 0.9, "dampening": 0.5},
        {"lr": 0.05, "momentum": 0.9, "nesterov": True},
        {"lr": 0.05, "momentum": 0.5, "weight_decay": 0.05},
        {"lr": 0.05, "momentum": 0.9, "maximize": True},
    ],
    "Adagrad": [
        {"lr": 0.1},
        {"lr": 0.1, "lr_decay": 0.01},
        {"lr": 0.1, "initial_accumulator_value": 0.5, "eps": 1e-6},
        {"lr": 0.1, "weight_decay": 0.05},
        {"lr": 0.1, "maximize": True},
    ],
    "RMSprop": [
        {"lr": 0.01},
        {"lr": 0.01, "alpha": 0.9, "eps": 1e-6},
        {"lr": 0.01, "centered": True},
        {"lr": 0.003, "momentum": 0.9},
        {"lr": 0.003, "momentum": 0.9, "centered": True, "weight_decay": 0.05},
        {"lr": 0.01, "maximize": True},
    ],
    "Adadelta": [
        {},
        {"lr": 0.5, "rho": 0.95, "eps": 1e-4},
        {"weight_decay": 0.05},
        {"maximize": True},
    ],
    "Adam": [
        {"lr": 0.01},
        {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6},
        {"lr": 0.01, "amsgrad": True},
        {"lr": 0.01, "weight_decay": 0.05},
        {"lr": 0.01, "weight_decay": 0.05, "decoupled_weight_decay": True, "amsgrad": True},
        {"lr": 0.01, "maximize": True},
    ],
    "AdamW": [
        {"lr": 0.01},
        {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True},
        {"lr": 0.01, "weight_decay": 0.0},
        {"lr": 0.01, "maximize": True},
    ],
    "NAdam": [
        {"lr": 0.01},
        {"lr": 0.01, "momentum_decay": 0.01, "betas": (0.8, 0.99)},
        {"lr": 0.01, "weight_decay": 0.05},
        {"lr": 0.01, "weight_decay": 0.05, "decoupled_weight_decay": True},
        {"lr": 0.01, "maximize": True},
    ],
    # The rest of torch.optim: optim_db's optim_inputs_func_* for CPU, plus a case that changes every option.
    "Adamax": [
        {},
        {"lr": 0.1},
        {"weight_decay": 0.1},
        {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6},
        {"maximize": True},
        {"weight_decay": 0.1, "maximize": True},
        {"lr": 0.01},
    ],
    "RAdam": [
        {},
        {"lr": 2e-3},
        {"eps": 1e-6},
        {"weight_decay": 0.1},
        {"weight_decay": 0.1, "decoupled_weight_decay": True},
        {"lr": 0.01, "betas": (0.9, 0.6)},  # rho_inf = 4: the rectified step never switches on
        {"weight_decay": 0.1, "maximize": True},
        {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True, "betas": (0.8, 0.99), "maximize": True},
        {"lr": 0.01, "betas": (0.8, 0.99)},
    ],
    "ASGD": [
        {},
        {"lambd": 0.1},
        {"lr": 0.02},
        {"t0": 100},  # averaging starts within the run
        {"maximize": True},
        {"weight_decay": 0.1},
        {"weight_decay": 0.1, "maximize": True},
        {"lr": 0.02, "lambd": 0.01, "alpha": 0.5, "t0": 20, "weight_decay": 0.05, "maximize": True},
        {"lr": 0.005, "t0": 1},
    ],
    "Rprop": [
        {},
        {"lr": 2e-4},
        {"etas": (0.5, 1.5)},
        {"step_sizes": (2e-6, 100)},
        {"maximize": True},
        {"lr": 1e-3, "etas": (0.3, 1.1), "step_sizes": (1e-4, 0.5), "maximize": True},
        {"lr": 0.1},
    ],
}

# Optimisers that are not elementwise (no fused kernel): their option matrix and the shapes they run on.
MATRIX_SHAPES = [(7, 5), (4, 9), (6, 6), (1, 3)]
NON_ELEMENTWISE = {
    "Adafactor": (
        SHAPES,  # a scalar and a vector (the unfactored second moment), a matrix, a stack of matrices
        [
            {},
            {"weight_decay": 0.1, "lr": 0.01},
            {"weight_decay": 0.1, "maximize": True},
            {"beta2_decay": -1.0},
            {"d": 1.5},
            {"lr": torch.tensor(0.02)},
            {"lr": 0.1, "eps": (1e-30, 1e-2), "d": 1.2, "weight_decay": 0.01},
            {"lr": 0.05},
        ],
    ),
    "Muon": (
        MATRIX_SHAPES,
        [
            {},
            {"lr": 0.01},
            {"lr": torch.tensor(0.001)},
            {"weight_decay": 0.2},
            {"momentum": 0.8},
            {"ns_steps": 6},
            {"ns_coefficients": (3.4, -4.7, 2.0)},
            {"lr": 0.02, "nesterov": False, "adjust_lr_fn": "match_rms_adamw", "eps": 1e-5, "momentum": 0.9},
            {"lr": 0.02, "adjust_lr_fn": "original"},
        ],
    ),
}
