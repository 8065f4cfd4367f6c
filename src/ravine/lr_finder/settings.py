"""What one LR range test does: the sweep of learning rates, its smoothing, when it stops, which rule suggests.

``Sweep`` is the one typed object that travels from the command line (or :func:`ravine.lr_finder.find_lr`'s
keyword arguments) down to the loop; it is validated here, once.

The learning rate of step ``i`` (``i = 0 .. steps - 1``) is

* ``exp``:    ``lr_i = start * (end / start) ** (i / (steps - 1))`` (Smith 2017's range test on a log scale;
  fastai's ``lr_find`` and torch-lr-finder's ``step_mode="exp"``),
* ``linear``: ``lr_i = start + (end - start) * i / (steps - 1)`` (Smith 2017, section 3.3),

so the first step runs at ``start`` and the last at ``end``, as in torch-lr-finder (fastai stops one step short
of ``end``).

References: L. N. Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017, section 3.3.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

from ravine.lr_finder import suggest

Mode = Literal["exp", "linear"]
MODES: tuple[str, ...] = ("exp", "linear")


@dataclass(frozen=True)
class Sweep:
    """The settings of one range test (defaults: fastai's ``lr_find``).

    Attributes:
        start: learning rate of the first step, finite and > 0.
        end: learning rate of the last step, finite and > ``start``.
        steps: number of steps (one batch each) if the loss does not diverge first, an integer >= 2.
        mode: ``"exp"`` (log-spaced rates) or ``"linear"``.
        smooth: ``beta`` of the debiased exponential moving average of the loss, in [0, 1); 0 keeps the raw loss.
        stop_factor: stop once the smoothed loss exceeds ``stop_factor`` times the best smoothed loss so far
            (finite, > 1; ``None`` never stops early on the ratio). A non-finite loss always stops the sweep.
        skip_start: points left out at the start before suggesting (``None``: ``steps // 10``, as fastai).
        skip_end: points left out at the end before suggesting (fastai: 5, the steepest part of a blow-up).
        rule: the suggestion rule whose rate :attr:`LRFinderResult.lr` returns (see :mod:`.suggest`).
        budget: the number of optimiser steps the run you tune for will take, >= 1 (``None``:
            :data:`ravine.lr_finder.suggest.REFERENCE_STEPS`); the ``calibrated`` rule scales with it.
        batch_size: the examples per step of that run, >= 1 (``None``:
            :data:`ravine.lr_finder.suggest.REFERENCE_BATCH`); the ``calibrated`` rule scales SGD's rate with it.
    """

    start: float = 1e-7
    end: float = 10.0
    steps: int = 100
    mode: Mode = "exp"
    smooth: float = 0.98
    stop_factor: float | None = 4.0
    skip_start: int | None = None
    skip_end: int = 5
    rule: str = suggest.DEFAULT_RULE
    budget: int | None = None
    batch_size: int | None = None

    def __post_init__(self) -> None:
        _finite_positive("start", self.start)
        _finite_positive("end", self.end)
        if not self.start < self.end:
            raise ValueError(f"start must be < end, got start={self.start:g}, end={self.end:g}")
        _integer("steps", self.steps, 2)
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if not (_real(self.smooth) and 0.0 <= self.smooth < 1.0):
            raise ValueError(f"smooth must be a number in [0, 1), got {self.smooth!r}")
        stop = self.stop_factor
        # inf would mean "never stop on the ratio", which None already says; it would also make the settings
        # unwritable as JSON (results.json, the sweep store), so it is refused here rather than after the sweep
        if stop is not None and not (_real(stop) and stop > 1.0):
            raise ValueError(
                f"stop_factor must be a finite number > 1 (or None: no ratio stop), got {self.stop_factor!r}"
            )
        if self.skip_start is not None:
            _integer("skip_start", self.skip_start, 0)
        _integer("skip_end", self.skip_end, 0)
        if self.budget is not None:
            _integer("budget", self.budget, 1)
        if self.batch_size is not None:
            _integer("batch_size", self.batch_size, 1)
        if self.rule not in suggest.RULES:
            raise ValueError(f"rule must be one of {', '.join(suggest.RULES)}, got {self.rule!r}")
        for name in ("start", "end", "smooth"):
            object.__setattr__(self, name, float(getattr(self, name)))
        if self.stop_factor is not None:
            object.__setattr__(self, "stop_factor", float(self.stop_factor))

    @property
    def first_kept(self) -> int:
        """Index of the first point the suggestions look at."""
        return self.steps // 10 if self.skip_start is None else self.skip_start

    def lr(self, i: int) -> float:
        """The learning rate of step ``i`` (see the module docstring)."""
        r = i / (self.steps - 1)
        if self.mode == "exp":
            return self.start * (self.end / self.start) ** r
        return self.start + r * (self.end - self.start)

    def lrs(self) -> list[float]:
        """Every step's learning rate."""
        return [self.lr(i) for i in range(self.steps)]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _real(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _finite_positive(name: str, v: Any) -> None:
    if not (_real(v) and v > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {v!r}")


def _integer(name: str, v: Any, low: int) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or v < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")
