"""Runs: an optimiser on a landscape from a start for N steps, recording the path, values and gradient norms.

Many runs of one optimiser (a grid of learning rates times a set of starts) go through one optimiser instance:
one parameter group per learning rate, and the runs as independent parameters. That is exact, not an
approximation, because every optimiser here updates each parameter from its own gradient and state only
(torch.optim's per-parameter contract); the tests check that each batched run equals the same run alone, bit for
bit. Optimisers that couple their parameters -- L-BFGS flattens them into one vector; a ravine chain with a
global-norm rule reduces over them -- run one at a time, with a closure.

A run ends early in two cases, the same in every layout: at its first non-finite value (it has diverged; nothing
follows from NaN) and, on landscapes unbounded below, at its first escape (``f <= escape`` inside the box; beyond
it f only falls to -inf). Entries after the end are NaN.

Gradient noise ``sigma * xi``, ``xi ~ N(0, I)``, mimics mini-batch gradients. Its stream depends only on the seed
and the start, so every optimiser and learning rate sees the same noise (common random numbers: differences
between runs come from the optimisers, not from luck).
"""

from __future__ import annotations

import contextlib
import inspect
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ravine.lab.landscapes.base import Landscape
from ravine.optim import registry

#: torch.optim classes whose update of each element depends on that element alone (so runs can share a tensor).
TORCH_ELEMENTWISE = frozenset(
    {"SGD", "Adam", "AdamW", "NAdam", "RAdam", "Adamax", "Adagrad", "RMSprop", "Adadelta", "ASGD", "Rprop"}
)


@dataclass(frozen=True)
class Trajectory:
    """One run, step by step: entry t is the state after t optimiser steps (entry 0 is the start).

    Attributes:
        path: points, shape ``(steps + 1, dim)``.
        values: f at each point (without noise), shape ``(steps + 1,)``.
        grad_norms: Euclidean norm of the true gradient at each point, shape ``(steps + 1,)``.
        evaluations: gradient evaluations the optimiser asked for (one per step, more with a line search).
    """

    path: np.ndarray
    values: np.ndarray
    grad_norms: np.ndarray
    evaluations: int

    @property
    def steps(self) -> int:
        return len(self.values) - 1


@dataclass(frozen=True)
class Batch:
    """The runs of one optimiser: ``runs[i][j]`` used ``lrs[i]`` from ``starts[j]``.

    Attributes:
        optimizer: the registry name.
        lrs: the learning rates.
        starts: the starting points.
        hyperparameters: per learning rate, every hyperparameter of the optimiser's parameter group.
        runs: the trajectories.
        layout: how the runs were executed: ``"rows"`` (one tensor per learning rate, a row per start),
            ``"leaves"`` (a parameter per run) or ``"single"`` (an optimiser per run).
    """

    optimizer: str
    lrs: tuple[float, ...]
    starts: tuple[tuple[float, ...], ...]
    hyperparameters: tuple[dict[str, Any], ...]
    runs: tuple[tuple[Trajectory, ...], ...]
    layout: str


