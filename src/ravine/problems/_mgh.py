"""What every Moré-Garbow-Hillstrom problem shares: f = sum of squared residuals, and the citation."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from ravine.problems.base import Problem

PAPER = 'Moré, Garbow & Hillstrom, "Testing Unconstrained Optimization Software", ACM TOMS 7(1):17-41, 1981'


def sum_of_squares(residuals: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    """``f(x) = sum_i r_i(x)^2``, the form of every problem in the collection (its section 3)."""

    def f(x: Tensor) -> Tensor:
        r = residuals(x)
        return torch.dot(r, r)

    return f


def problem(
    number: int,
    name: str,
    residuals: Callable[[Tensor], Tensor],
    x0: Sequence[float],
    f_star: float | None,
    *,
    minimizers: Sequence[Sequence[float]] = (),
    local_minima: Sequence[tuple[float, Sequence[float]]] = (),
    domain: Sequence[tuple[float, float]] | None = None,
    illustrates: str = "",
    note: str = "",
) -> Problem:
    """A :class:`Problem` for MGH problem ``number`` with its standard start ``x0`` and the paper's ``f_star``.

    ``note`` says where a value comes from when it is not the paper (a minimiser from later literature, a
    correction of a misprint); it is appended to ``source``.
    """
    source = f"{PAPER}, problem {number}" + (f"; {note}" if note else "")
    return Problem(
        name=name,
        dim=len(x0),
        f=sum_of_squares(residuals),
        x0=(tuple(float(v) for v in x0),),
        f_star=f_star,
        minimizers=tuple(tuple(float(v) for v in m) for m in minimizers),
        domain=tuple(domain) if domain is not None else None,
        illustrates=illustrates,
        source=source,
        local_minima=tuple((float(v), tuple(float(c) for c in x)) for v, x in local_minima),
        residuals=residuals,
    )


def index(x: Tensor, m: int) -> Tensor:
    """``i = 1, ..., m`` in the dtype and device of ``x`` (the papers index residuals from 1)."""
    return torch.arange(1, m + 1, dtype=x.dtype, device=x.device)


def check_n(name: str, n: int, low: int, multiple: int = 1) -> None:
    """Refuse a size the problem is not defined for, naming the argument and what it must be."""
    if isinstance(n, bool) or not isinstance(n, int) or n < low or n % multiple:
        what = f"an integer >= {low}" + (f" and a multiple of {multiple}" if multiple > 1 else "")
        raise ValueError(f"n must be {what} for {name}, got {n!r}")
