"""The common shape of a test problem: an objective in torch with its standard start and known minima."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor


@dataclass(frozen=True)
class Problem:
    """An unconstrained minimisation problem ``min_x f(x)``, x in R^n.

    Attributes:
        name: short identifier (``"rosenbrock"``).
        dim: n.
        f: the objective; takes a 1-D tensor of length n (any float dtype) and returns a 0-dim tensor,
            differentiable by autograd.
        x0: the standard starting point(s) from the problem's source.
        f_star: the known minimum value (None if the source gives none).
        minimizers: known minimisers (possibly several, possibly empty).
        domain: per-coordinate (low, high) box used for plots and "left the domain" checks (None: unbounded).
        illustrates: one sentence on what the problem shows.
        source: where the definition, start and minimum come from.
        local_minima: known non-global stationary points a method may stop at (value and location), reported
            rather than hidden.
        residuals: for a least-squares problem, r(x) with f(x) = sum_i r_i(x)^2 (None otherwise); solvers that
            use the Jacobian (Gauss-Newton, scipy.optimize.least_squares) take it from here.
    """

    name: str
    dim: int
    f: Callable[[Tensor], Tensor]
    x0: Sequence[Sequence[float]]
    f_star: float | None
    minimizers: Sequence[Sequence[float]] = ()
    domain: Sequence[tuple[float, float]] | None = None
    illustrates: str = ""
    source: str = ""
    local_minima: Sequence[tuple[float, Sequence[float]]] = field(default_factory=tuple)
    residuals: Callable[[Tensor], Tensor] | None = None

    def __call__(self, x: Tensor) -> Tensor:
        if x.dim() != 1 or x.shape[0] != self.dim:
            raise ValueError(f"{self.name} takes a vector of length {self.dim}, got shape {tuple(x.shape)}")
        return self.f(x)

    def start(self, i: int = 0, dtype: torch.dtype = torch.float64) -> Tensor:
        """The i-th standard starting point as a fresh tensor."""
        if not 0 <= i < len(self.x0):
            raise ValueError(f"start index must be in [0, {len(self.x0)}) for {self.name}, got {i}")
        return torch.tensor(self.x0[i], dtype=dtype)