def check_overrides(name: str, overrides: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` unless every key of ``overrides`` is a constructor argument of optimiser ``name``."""
    cls = registry.entry(name).cls
    accepted = [k for k in inspect.signature(cls).parameters if k not in ("self", "params")]
    for key in overrides:
        if key == "lr":
            raise ValueError(f"set the learning rate of {name} with --lr / lrs, not as a hyperparameter override")
        if key not in accepted:
            raise ValueError(f"{name} ({cls.__name__}) has no hyperparameter {key!r}; it takes {', '.join(accepted)}")


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one thread, then restore the setting.

    The lab's tensors hold a few dozen numbers: a thread team costs more than the work, and on a busy machine
    (threads waiting for cores) it made the default comparison ten times slower. Results do not depend on it.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def layout(optimizer: torch.optim.Optimizer) -> str:
    """``"rows"``, ``"leaves"`` or ``"single"``: the cheapest exact way to run many runs of ``optimizer``."""
    if isinstance(optimizer, torch.optim.LBFGS) or type(optimizer).__name__ == "LBFGS":
        return "single"
    if getattr(optimizer, "needs_closure", False):  # SAM: a step evaluates the loss twice, over all its parameters
        return "single"
    rule = getattr(optimizer, "rule", None)
    if rule is not None:
        from ravine.optim import execute

        segs = execute.segments(rule)
        if any(s.reducing for s in segs):
            return "single"
        return "rows" if all(s.elementwise for s in segs) else "leaves"
    if type(optimizer).__module__.startswith("torch.optim") and type(optimizer).__name__ in TORCH_ELEMENTWISE:
        return "rows"
    return "leaves"


def run(
    landscape: Landscape,
    optimizer: str,
    lrs: Sequence[float],
    starts: Sequence[Sequence[float]],
    steps: int,
    *,
    noise: float = 0.0,
    seed: int = 0,
    overrides: Mapping[str, Any] | None = None,
    force_layout: str | None = None,
) -> Batch:
    """Run optimiser ``optimizer`` on ``landscape`` for every learning rate and start.

    Args:
        landscape: the function to minimise.
        optimizer: a registry name (``"adam"``, ``"torch.Adam"``).
        lrs: learning rates (> 0), one run per learning rate and start.
        starts: starting points, each inside the landscape's domain.
        steps: optimiser steps per run (> 0).
        noise: standard deviation sigma (>= 0) of the Gaussian noise added to every gradient.
        seed: seeds the noise.
        overrides: hyperparameters other than lr (``{"betas": (0.9, 0.99)}``).
        force_layout: run as ``"rows"``, ``"leaves"`` or ``"single"`` (for tests; default: :func:`layout`).

    Returns:
        The :class:`Batch` of trajectories, in float64.
    """
    overrides = dict(overrides or {})
    check_overrides(optimizer, overrides)
    if steps <= 0:
        raise ValueError(f"steps must be > 0, got {steps}")
    if noise < 0 or noise != noise:
        raise ValueError(f"noise must be >= 0, got {noise}")
    if not lrs or any(not lr > 0 for lr in lrs):
        raise ValueError(f"learning rates must be > 0, got {list(lrs)}")
    if not starts:
        raise ValueError("at least one start is needed")
    for s in starts:
        landscape.check_start(s)
    if force_layout not in (None, "rows", "leaves", "single"):
        raise ValueError(f"force_layout must be 'rows', 'leaves' or 'single', got {force_layout!r}")
    x0 = torch.tensor([list(s) for s in starts], dtype=torch.float64)
    probe = registry.build(optimizer, [torch.zeros(landscape.dim, dtype=torch.float64, requires_grad=True)])
    mode = force_layout or layout(probe)
    with one_thread():
        if mode == "single":
            runs, hypers = _run_single(landscape, optimizer, lrs, x0, steps, noise, seed, overrides)
        else:
            runs, hypers = _run_batched(landscape, optimizer, lrs, x0, steps, noise, seed, overrides, mode == "rows")
    return Batch(
        optimizer=optimizer,
        lrs=tuple(float(lr) for lr in lrs),
        starts=tuple(tuple(float(v) for v in s) for s in starts),
        hyperparameters=tuple(hypers),
        runs=tuple(tuple(r) for r in runs),
        layout=mode,
    )


def _run_batched(
    land: Landscape,
    name: str,
    lrs: Sequence[float],
    x0: Tensor,
    steps: int,
    noise: float,
    seed: int,
    overrides: dict[str, Any],
    rows: bool,
) -> tuple[list[list[Trajectory]], list[dict[str, Any]]]:
    n_lr, n_start = len(lrs), x0.shape[0]
    if rows:
        leaves = [x0.clone().requires_grad_(True) for _ in lrs]
        groups = [{"params": [leaf], "lr": float(lr)} for leaf, lr in zip(leaves, lrs, strict=True)]
    else:
        leaves = [x0[j].clone().requires_grad_(True) for _ in lrs for j in range(n_start)]
        groups = [{"params": leaves[i * n_start : (i + 1) * n_start], "lr": float(lr)} for i, lr in enumerate(lrs)]
    opt = registry.build(name, groups, **overrides)
    rec = _Recorder(steps, n_lr * n_start, land.dim)
    gen = torch.Generator().manual_seed(seed)
    for t in range(steps + 1):
        opt.zero_grad(set_to_none=False)
        points = torch.cat(leaves) if rows else torch.stack(leaves)
        v = land.values(points)
        v.sum().backward()
        grads = torch.cat([leaf.grad for leaf in leaves]) if rows else torch.stack([leaf.grad for leaf in leaves])
        rec.record(t, points, v, grads)
        if t == steps:
            break
        if noise > 0:
            xi = noise * torch.randn(x0.shape, generator=gen, dtype=torch.float64)
            for k, leaf in enumerate(leaves):
                leaf.grad.add_(xi if rows else xi[k % n_start])
        opt.step()
    ends = rec.finish(land)
    trajectories = rec.split(n_lr, n_start, evaluations=[e + 1 for e in ends])
    return trajectories, [_hyper(g) for g in opt.param_groups]


def _run_single(
    land: Landscape,
    name: str,
    lrs: Sequence[float],
    x0: Tensor,
    steps: int,
    noise: float,
    seed: int,
    overrides: dict[str, Any],
    stop_at_rest: bool = True,
) -> tuple[list[list[Trajectory]], list[dict[str, Any]]]:
    out: list[list[Trajectory]] = []
    hypers = []
    for lr in lrs:
        row = []
        for j in range(x0.shape[0]):
            x = x0[j].clone().requires_grad_(True)
            opt = registry.build(name, [x], lr=float(lr), **overrides)
            row.append(_one_run(land, opt, x, j, x0.shape, steps, noise, seed, stop_at_rest))
        out.append(row)
        hypers.append(_hyper(opt.param_groups[0]))
    return out, hypers


def _one_run(
    land: Landscape,
    opt: torch.optim.Optimizer,
    x: Tensor,
    j: int,
    noise_shape: torch.Size,
    steps: int,
    noise: float,
    seed: int,
    stop_at_rest: bool,
) -> Trajectory:
    """One run driven through ``opt.step(closure)``; the first evaluation of each step is at the step's start."""
    rec = _Recorder(steps, 1, land.dim)
    gen = torch.Generator().manual_seed(seed)
    st = {"t": 0, "evals": 0, "first": True}

    def closure() -> Tensor:
        opt.zero_grad(set_to_none=False)
        v = land.values(x)
        v.backward()
        st["evals"] += 1
        if st["first"]:
            rec.record(st["t"], x[None], v[None], x.grad[None])
            st["first"] = False
            if rec.ended(land, st["t"]):
                raise _Ended
        if noise > 0:
            x.grad.add_(noise * torch.randn(noise_shape, generator=gen, dtype=torch.float64)[j])
        return v

    still = 0  # consecutive steps that left x unchanged
    try:
        for t in range(steps):
            st["t"], st["first"] = t, True
            before, evals = x.detach().clone(), st["evals"]
            opt.step(closure)
            still = still + 1 if torch.equal(before, x.detach()) else 0
            if stop_at_rest and noise == 0 and still >= 2 and _rests_when_still(opt):
                # every later step repeats this one exactly: same point, same number of evaluations
                rec.repeat(t, steps)
                return rec.split(1, 1, [st["evals"] + (steps - t - 1) * (st["evals"] - evals) + 1])[0][0]
        st["t"], st["first"] = steps, True
        with torch.enable_grad():
            closure()
    except _Ended:
        rec.finish(land)
    return rec.split(1, 1, [st["evals"]])[0][0]


class _Ended(Exception):
    """Raised from a closure when the run has ended (diverged, or escaped a landscape unbounded below)."""


def _rests_when_still(opt: torch.optim.Optimizer) -> bool:
    """Whether a step that leaves x unchanged proves ``opt`` at a fixed point (every later step the same).

    True for torch's L-BFGS: at an unchanged x the gradient difference is 0, so the curvature memory is not
    updated, and the direction, step length and line search repeat from identical inputs.
    """
    return type(opt) is torch.optim.LBFGS


class _Recorder:
    """Preallocated (steps + 1) x runs buffers, filled in place each step."""

    def __init__(self, steps: int, runs: int, dim: int) -> None:
        self.path = torch.full((steps + 1, runs, dim), math.nan, dtype=torch.float64)
        self.values = torch.full((steps + 1, runs), math.nan, dtype=torch.float64)
        self.grad_norms = torch.full((steps + 1, runs), math.nan, dtype=torch.float64)

    def record(self, t: int, points: Tensor, values: Tensor, grads: Tensor) -> None:
        with torch.no_grad():
            self.path[t] = points
            self.values[t] = values
            self.grad_norms[t] = torch.linalg.vector_norm(grads, dim=-1)

    def repeat(self, t: int, steps: int) -> None:
        """Fill entries ``t + 1 .. steps`` with entry t (a run at rest: x_{t+1} = x_t)."""
        self.path[t + 1 :] = self.path[t]
        self.values[t + 1 :] = self.values[t]
        self.grad_norms[t + 1 :] = self.grad_norms[t]

    def ended(self, land: Landscape, t: int) -> bool:
        """Whether every run has ended at entry t (single runs: whether the run ends there)."""
        v, p = self.values[t].numpy(), self.path[t].numpy()
        return bool(np.all(~np.isfinite(v) | land.escaped(v, p)))

    def finish(self, land: Landscape) -> list[int]:
        """End each run at its first non-finite value or escape: later entries become NaN. Returns the ends."""
        v, p = self.values.numpy(), self.path.numpy()
        with np.errstate(invalid="ignore"):
            stop = ~np.isfinite(v) | land.escaped(v, p)
        ends = [int(np.argmax(col)) if col.any() else len(v) - 1 for col in stop.T]
        for r, e in enumerate(ends):
            self.path[e + 1 :, r] = math.nan
            self.values[e + 1 :, r] = math.nan
            self.grad_norms[e + 1 :, r] = math.nan
        return ends

    def split(self, n_lr: int, n_start: int, evaluations: Sequence[int]) -> list[list[Trajectory]]:
        path, values, norms = self.path.numpy(), self.values.numpy(), self.grad_norms.numpy()
        return [
            [
                Trajectory(
                    path[:, i * n_start + j].copy(),
                    values[:, i * n_start + j].copy(),
                    norms[:, i * n_start + j].copy(),
                    evaluations[i * n_start + j],
                )
                for j in range(n_start)
            ]
            for i in range(n_lr)
        ]


def _hyper(group: Mapping[str, Any]) -> dict[str, Any]:
    """A parameter group's hyperparameters as JSON-able values (tensors become floats, tuples lists)."""
    out: dict[str, Any] = {}
    for k, v in group.items():
        if k == "params":
            continue
        if isinstance(v, Tensor):
            v = v.item() if v.numel() == 1 else v.tolist()
        elif isinstance(v, tuple):
            v = [x.item() if isinstance(x, Tensor) else x for x in v]
        out[k] = v
    return out
