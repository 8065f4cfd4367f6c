"""A landscape: a :class:`~ravine.problems.base.Problem` with what the lab needs to run, judge and draw it."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ravine.problems.base import Problem


@dataclass(frozen=True)
class Landmark:
    """A stationary point worth naming: where a run may end.

    Attributes:
        kind: ``"global minimum"``, ``"local minimum"`` or ``"saddle"``.
        point: its coordinates.
        value: f there.
    """

    kind: str
    point: tuple[float, ...]
    value: float

    @property
    def label(self) -> str:
        """``"global minimum (1, 1)"``: the kind and the point to 3 significant digits."""
        return f"{self.kind} ({', '.join(f'{v:.3g}' for v in self.point)})"


@dataclass(frozen=True)
class Landscape(Problem):
    """A test function for the lab: a :class:`Problem` whose ``f`` also evaluates a batch of points.

    A run *reaches the target* when ``f(x) <= target``: ``f_star + tol`` on landscapes bounded below, and the
    escape level on saddles, which are unbounded below (there, leaving the saddle is the success, and the lab
    stops judging a run when it escapes).

    Attributes (besides :class:`Problem`'s; ``domain`` is required here, it is the plotting box):
        title: the name to print (``"Ill-conditioned ravine (κ = 100)"``).
        steps: the step budget the lab uses by default.
        tol: the target gap ``f - f_star`` (landscapes bounded below).
        escape: the escape level (landscapes unbounded below; None otherwise).
        saddle_points: known saddle points, where plain gradient descent can stall.
        batched: ``f`` accepts any leading batch shape ``(..., dim)`` (else the lab vmaps it).
        contours: ``"log"`` (levels of ``f - f_star`` spaced in log) or ``"linear"``, for plots.
        params: the arguments the landscape was made with (``{"kappa": 100.0}``).
    """

    title: str = ""
    steps: int = 300
    tol: float = 1e-6
    escape: float | None = None
    saddle_points: Sequence[Sequence[float]] = ()
    batched: bool = True
    contours: str = "log"
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.domain is None or len(self.domain) != self.dim:
            raise ValueError(f"landscape {self.name!r} needs a domain box with {self.dim} (low, high) pairs")
        if (self.f_star is None) == (self.escape is None):
            raise ValueError(f"landscape {self.name!r} needs exactly one of f_star (bounded below) or escape")
        if self.steps <= 0 or self.tol <= 0:
            raise ValueError(f"landscape {self.name!r}: steps and tol must be > 0")
        if self.contours not in ("log", "linear"):
            raise ValueError(f"contours must be 'log' or 'linear', got {self.contours!r}")
        for x in self.x0:
            self.check_start(x)

    @classmethod
    def of(cls, problem: Problem, **extra: Any) -> Landscape:
        """A landscape from any :class:`Problem` (e.g. one of the MGH set), adding or replacing fields."""
        base = {f.name: getattr(problem, f.name) for f in dataclasses.fields(Problem)}
        return cls(**{**base, **extra})

    @property
    def unbounded(self) -> bool:
        """True for landscapes unbounded below (saddles), where the target is to escape."""
        return self.escape is not None

    @property
    def target(self) -> float:
        """The value a run must reach: ``f_star + tol``, or the escape level."""
        return self.escape if self.escape is not None else float(self.f_star) + self.tol

    @property
    def box(self) -> tuple[tuple[float, float], ...]:
        return tuple((float(lo), float(hi)) for lo, hi in self.domain)

    @property
    def lows(self) -> np.ndarray:
        return np.array([lo for lo, _ in self.box])

    @property
    def highs(self) -> np.ndarray:
        return np.array([hi for _, hi in self.box])

    @property
    def diagonal(self) -> float:
        """Length of the domain box's diagonal, the landscape's length scale."""
        return math.sqrt(sum((hi - lo) ** 2 for lo, hi in self.box))

    @property
    def reach_radius(self) -> float:
        """A run ends *at* a landmark when its final point is this close: 1% of the box diagonal."""
        return 0.01 * self.diagonal

    def values(self, x: Tensor) -> Tensor:
        """f at each point of ``x`` of shape ``(..., dim)``; returns shape ``(...)``."""
        if x.shape[-1] != self.dim:
            raise ValueError(f"{self.name} takes points of dimension {self.dim}, got shape {tuple(x.shape)}")
        if self.batched:
            return self.f(x)
        flat = x.reshape(-1, self.dim)
        return torch.func.vmap(self.f)(flat).reshape(x.shape[:-1])

    def surface(self, resolution: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """f on a regular grid over the domain box, for contour plots (2-D landscapes only).

        Returns:
            ``(xs, ys, z)``: the grid's coordinates (``resolution`` each) and ``z[i, j] = f(xs[j], ys[i])``.
        """
        if self.dim != 2:
            raise ValueError(f"a surface needs a 2-D landscape; {self.name} has dim {self.dim}")
        if resolution < 2:
            raise ValueError(f"resolution must be >= 2, got {resolution}")
        (x0, x1), (y0, y1) = self.box
        xs = torch.linspace(x0, x1, resolution, dtype=torch.float64)
        ys = torch.linspace(y0, y1, resolution, dtype=torch.float64)
        gy, gx = torch.meshgrid(ys, xs, indexing="ij")
        with torch.no_grad():
            z = self.values(torch.stack([gx, gy], dim=-1))
        return xs.numpy(), ys.numpy(), z.numpy()

    def escaped(self, values: np.ndarray, points: np.ndarray) -> np.ndarray:
        """Which entries have escaped: ``f <= escape`` at a point inside the box (always False when bounded)."""
        if self.escape is None:
            return np.zeros(np.shape(values), dtype=bool)
        with np.errstate(invalid="ignore"):
            inside = np.all((points >= self.lows) & (points <= self.highs), axis=-1)
            return (values <= self.escape) & inside

    def landmarks(self) -> list[Landmark]:
        """Global minima, then local minima, then saddle points."""
        marks = [Landmark("global minimum", _tuple(p), float(self.f_star)) for p in self.minimizers]
        marks += [Landmark("local minimum", _tuple(p), float(v)) for v, p in self.local_minima]
        for p in self.saddle_points:
            marks.append(Landmark("saddle", _tuple(p), float(self.values(torch.tensor(p, dtype=torch.float64)))))
        return marks

    def check_start(self, point: Sequence[float]) -> None:
        """Raise ``ValueError`` unless ``point`` has the right length and lies in the domain box."""
        if len(point) != self.dim:
            raise ValueError(f"start must have {self.dim} coordinates for {self.name}, got {len(point)}")
        outside = [
            f"x{i + 1}={v:g} not in [{lo:g}, {hi:g}]"
            for i, (v, (lo, hi)) in enumerate(zip(point, self.box, strict=True))
            if not lo <= v <= hi
        ]
        if outside:
            raise ValueError(f"start is outside the domain of {self.name}: {'; '.join(outside)}")

    def far_outside(self, point: Sequence[float]) -> bool:
        """True when ``point`` lies beyond the box widened by 10 box widths on every side: it has left by far."""
        return any(
            not lo - 10 * (hi - lo) <= v <= hi + 10 * (hi - lo) for v, (lo, hi) in zip(point, self.box, strict=True)
        )


def _tuple(p: Sequence[float]) -> tuple[float, ...]:
    return tuple(float(v) for v in p)


def polish(f: Callable[[Tensor], Tensor], x: Sequence[float], iters: int = 20) -> tuple[float, ...]:
    """Newton's method from a published approximation of a stationary point, to machine precision.

    Published minima of the test functions carry 4-6 digits; distances to the minimum are reported down to 1e-8
    and below, so the lab refines them: ``x <- x - H(x)^{-1} grad f(x)`` in float64 (Nocedal & Wright,
    *Numerical Optimization*, 2nd ed., section 3.3), which converges quadratically from that close.

    Args:
        f: the objective on a 1-D float64 tensor.
        x: the starting approximation.
        iters: at most this many Newton steps (stops when a step no longer changes x).

    Returns:
        The refined point.
    """
    p = torch.tensor(x, dtype=torch.float64)
    for _ in range(iters):
        g = torch.func.grad(f)(p)
        h = torch.func.hessian(f)(p)
        q = p - torch.linalg.solve(h, g)
        if torch.equal(q, p):
            break
        p = q
    return _tuple(p.tolist())
