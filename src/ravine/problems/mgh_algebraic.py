"""The algebraic Moré-Garbow-Hillstrom problems of fixed size: curved valleys, bad scaling, singular minima.

Problems 1-5, 7, 13 and 14 of Moré, Garbow & Hillstrom (ACM TOMS 7(1), 1981, section 3). Each residual is
written as in the paper, with its indices from 1; ``f(x) = sum_i r_i(x)^2``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ravine.problems import _mgh
from ravine.problems.base import Problem
from ravine.problems.mgh_minima import MINIMA


def _rosenbrock(x: Tensor) -> Tensor:
    return torch.stack([10 * (x[1] - x[0] ** 2), 1 - x[0]])


def rosenbrock() -> Problem:
    """Problem 1, Rosenbrock (1960): the banana valley ``100 (x2 - x1^2)^2 + (1 - x1)^2``; f* = 0 at (1, 1)."""
    return _mgh.problem(
        1,
        "rosenbrock",
        _rosenbrock,
        (-1.2, 1.0),
        0.0,
        minimizers=[(1.0, 1.0)],
        domain=[(-2.0, 2.0), (-1.0, 3.0)],
        illustrates="a narrow curved valley: steepest descent zig-zags, curvature-aware methods follow it",
    )


def _freudenstein_roth(x: Tensor) -> Tensor:
    x1, x2 = x[0], x[1]
    return torch.stack([-13 + x1 + ((5 - x2) * x2 - 2) * x2, -29 + x1 + ((x2 + 1) * x2 - 14) * x2])


def freudenstein_roth() -> Problem:
    """Problem 2, Freudenstein & Roth (1963): f* = 0 at (5, 4), and a local minimum 48.9842 at (11.41, -0.8968).

    The local minimum is where descent methods from the standard start (0.5, -2) usually stop; the paper gives
    both.
    """
    return _mgh.problem(
        2,
        "freudenstein_roth",
        _freudenstein_roth,
        (0.5, -2.0),
        0.0,
        minimizers=[(5.0, 4.0)],
        local_minima=[(48.9842, MINIMA["freudenstein_roth_local"])],
        domain=[(-2.0, 16.0), (-3.0, 6.0)],
        illustrates="a local minimum (48.98) that attracts descent methods from the standard start",
        note="the paper's local minimiser (11.41..., -0.8968...) refined in float64 by ravine",
    )


def _powell_badly_scaled(x: Tensor) -> Tensor:
    return torch.stack([1e4 * x[0] * x[1] - 1, torch.exp(-x[0]) + torch.exp(-x[1]) - 1.0001])


def powell_badly_scaled() -> Problem:
    """Problem 3, Powell (1970): f* = 0 at (1.098e-5, 9.106); the two coordinates differ by six orders."""
    return _mgh.problem(
        3,
        "powell_badly_scaled",
        _powell_badly_scaled,
        (0.0, 1.0),
        0.0,
        minimizers=[(1.0981593296997149e-05, 9.106146739867375)],
        domain=[(-1e-4, 3e-4), (-1.0, 11.0)],
        illustrates="bad scaling: the minimiser's coordinates differ by six orders of magnitude",
        note="minimiser to full precision from gonum's optimize/functions (the paper gives 4 digits)",
    )


def _brown_badly_scaled(x: Tensor) -> Tensor:
    return torch.stack([x[0] - 1e6, x[1] - 2e-6, x[0] * x[1] - 2])


def brown_badly_scaled() -> Problem:
    """Problem 4, Brown: f* = 0 at (1e6, 2e-6), twelve orders of magnitude apart."""
    return _mgh.problem(
        4,
        "brown_badly_scaled",
        _brown_badly_scaled,
        (1.0, 1.0),
        0.0,
        minimizers=[(1e6, 2e-6)],
        domain=[(-1e5, 1.2e6), (-1.0, 2.0)],
        illustrates="extreme scaling: a minimiser at (1e6, 2e-6) from the start (1, 1)",
    )


def _beale(x: Tensor) -> Tensor:
    i = _mgh.index(x, 3)
    y = x.new_tensor([1.5, 2.25, 2.625])
    return y - x[0] * (1 - x[1] ** i)


def beale() -> Problem:
    """Problem 5, Beale (1958): f* = 0 at (3, 0.5); flat plateaus and steep ridges near the corners."""
    return _mgh.problem(
        5,
        "beale",
        _beale,
        (1.0, 1.0),
        0.0,
        minimizers=[(3.0, 0.5)],
        domain=[(-4.5, 4.5), (-4.5, 4.5)],
        illustrates="flat plateaus beside steep ridges: step sizes must adapt by orders of magnitude",
    )


def _helical_valley(x: Tensor) -> Tensor:
    # theta is arctan(x2/x1)/(2 pi), shifted by 1/2 where x1 < 0, as the paper defines it (not atan2, which
    # would jump at x2 = 0 for x1 < 0 where the paper's theta is continuous).
    theta = torch.atan(x[1] / x[0]) / (2 * math.pi) + 0.5 * (x[0] < 0).to(x.dtype)
    return torch.stack([10 * (x[2] - 10 * theta), 10 * (torch.sqrt(x[0] ** 2 + x[1] ** 2) - 1), x[2]])


def helical_valley() -> Problem:
    """Problem 7, Fletcher & Powell (1963): a helix-shaped valley around the x3 axis; f* = 0 at (1, 0, 0).

    theta (and so f) is discontinuous across x1 = 0; the standard start (-1, 0, 0) lies on the other side.
    """
    return _mgh.problem(
        7,
        "helical_valley",
        _helical_valley,
        (-1.0, 0.0, 0.0),
        0.0,
        minimizers=[(1.0, 0.0, 0.0)],
        illustrates="a valley that spirals around an axis: the method must turn with it",
    )


def _powell_singular(x: Tensor) -> Tensor:
    return torch.stack(
        [
            x[0] + 10 * x[1],
            math.sqrt(5) * (x[2] - x[3]),
            (x[1] - 2 * x[2]) ** 2,
            math.sqrt(10) * (x[0] - x[3]) ** 2,
        ]
    )


def powell_singular() -> Problem:
    """Problem 13, Powell (1962): f* = 0 at the origin, where the Hessian is singular (rank 2)."""
    return _mgh.problem(
        13,
        "powell_singular",
        _powell_singular,
        (3.0, -1.0, 0.0, 1.0),
        0.0,
        minimizers=[(0.0, 0.0, 0.0, 0.0)],
        illustrates="a singular Hessian at the minimiser: only linear convergence is possible",
    )


def _wood(x: Tensor) -> Tensor:
    return torch.stack(
        [
            10 * (x[1] - x[0] ** 2),
            1 - x[0],
            math.sqrt(90) * (x[3] - x[2] ** 2),
            1 - x[2],
            math.sqrt(10) * (x[1] + x[3] - 2),
            (x[1] - x[3]) / math.sqrt(10),
        ]
    )


def wood() -> Problem:
    """Problem 14, Colville's Wood function: two coupled Rosenbrock valleys; f* = 0 at (1, 1, 1, 1).

    It has a stationary point (a saddle) with f = 7.87697 near (-0.968, 0.947, -0.970, 0.951), where methods
    can stall (listed in ``local_minima``).
    """
    return _mgh.problem(
        14,
        "wood",
        _wood,
        (-3.0, -1.0, -3.0, -1.0),
        0.0,
        minimizers=[(1.0, 1.0, 1.0, 1.0)],
        local_minima=[(7.87697, MINIMA["wood_saddle"])],
        illustrates="a saddle point (f = 7.877) near the path from the standard start",
        note="the stationary point near 7.877 located in float64 by ravine (it is not in the paper)",
    )
