"""Quadratics: the convex bowl, the ill-conditioned ravine, and Booth's function.

On ``f(x) = 1/2 x^T A x`` with eigenvalues in ``[mu, L]``, gradient descent converges for ``0 < lr < 2/L``, at
best at rate ``(kappa - 1)/(kappa + 1)`` per step (``lr = 2/(L + mu)``, ``kappa = L/mu``); heavy-ball momentum
at best at ``(sqrt(kappa) - 1)/(sqrt(kappa) + 1)`` (Polyak 1964; Nesterov, *Lectures on Convex Optimization*,
2nd ed., 2018, section 2.1.5 and 2.2). Quadratics are where those rates can be checked exactly.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ravine.lab.landscapes.base import Landscape


def _cycle(pattern: tuple[float, ...], n: int) -> tuple[float, ...]:
    return tuple(pattern[i % len(pattern)] for i in range(n))


def bowl(n: int = 2) -> Landscape:
    """The convex bowl ``f(x) = 1/2 ||x||^2`` (Hessian I: L = mu = 1), in n dimensions.

    Gradient descent converges for ``lr < 2/L = 2``, in one step at ``lr = 1``, and overshoots back and forth
    for ``1 < lr < 2``.
    """
    _check_dim(n, 1)

    def f(x: Tensor) -> Tensor:
        return 0.5 * (x * x).sum(-1)

    return Landscape(
        name="bowl" if n == 2 else f"bowl:n={n}",
        title="Convex bowl" if n == 2 else f"Convex bowl ({n}-D)",
        dim=n,
        f=f,
        x0=(_cycle((1.5, 1.0), n), _cycle((-1.0, 1.8), n)),
        f_star=0.0,
        minimizers=((0.0,) * n,),
        domain=((-2.0, 2.0),) * n,
        illustrates="a ball rolling into a cup: any learning rate below 2/L converges, larger ones diverge",
        source="isotropic quadratic; Nesterov (2018), section 2.1.5",
        steps=100,
        params={"n": n},
    )


def ravine_matrix(kappa: float, n: int, angle: float) -> Tensor:
    """The ravine's Hessian ``A = R diag(lambda) R^T``: eigenvalues log-spaced in ``[1, kappa]``, and R a
    rotation by ``angle`` degrees in the plane of the first and last coordinates (the flattest and steepest)."""
    lam = torch.logspace(0.0, math.log10(kappa), n, dtype=torch.float64)
    rot = torch.eye(n, dtype=torch.float64)
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    rot[0, 0], rot[0, n - 1], rot[n - 1, 0], rot[n - 1, n - 1] = c, -s, s, c
    return rot @ torch.diag(lam) @ rot.T


def ravine(kappa: float = 100.0, n: int = 2, angle: float = 30.0) -> Landscape:
    """An ill-conditioned quadratic ``f(x) = 1/2 x^T A x`` with condition number ``kappa`` (default 100).

    A long narrow valley at ``angle`` degrees to the first axis (rotated, so that per-coordinate step sizes
    cannot simply undo the conditioning): gradient descent zig-zags across it, momentum runs along it.

    Args:
        kappa: condition number ``L/mu`` (> 1); eigenvalues are log-spaced in ``[1, kappa]``.
        n: dimension (>= 2).
        angle: rotation of the valley, in degrees.
    """
    _check_dim(n, 2)
    if not kappa > 1:
        raise ValueError(f"kappa must be > 1, got {kappa}")
    a = ravine_matrix(kappa, n, angle)

    def f(x: Tensor) -> Tensor:
        return 0.5 * ((x @ a.to(x.dtype)) * x).sum(-1)

    # far along the valley and a little across it (for the default angle), in the plane the rotation acts on
    starts = []
    for first, last in ((-7.0, -4.5), (7.0, 3.0)):
        x = [0.0] * n
        x[0], x[n - 1] = first, last
        starts.append(tuple(x))
    default = kappa == 100.0 and n == 2 and angle == 30.0
    return Landscape(
        name="ravine" if default else f"ravine:kappa={kappa:g},n={n},angle={angle:g}",
        title=f"Ill-conditioned ravine (κ = {kappa:g})" + ("" if n == 2 else f" ({n}-D)"),
        dim=n,
        f=f,
        x0=tuple(starts),
        f_star=0.0,
        minimizers=((0.0,) * n,),
        domain=((-10.0, 10.0),) + ((-2.0, 2.0),) * (n - 2) + ((-6.0, 6.0),),
        illustrates="a narrow valley: gradient descent zig-zags across it, momentum runs along it",
        source="quadratic with condition number kappa; rates from Polyak (1964) and Nesterov (2018), 2.1.5, 2.2",
        steps=1000,
        params={"kappa": float(kappa), "n": n, "angle": float(angle)},
    )


def booth() -> Landscape:
    """Booth's function ``(x + 2y - 7)^2 + (2x + y - 5)^2``: a convex quadratic (kappa = 9), minimum (1, 3)."""

    def f(x: Tensor) -> Tensor:
        a, b = x[..., 0], x[..., 1]
        return (a + 2 * b - 7) ** 2 + (2 * a + b - 5) ** 2

    return Landscape(
        name="booth",
        title="Booth",
        dim=2,
        f=f,
        x0=((-6.0, -6.0), (8.0, -4.0)),
        f_star=0.0,
        minimizers=((1.0, 3.0),),
        domain=((-10.0, 10.0), (-10.0, 10.0)),
        illustrates="a mildly ill-conditioned (kappa = 9), rotated convex quadratic",
        source="Jamil & Yang, A literature survey of benchmark functions (2013), no. 24",
        steps=300,
    )


def _check_dim(n: int, low: int) -> None:
    if not isinstance(n, int) or n < low:
        raise ValueError(f"n must be an integer >= {low}, got {n!r}")
