"""The Moré-Garbow-Hillstrom problems of variable size n (problems 20-31 and 35; 32-34 are in mgh_linear).

Each factory takes n (and m where the paper lets it vary) and names the instance ``"<name>-n<n>"``. f* is the
paper's value where it depends on n (Watson, the penalty functions, Chebyquad) and its closed form otherwise.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ravine.problems import _mgh
from ravine.problems.base import Problem
from ravine.problems.mgh_minima import MINIMA

WATSON_F_STAR = {6: 2.28767e-3, 9: 1.39976e-6, 12: 4.72238e-10}
PENALTY_1_F_STAR = {4: 2.24997e-5, 10: 7.08765e-5}
PENALTY_2_F_STAR = {4: 9.37629e-6, 10: 2.93660e-4}
CHEBYQUAD_F_STAR = {8: 3.51687e-3, 10: 6.50395e-3}  # and 0 for n <= 7 and n = 9
A = 1e-5  # the weight a of the penalty functions


def _known(key: str) -> list[tuple[float, ...]]:
    return [MINIMA[key]] if key in MINIMA else []


def watson(n: int = 6) -> Problem:
    """Problem 20, Watson: a polynomial fit to an ODE's solution; f* for n = 6, 9, 12 as in the paper.

    ``r_i = sum_{j=2}^n (j-1) x_j t_i^{j-2} - (sum_j x_j t_i^{j-1})^2 - 1`` for t_i = i/29, i <= 29; r_30 = x1;
    r_31 = x2 - x1^2 - 1. The conditioning worsens quickly with n (the basis is the monomials).
    """
    _mgh.check_n("watson", n, 2)
    if n > 31:
        raise ValueError(f"n must be in [2, 31] for watson, got {n}")

    def residuals(x: Tensor) -> Tensor:
        t = _mgh.index(x, 29) / 29
        powers = t[:, None] ** torch.arange(n, dtype=x.dtype, device=x.device)  # t_i^(j-1)
        s1 = powers[:, : n - 1] @ (torch.arange(1, n, dtype=x.dtype, device=x.device) * x[1:])
        s2 = powers @ x
        return torch.cat([s1 - s2**2 - 1, torch.stack([x[0], x[1] - x[0] ** 2 - 1])])

    key = f"watson-n{n}"
    return _mgh.problem(
        20,
        key,
        residuals,
        [0.0] * n,
        WATSON_F_STAR.get(n),
        minimizers=_known(key),
        illustrates="ill-conditioning that grows with n (monomial basis on [0, 1])",
        note="minimiser computed in float64 by ravine; the paper gives f* only",
    )


def extended_rosenbrock(n: int = 10) -> Problem:
    """Problem 21: n/2 independent copies of Rosenbrock's valley; f* = 0 at (1, ..., 1)."""
    _mgh.check_n("extended_rosenbrock", n, 2, 2)

    def residuals(x: Tensor) -> Tensor:
        odd, even = x[0::2], x[1::2]
        return torch.stack([10 * (even - odd**2), 1 - odd], dim=1).reshape(-1)

    return _mgh.problem(
        21,
        f"extended_rosenbrock-n{n}",
        residuals,
        [-1.2, 1.0] * (n // 2),
        0.0,
        minimizers=[[1.0] * n],
        illustrates="Rosenbrock's valley in n/2 independent copies",
    )


def extended_powell(n: int = 12) -> Problem:
    """Problem 22: n/4 copies of Powell's singular function; f* = 0 at the origin (singular Hessian)."""
    _mgh.check_n("extended_powell", n, 4, 4)

    def residuals(x: Tensor) -> Tensor:
        a, b, c, d = (x[k::4] for k in range(4))
        blocks = [a + 10 * b, math.sqrt(5) * (c - d), (b - 2 * c) ** 2, math.sqrt(10) * (a - d) ** 2]
        return torch.stack(blocks, dim=1).reshape(-1)

    return _mgh.problem(
        22,
        f"extended_powell-n{n}",
        residuals,
        [3.0, -1.0, 0.0, 1.0] * (n // 4),
        0.0,
        minimizers=[[0.0] * n],
        illustrates="a singular minimiser in n dimensions: linear convergence at best",
    )


def penalty_1(n: int = 10) -> Problem:
    """Problem 23, Gill, Murray & Pitfield: ``a ||x - 1||^2 + (||x||^2 - 1/4)^2``, a = 1e-5; f* for n = 4, 10."""
    _mgh.check_n("penalty_1", n, 1)

    def residuals(x: Tensor) -> Tensor:
        return torch.cat([math.sqrt(A) * (x - 1), (torch.dot(x, x) - 0.25).reshape(1)])

    key = f"penalty_1-n{n}"
    return _mgh.problem(
        23,
        key,
        residuals,
        [float(j) for j in range(1, n + 1)],
        PENALTY_1_F_STAR.get(n),
        minimizers=_known(key),
        illustrates="a penalty term that dominates by five orders of magnitude",
        note="minimiser computed in float64 by ravine (all coordinates equal, as gonum also gives)",
    )


def penalty_2(n: int = 10) -> Problem:
    """Problem 24, Gill, Murray & Pitfield: exponentials of neighbouring coordinates; f* for n = 4, 10."""
    _mgh.check_n("penalty_2", n, 1)

    def residuals(x: Tensor) -> Tensor:
        i = _mgh.index(x, n)
        y = torch.exp(i / 10) + torch.exp((i - 1) / 10)
        e = torch.exp(x / 10)
        weighted = torch.dot(n - i + 1, x**2) - 1
        return torch.cat(
            [
                (x[0] - 0.2).reshape(1),
                math.sqrt(A) * (e[1:] + e[:-1] - y[1:]),
                math.sqrt(A) * (e[1:] - math.exp(-0.1)),
                weighted.reshape(1),
            ]
        )

    key = f"penalty_2-n{n}"
    return _mgh.problem(
        24,
        key,
        residuals,
        [0.5] * n,
        PENALTY_2_F_STAR.get(n),
        minimizers=_known(key),
        illustrates="coupled exponentials under a dominant quadratic constraint",
        note="minimiser computed in float64 by ravine; gonum's optimize/functions agrees",
    )


def variably_dimensioned(n: int = 10) -> Problem:
    """Problem 25: ``sum (x_j - 1)^2 + s^2 + s^4`` with ``s = sum j (x_j - 1)``; f* = 0 at (1, ..., 1)."""
    _mgh.check_n("variably_dimensioned", n, 1)

    def residuals(x: Tensor) -> Tensor:
        s = torch.dot(_mgh.index(x, n), x - 1)
        return torch.cat([x - 1, torch.stack([s, s**2])])

    return _mgh.problem(
        25,
        f"variably_dimensioned-n{n}",
        residuals,
        [1 - j / n for j in range(1, n + 1)],
        0.0,
        minimizers=[[1.0] * n],
        illustrates="a quartic term along one direction (j-weighted) on top of a round bowl",
    )


def trigonometric(n: int = 10) -> Problem:
    """Problem 26, Spedicato: ``r_i = n - sum cos x_j + i (1 - cos x_i) - sin x_i``; f* = 0.

    For n = 10 there is also a local minimum 2.79506e-5 (from gonum's optimize/functions, refined by ravine).
    """
    _mgh.check_n("trigonometric", n, 1)

    def residuals(x: Tensor) -> Tensor:
        c = torch.cos(x)
        return n - c.sum() + _mgh.index(x, n) * (1 - c) - torch.sin(x)

    key = f"trigonometric-n{n}"
    local = f"trigonometric-n{n}-local"
    return _mgh.problem(
        26,
        key,
        residuals,
        [1 / n] * n,
        0.0,
        minimizers=_known(key),
        local_minima=[(2.79506e-5, MINIMA[local])] if local in MINIMA else (),
        illustrates="a periodic landscape with local minima beside f* = 0",
        note="minimiser computed in float64 by ravine from gonum's",
    )


def brown_almost_linear(n: int = 10) -> Problem:
    """Problem 27, Brown: ``r_i = x_i + sum x_j - (n + 1)`` for i < n, ``r_n = prod x_j - 1``; f* = 0 at ones.

    The paper also lists f = 1 at (0, ..., 0, n + 1), a local minimum.
    """
    _mgh.check_n("brown_almost_linear", n, 1)

    def residuals(x: Tensor) -> Tensor:
        return torch.cat([x[:-1] + x.sum() - (n + 1), (torch.prod(x) - 1).reshape(1)])

    return _mgh.problem(
        27,
        f"brown_almost_linear-n{n}",
        residuals,
        [0.5] * n,
        0.0,
        minimizers=[[1.0] * n],
        local_minima=[(1.0, [0.0] * (n - 1) + [n + 1.0])],
        illustrates="one nonlinear equation (a product) among n - 1 linear ones",
    )


def discrete_boundary_value(n: int = 10) -> Problem:
    """Problem 28: a finite-difference two-point boundary value problem, h = 1/(n+1); f* = 0."""
    _mgh.check_n("discrete_boundary_value", n, 1)
    h = 1 / (n + 1)

    def residuals(x: Tensor) -> Tensor:
        t = _mgh.index(x, n) * h
        padded = torch.nn.functional.pad(x, (1, 1))  # x_0 = x_{n+1} = 0
        return 2 * x - padded[:-2] - padded[2:] + h**2 * (x + t + 1) ** 3 / 2

    key = f"discrete_boundary_value-n{n}"
    return _mgh.problem(
        28,
        key,
        residuals,
        [t * (t - 1) for t in (j * h for j in range(1, n + 1))],
        0.0,
        minimizers=_known(key),
        illustrates="a discretised differential equation: banded, well-conditioned for small n",
        note="minimiser (the solution of the equations) computed in float64 by ravine",
    )


def discrete_integral_equation(n: int = 10) -> Problem:
    """Problem 29: the integral-equation form of problem 28 (dense coupling), h = 1/(n+1); f* = 0."""
    _mgh.check_n("discrete_integral_equation", n, 1)
    h = 1 / (n + 1)

    def residuals(x: Tensor) -> Tensor:
        t = _mgh.index(x, n) * h
        q = (x + t + 1) ** 3
        below = torch.cumsum(t * q, 0)  # sum_{j <= i} t_j q_j
        tail = (1 - t) * q
        above = tail.sum() - torch.cumsum(tail, 0)  # sum_{j > i} (1 - t_j) q_j
        return x + h * ((1 - t) * below + t * above) / 2

    key = f"discrete_integral_equation-n{n}"
    return _mgh.problem(
        29,
        key,
        residuals,
        [t * (t - 1) for t in (j * h for j in range(1, n + 1))],
        0.0,
        minimizers=_known(key),
        illustrates="a dense nonlinear system with the same solution as its banded twin (problem 28)",
        note="minimiser (the solution of the equations) computed in float64 by ravine",
    )


def broyden_tridiagonal(n: int = 10) -> Problem:
    """Problem 30, Broyden (1965): ``r_i = (3 - 2 x_i) x_i - x_{i-1} - 2 x_{i+1} + 1``, x_0 = x_{n+1} = 0; f* = 0."""
    _mgh.check_n("broyden_tridiagonal", n, 1)

    def residuals(x: Tensor) -> Tensor:
        padded = torch.nn.functional.pad(x, (1, 1))
        return (3 - 2 * x) * x - padded[:-2] - 2 * padded[2:] + 1

    key = f"broyden_tridiagonal-n{n}"
    return _mgh.problem(
        30,
        key,
        residuals,
        [-1.0] * n,
        0.0,
        minimizers=_known(key),
        illustrates="a tridiagonal nonlinear system",
        note="minimiser (the solution of the equations) computed in float64 by ravine",
    )


def broyden_banded(n: int = 10) -> Problem:
    """Problem 31, Broyden (1971): ``r_i = x_i (2 + 5 x_i^2) + 1 - sum_{j in J_i} x_j (1 + x_j)``; f* = 0.

    ``J_i = {j != i : max(1, i - 5) <= j <= min(n, i + 1)}`` (5 sub-diagonals, 1 super-diagonal).
    """
    _mgh.check_n("broyden_banded", n, 1)

    def residuals(x: Tensor) -> Tensor:
        i = torch.arange(n, device=x.device)
        offset = i[None, :] - i[:, None]  # j - i
        band = ((offset >= -5) & (offset <= 1) & (offset != 0)).to(x.dtype)
        return x * (2 + 5 * x**2) + 1 - band @ (x * (1 + x))

    key = f"broyden_banded-n{n}"
    return _mgh.problem(
        31,
        key,
        residuals,
        [-1.0] * n,
        0.0,
        minimizers=_known(key),
        illustrates="a banded nonlinear system",
        note="minimiser (the solution of the equations) computed in float64 by ravine",
    )


def chebyquad(n: int = 8) -> Problem:
    """Problem 35, Fletcher (1965): choose n nodes so that their mean matches the integrals of shifted Chebyshev
    polynomials T_1..T_n on [0, 1]; f* = 0 for n <= 7 and n = 9, 3.51687e-3 for n = 8, 6.50395e-3 for n = 10."""
    _mgh.check_n("chebyquad", n, 1)

    def residuals(x: Tensor) -> Tensor:
        z = 2 * x - 1
        previous, current, rows = torch.ones_like(x), z, []
        for _ in range(n):  # T_{i+1}(z) = 2 z T_i(z) - T_{i-1}(z)
            rows.append(current)
            previous, current = current, 2 * z * current - previous
        i = _mgh.index(x, n)
        integral = torch.where(i % 2 == 0, -1 / (i**2 - 1), torch.zeros_like(i))
        return torch.stack(rows).mean(dim=1) - integral

    key = f"chebyquad-n{n}"
    f_star = 0.0 if n <= 7 or n == 9 else CHEBYQUAD_F_STAR.get(n)
    return _mgh.problem(
        35,
        key,
        residuals,
        [j / (n + 1) for j in range(1, n + 1)],
        f_star,
        minimizers=_known(key),
        illustrates="a symmetric problem: any permutation of a minimiser is a minimiser",
        note="minimiser computed in float64 by ravine",
    )
