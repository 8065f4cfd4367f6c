"""Several minima: which one a run reaches depends on the start, the optimiser and the learning rate.

Minima are the published approximations refined by Newton's method (:func:`~ravine.lab.landscapes.base.polish`);
tests check them against scipy and against the published digits.
"""

from __future__ import annotations

import itertools
import math
from functools import cache

import numpy as np
import torch
from torch import Tensor

from ravine.lab.landscapes.base import Landscape, polish


def himmelblau() -> Landscape:
    """Himmelblau's function ``(x^2 + y - 11)^2 + (x + y^2 - 7)^2``: four global minima, value 0."""

    def f(x: Tensor) -> Tensor:
        a, b = x[..., 0], x[..., 1]
        return (a * a + b - 11) ** 2 + (a + b * b - 7) ** 2

    published = ((3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126))
    return Landscape(
        name="himmelblau",
        title="Himmelblau",
        dim=2,
        f=f,
        x0=((0.0, 0.0), (-0.5, -4.5), (-1.0, 1.0)),
        f_star=0.0,
        minimizers=tuple(polish(f, p) for p in published),
        domain=((-5.0, 5.0), (-5.0, 5.0)),
        illustrates="four equal minima: the start and the step decide which basin a run ends in",
        source="Himmelblau, Applied Nonlinear Programming (1972)",
        steps=300,
    )


def six_hump_camel() -> Landscape:
    """The six-hump camel ``(4 - 2.1 x^2 + x^4/3) x^2 + x y + (-4 + 4 y^2) y^2``: two global, four local minima."""

    def f(x: Tensor) -> Tensor:
        a, b = x[..., 0], x[..., 1]
        return (4 - 2.1 * a**2 + a**4 / 3) * a**2 + a * b + (-4 + 4 * b**2) * b**2

    glob = [polish(f, p) for p in ((0.0898, -0.7126), (-0.0898, 0.7126))]
    local = [polish(f, p) for p in ((-1.7036, 0.7961), (1.7036, -0.7961), (1.6071, 0.5687), (-1.6071, -0.5687))]
    f_star = float(f(torch.tensor(glob[0], dtype=torch.float64)))
    return Landscape(
        name="six-hump-camel",
        title="Six-hump camel",
        dim=2,
        f=f,
        x0=((-1.5, 1.0), (1.9, -0.2)),
        f_star=f_star,
        minimizers=tuple(glob),
        local_minima=tuple((float(f(torch.tensor(p, dtype=torch.float64))), p) for p in local),
        domain=((-2.2, 2.2), (-1.2, 1.2)),
        illustrates="two global and four local minima in a small box",
        source="Dixon & Szegö, Towards Global Optimisation 2 (1978); Molga & Smutnicki (2005)",
        steps=300,
    )


@cache
def _rastrigin_1d(a: float) -> tuple[tuple[float, float], ...]:
    """(position, value) of the 1-D local minima of ``x^2 - a cos(2 pi x) + a`` near each integer in [-5, 5]."""

    def g(x: Tensor) -> Tensor:
        return (x * x - a * torch.cos(2 * math.pi * x) + a).sum()

    # near integer k the minimum moves inward by about k / (1 + 2 pi^2 a)
    pts = [polish(g, (k - k / (1 + 2 * math.pi**2 * a),))[0] for k in range(-5, 6)]
    return tuple((p, float(g(torch.tensor([p], dtype=torch.float64)))) for p in pts)


def rastrigin(n: int = 2, a: float = 10.0) -> Landscape:
    """Rastrigin's function ``a n + sum_i (x_i^2 - a cos(2 pi x_i))``: a bowl covered in a grid of local minima.

    Global minimum 0 at the origin; a local minimum near every integer point (listed for n <= 3).
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    if not a > 0:
        raise ValueError(f"a must be > 0, got {a}")

    def f(x: Tensor) -> Tensor:
        return a * n + (x * x - a * torch.cos(2 * math.pi * x)).sum(-1)

    local = []
    if n <= 3:
        one = _rastrigin_1d(float(a))
        for combo in itertools.product(one, repeat=n):
            point = tuple(p for p, _ in combo)
            if any(p != 0.0 for p in point):
                local.append((sum(v for _, v in combo), point))
    default = n == 2 and a == 10.0
    return Landscape(
        name="rastrigin" if default else f"rastrigin:n={n},a={a:g}",
        title="Rastrigin" + ("" if n == 2 else f" ({n}-D)"),
        dim=n,
        f=f,
        x0=(tuple(2.2 if i % 2 == 0 else 3.3 for i in range(n)), tuple(-3.6 if i % 2 == 0 else 1.4 for i in range(n))),
        f_star=0.0,
        minimizers=((0.0,) * n,),
        local_minima=tuple(local),
        domain=((-5.12, 5.12),) * n,
        illustrates="many local minima on a bowl: small steps stop in the nearest one, large steps hop between them",
        source="Rastrigin (1974); Mühlenbein et al., Parallel Computing 17 (1991)",
        steps=300,
        params={"n": n, "a": float(a)},
    )


@cache
def _styblinski_tang_1d() -> tuple[tuple[float, float], ...]:
    """(position, value) of the two 1-D minima of ``(x^4 - 16 x^2 + 5 x) / 2``: roots of ``4x^3 - 32x + 5``."""
    roots = sorted(float(r.real) for r in np.roots([4.0, 0.0, -32.0, 5.0]))
    out = []
    for r in (roots[0], roots[2]):  # the middle root is the local maximum
        p = polish(lambda x: 0.5 * (x**4 - 16 * x**2 + 5 * x).sum(), (r,))[0]
        out.append((p, 0.5 * (p**4 - 16 * p**2 + 5 * p)))
    return tuple(out)


def styblinski_tang(n: int = 2) -> Landscape:
    """Styblinski-Tang ``sum_i (x_i^4 - 16 x_i^2 + 5 x_i) / 2``: global minimum -39.166... n at x_i = -2.9035.

    Separable, with a shallower local minimum at x_i = 2.7468 in each coordinate (2^n - 1 local minima, listed
    for n <= 4).
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")

    def f(x: Tensor) -> Tensor:
        return 0.5 * (x**4 - 16 * x**2 + 5 * x).sum(-1)

    (xg, vg), (xl, vl) = _styblinski_tang_1d()
    local = []
    if n <= 4:
        for combo in itertools.product(((xg, vg), (xl, vl)), repeat=n):
            if any(p == xl for p, _ in combo):
                local.append((sum(v for _, v in combo), tuple(p for p, _ in combo)))
    return Landscape(
        name="styblinski-tang" if n == 2 else f"styblinski-tang:n={n}",
        title="Styblinski–Tang" + ("" if n == 2 else f" ({n}-D)"),
        dim=n,
        f=f,
        x0=(tuple(4.0 if i % 2 == 0 else 3.5 for i in range(n)), tuple(0.5 if i % 2 == 0 else -4.5 for i in range(n))),
        f_star=vg * n,
        minimizers=((xg,) * n,),
        local_minima=tuple(local),
        domain=((-5.0, 5.0),) * n,
        illustrates="a deep and a shallow minimum per coordinate: descent from the wrong side ends in the shallow one",
        source="Styblinski & Tang, Neural Networks 3 (1990)",
        steps=300,
        params={"n": n},
    )
