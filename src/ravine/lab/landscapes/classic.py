"""Rosenbrock and Beale: the Moré-Garbow-Hillstrom problems (``ravine.problems.mgh``) as landscapes.

The 2-D functions, their standard starts and minima are MGH's (Moré, Garbow & Hillstrom, "Testing unconstrained
optimization software", ACM TOMS 7(1), 1981: problems 1 and 5); the lab adds a second start, a plotting box and a
step budget. The n-dimensional Rosenbrock is the *chained* form ``sum_i 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2``
(scipy's ``rosen``, the one ML texts use), not MGH's problem 21, which is n/2 independent copies.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable

import torch
from torch import Tensor

from ravine.lab.landscapes.base import Landscape
from ravine.problems import mgh as mgh_set
from ravine.problems.base import Problem


def rosenbrock(n: int = 2) -> Landscape:
    """Rosenbrock's function ``sum_i 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2``, minimum 0 at (1, ..., 1).

    A curved, flat-bottomed valley: easy to find, hard to follow. MGH start (-1.2, 1) (repeated for n > 2).
    """
    if not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    if n == 2:
        p = mgh_set.get("rosenbrock")
        return Landscape.of(
            p, f=_batched_sum_of_squares(p), title="Rosenbrock", x0=(tuple(p.x0[0]), (-1.5, 2.0)), steps=1000,
            params={"n": 2},
        )  # fmt: skip

    def f(x: Tensor) -> Tensor:
        a, b = x[..., :-1], x[..., 1:]
        return (100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2).sum(-1)

    mgh = tuple(-1.2 if i % 2 == 0 else 1.0 for i in range(n))
    other = tuple(-1.5 if i % 2 == 0 else 2.0 for i in range(n))
    return Landscape(
        name="rosenbrock" if n == 2 else f"rosenbrock:n={n}",
        title="Rosenbrock" + ("" if n == 2 else f" ({n}-D)"),
        dim=n,
        f=f,
        x0=(mgh, other),
        f_star=0.0,
        minimizers=((1.0,) * n,),
        domain=((-2.0, 2.0), (-1.0, 3.0)) if n == 2 else ((-2.0, 3.0),) * n,
        illustrates="a curved, flat-bottomed valley: easy to fall into, slow to follow to the minimum",
        source="Rosenbrock (1960); Moré, Garbow & Hillstrom (1981), problems 1 and 21",
        steps=1000,
        params={"n": n},
    )


def beale() -> Landscape:
    """Beale's function ``sum_i (c_i - x (1 - y^i))^2`` with c = (1.5, 2.25, 2.625); minimum 0 at (3, 0.5) (MGH 5)."""
    p = mgh_set.get("beale")
    return Landscape.of(p, f=_batched_sum_of_squares(p), title="Beale", x0=(tuple(p.x0[0]), (-3.0, -2.0)), steps=1000)


def _batched_sum_of_squares(p: Problem) -> Callable[[Tensor], Tensor]:
    """MGH's ``f = sum_i r_i(x)^2`` for points of shape ``(..., n)``, summed left to right over the few residuals,
    so that a batch of points rounds exactly like each point alone (the lab's batched runs rely on it)."""
    residuals = torch.func.vmap(p.residuals)

    def f(x: Tensor) -> Tensor:
        r = residuals(x.reshape(-1, p.dim)).reshape(*x.shape[:-1], -1)
        return functools.reduce(operator.add, (r[..., i] * r[..., i] for i in range(r.shape[-1])))

    return f
