"""The linear least-squares problems of Moré, Garbow & Hillstrom (problems 32-34), with closed-form minima.

``r(x) = A x - b`` with A of full rank, rank one, or rank one with zero first and last rows and columns: convex
quadratics, the first with one minimiser, the others with a whole hyperplane of them. Sized n and m (m >= n).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ravine.problems import _mgh
from ravine.problems.base import Problem


def linear_full_rank(n: int = 5, m: int = 10) -> Problem:
    """Problem 32: ``r_i = x_i - (2/m) sum x_j - 1`` (i <= n), ``-(2/m) sum x_j - 1`` (i > n); f* = m - n at -1."""
    _mgh.check_n("linear_full_rank", n, 1)
    _check_m(m, n)

    def residuals(x: Tensor) -> Tensor:
        c = 2 * x.sum() / m + 1
        return torch.cat([x - c, -c.expand(m - n)])

    return _mgh.problem(
        32,
        f"linear_full_rank-n{n}-m{m}",
        residuals,
        [1.0] * n,
        float(m - n),
        minimizers=[[-1.0] * n],
        illustrates="a convex quadratic: any quasi-Newton method should finish in a few steps",
    )


def linear_rank_1(n: int = 5, m: int = 10) -> Problem:
    """Problem 33: ``r_i = i sum_j j x_j - 1``; f* = m(m-1)/(2(2m+1)) wherever ``sum_j j x_j = 3/(2m+1)``."""
    _mgh.check_n("linear_rank_1", n, 1)
    _check_m(m, n)

    def residuals(x: Tensor) -> Tensor:
        return _mgh.index(x, m) * torch.dot(_mgh.index(x, n), x) - 1

    c = 3 / (2 * m + 1) / (n * (n + 1) / 2)  # x_j = c puts sum_j j x_j on the minimising hyperplane
    return _mgh.problem(
        33,
        f"linear_rank_1-n{n}-m{m}",
        residuals,
        [1.0] * n,
        m * (m - 1) / (2 * (2 * m + 1)),
        minimizers=[[c] * n],
        illustrates="a rank-one quadratic: a whole hyperplane of minimisers",
    )


def linear_rank_1_zero(n: int = 5, m: int = 10) -> Problem:
    """Problem 34: problem 33 with zero first/last rows and columns; f* = (m^2 + 3m - 6)/(2(2m - 3)).

    Minimal wherever ``sum_{j=2}^{n-1} j x_j = 3/(2m - 3)``.
    """
    _mgh.check_n("linear_rank_1_zero", n, 3)
    _check_m(m, n)

    def residuals(x: Tensor) -> Tensor:
        s = torch.dot(_mgh.index(x, n)[1:-1], x[1:-1])
        inner = _mgh.index(x, m - 2) * s - 1  # (i - 1) s - 1 for i = 2, ..., m - 1
        minus_one = -torch.ones(1, dtype=x.dtype, device=x.device)
        return torch.cat([minus_one, inner, minus_one])

    c = 3 / (2 * m - 3) / (n * (n - 1) / 2 - 1)  # sum_{j=2}^{n-1} j = n(n-1)/2 - 1
    return _mgh.problem(
        34,
        f"linear_rank_1_zero-n{n}-m{m}",
        residuals,
        [1.0] * n,
        (m**2 + 3 * m - 6) / (2 * (2 * m - 3)),
        minimizers=[[0.0] + [c] * (n - 2) + [0.0]],
        illustrates="a rank-one quadratic in which two variables do not appear at all",
    )


def _check_m(m: int, n: int) -> None:
    if isinstance(m, bool) or not isinstance(m, int) or m < n:
        raise ValueError(f"m must be an integer >= n = {n}, got {m!r}")
