"""Rosenbrock and Beale, until the Moré-Garbow-Hillstrom set (``ravine.problems.mgh``) lands.

Stand-ins with MGH's definitions and starting points (Moré, Garbow & Hillstrom, "Testing unconstrained
optimization software", ACM TOMS 7(1), 1981: problems 1 and 5, and 21 for the extended Rosenbrock). To switch,
replace the bodies by ``Landscape.of(mgh.<problem>, domain=..., x0=..., title=..., steps=...)`` keeping the
plotting box, the extra start and the step budget below.
"""

from __future__ import annotations

from torch import Tensor

from ravine.lab.landscapes.base import Landscape


def rosenbrock(n: int = 2) -> Landscape:
    """Rosenbrock's function ``sum_i 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2``, minimum 0 at (1, ..., 1).

    A curved, flat-bottomed valley: easy to find, hard to follow. MGH start (-1.2, 1) (repeated for n > 2).
    """
    if not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")

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
    """Beale's function ``sum_i (c_i - x (1 - y^i))^2`` with c = (1.5, 2.25, 2.625); minimum 0 at (3, 0.5)."""

    def f(x: Tensor) -> Tensor:
        a, b = x[..., 0], x[..., 1]
        return (1.5 - a + a * b) ** 2 + (2.25 - a + a * b**2) ** 2 + (2.625 - a + a * b**3) ** 2

    return Landscape(
        name="beale",
        title="Beale",
        dim=2,
        f=f,
        x0=((1.0, 1.0), (-3.0, -2.0)),
        f_star=0.0,
        minimizers=((3.0, 0.5),),
        domain=((-4.5, 4.5), (-4.5, 4.5)),
        illustrates="sharp, curved ridges and flat corners, with a narrow valley to the minimum",
        source="Beale (1958); Moré, Garbow & Hillstrom (1981), problem 5",
        steps=1000,
    )
