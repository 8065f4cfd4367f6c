"""Where gradients vanish without a minimum nearby: saddle points and plateaus.

At a strict saddle, gradient descent started exactly on the stable manifold converges to the saddle; from any
other start (or with gradient noise) it escapes along the direction of negative curvature (Lee et al., "Gradient
descent only converges to minimizers", COLT 2016; Ge et al., "Escaping from saddle points", COLT 2015). On a
plateau the gradient is tiny, so a step proportional to it barely moves, while methods that normalise the step
(Adam, RMSProp, Adagrad) or accumulate it (momentum) cross the flat region.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ravine.lab.landscapes.base import Landscape


def saddle() -> Landscape:
    """The saddle ``f(x, y) = x^2 - y^2``: stable along x, unstable along y, unbounded below.

    Gradient descent multiplies x by ``1 - 2 lr`` and y by ``1 + 2 lr`` each step; started on the x-axis it
    converges to the saddle (0, 0) and stays there.
    """

    def f(x: Tensor) -> Tensor:
        return x[..., 0] ** 2 - x[..., 1] ** 2

    return Landscape(
        name="saddle",
        title="Saddle  x² − y²",
        dim=2,
        f=f,
        x0=((1.5, 0.05), (-1.2, -0.1)),
        f_star=None,
        escape=-1.0,
        saddle_points=((0.0, 0.0),),
        domain=((-2.0, 2.0), (-2.0, 2.0)),
        illustrates="a saddle point: descent slows near it and escapes along y, unless started exactly on the x-axis",
        source="Lee et al., Gradient descent only converges to minimizers (COLT 2016)",
        steps=100,
        contours="linear",
    )


def monkey_saddle() -> Landscape:
    """The monkey saddle ``f(x, y) = x^3 - 3 x y^2``: a degenerate saddle (zero Hessian) with three valleys."""

    def f(x: Tensor) -> Tensor:
        a, b = x[..., 0], x[..., 1]
        return a**3 - 3 * a * b**2

    return Landscape(
        name="monkey-saddle",
        title="Monkey saddle  x³ − 3xy²",
        dim=2,
        f=f,
        x0=((1.0, 0.15), (0.3, -0.5)),
        f_star=None,
        escape=-1.0,
        saddle_points=((0.0, 0.0),),
        domain=((-1.5, 1.5), (-1.5, 1.5)),
        illustrates="a degenerate saddle: the gradient vanishes to second order, so descent crawls near it",
        source="a classical degenerate critical point (e.g. Anandkumar & Ge, Efficient approaches for escaping "
        "higher order saddle points, COLT 2016)",
        steps=150,
        contours="linear",
    )


def plateau(n: int = 2, width: float = 1.0) -> Landscape:
    """A plateau with a well: ``f(x) = 1 - exp(-||x||^2 / (2 width^2))``, minimum 0 at the origin.

    From the standard start (distance 4.5 from the well, width 1) the gradient is about 2e-4; the curvature
    at the bottom is ``1/width^2``, so gradient descent may not take steps above ``2 width^2``.
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    if not width > 0:
        raise ValueError(f"width must be > 0, got {width}")

    def f(x: Tensor) -> Tensor:
        return 1.0 - torch.exp(-(x * x).sum(-1) / (2.0 * width**2))

    # deep on the plateau (4.5 widths from the well, gradient ~2e-4) and nearer its edge (3.5 widths, ~8e-3)
    if n == 2:
        starts = ((2.7 * width, 3.6 * width), (-2.8 * width, 2.1 * width))
    else:
        c = 4.5 * width / n**0.5
        starts = ((c,) * n, tuple(c * (-1) ** i for i in range(n)))
    default = n == 2 and width == 1.0
    return Landscape(
        name="plateau" if default else f"plateau:n={n},width={width:g}",
        title="Plateau with a well" + ("" if n == 2 else f" ({n}-D)"),
        dim=n,
        f=f,
        x0=starts,
        f_star=0.0,
        minimizers=((0.0,) * n,),
        domain=((-5.0 * width, 5.0 * width),) * n,
        illustrates="a flat region with tiny gradients before a well: plain gradient steps barely move",
        source="Gaussian well; plateaus as in Dauphin et al., Identifying and attacking the saddle point problem "
        "(NeurIPS 2014)",
        steps=300,
        contours="linear",
        params={"n": n, "width": float(width)},
    )
