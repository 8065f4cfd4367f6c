"""The one-cycle policy: the learning rate rises then falls over one cycle while the momentum moves inversely."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ravine.schedules import base
from ravine.schedules.base import Schedule, set_field


@dataclass(frozen=True)
class one_cycle(Schedule):
    """One-cycle learning rate, with torch's ``OneCycleLR`` arguments and phases (closed form, as torch's).

    Two phases (fastai's, torch's default): from ``max_lr / div_factor`` up to ``max_lr`` until step
    ``pct_start * T - 1``, then down to ``max_lr / (div_factor * final_div_factor)`` at step ``T - 1``; with
    ``three_phase`` the rise is mirrored back down to the initial value by step ``2 pct_start T - 2`` before the
    final annihilation (the paper's schedule). Within a phase at fraction p of it, ``anneal_strategy`` ``"cos"``
    gives ``end + (start - end) (1 + cos(pi p)) / 2`` and ``"linear"`` gives ``start + (end - start) p``.
    After step ``T - 1`` the value stays at its final value (torch raises past step T). The arithmetic is torch's,
    bit for bit, so the final value carries its rounding: within ~1e-16 ``max_lr`` of ``initial / final_div_factor``.

    The momentum cycles inversely, from ``max_momentum`` down to ``base_momentum`` at the peak and back up: that
    schedule is :attr:`momentum`, to pass as ``momentum=`` (SGD) or ``betas=(cycle.momentum, 0.999)`` (Adam), or
    as ``ScheduleLR(opt, cycle, momentum=cycle.momentum)`` for a torch optimiser.

    Args:
        max_lr: > 0, the peak learning rate.
        total_steps: T, the number of steps in the cycle.
        pct_start: in (0, 1), the fraction of the cycle spent rising (torch 0.3); the rising phase must last more
            than one step (``pct_start * T > 1``), and with ``three_phase`` the last one too
            (``2 pct_start T < T + 1``).
        anneal_strategy: ``"cos"`` (torch's default) or ``"linear"``.
        base_momentum: in [0, 1), the momentum at the peak learning rate (torch 0.85).
        max_momentum: in [0, 1), the momentum at the start and end of the cycle (torch 0.95).
        div_factor: > 0, initial learning rate = ``max_lr / div_factor`` (torch 25).
        final_div_factor: > 0, final learning rate = initial / ``final_div_factor`` (torch 1e4).
        three_phase: use the paper's three phases instead of fastai's two.

    Reference: Smith & Topin, "Super-Convergence: Very Fast Training of Neural Networks Using Large Learning
    Rates" (2019), section 3; Smith, "A disciplined approach to neural network hyper-parameters: Part 1" (2018),
    section 4.3 (cyclical momentum).

    Example:
        >>> from ravine.schedules import one_cycle
        >>> oc = one_cycle(max_lr=0.1, total_steps=100)
        >>> round(oc(0), 6), round(oc(29), 6), round(oc.momentum(29), 6)
        (0.004, 0.1, 0.85)
    """

    max_lr: float
    total_steps: int
    pct_start: float = 0.3
    anneal_strategy: str = "cos"
    base_momentum: float = 0.85
    max_momentum: float = 0.95
    div_factor: float = 25.0
    final_div_factor: float = 1e4
    three_phase: bool = False

    def __post_init__(self) -> None:
        set_field(self, "max_lr", base.real("max_lr", self.max_lr, 0.0, low_open=True))
        set_field(self, "total_steps", base.integer("total_steps", self.total_steps, 2))
        set_field(self, "pct_start", base.real("pct_start", self.pct_start, 0.0, low_open=True, high=1.0))
        base.choice("anneal_strategy", self.anneal_strategy, ("cos", "linear"))
        for name in ("base_momentum", "max_momentum"):
            set_field(self, name, base.real(name, getattr(self, name), 0.0, high=1.0, high_open=True))
        set_field(self, "div_factor", base.real("div_factor", self.div_factor, 0.0, low_open=True))
        set_field(self, "final_div_factor", base.real("final_div_factor", self.final_div_factor, 0.0, low_open=True))
        if not isinstance(self.three_phase, bool):
            raise ValueError(f"three_phase must be True or False, got {self.three_phase!r}")
        T, p = self.total_steps, self.pct_start
        if not p * T > 1:
            raise ValueError(
                f"pct_start * total_steps must be > 1 so that the rising phase lasts more than one step; "
                f"got pct_start={p}, total_steps={T}"
            )
        last_start = 2 * p * T - 2 if self.three_phase else p * T - 1
        if not last_start < T - 1:
            raise ValueError(
                f"pct_start={p} leaves no steps for the last phase of a {T}-step cycle; "
                f"use pct_start < {'(T + 1) / (2 T)' if self.three_phase else '1'}"
            )

    def _phases(self) -> list[tuple[float, float, float, float, float]]:
        """(end step, start lr, end lr, start momentum, end momentum) of each phase, computed as torch does."""
        initial = self.max_lr / self.div_factor
        final = initial / self.final_div_factor
        T, p = self.total_steps, self.pct_start
        hi, lo = self.max_momentum, self.base_momentum
        if self.three_phase:
            return [
                (float(p * T) - 1, initial, self.max_lr, hi, lo),
                (float(2 * p * T) - 2, self.max_lr, initial, lo, hi),
                (T - 1, initial, final, hi, hi),
            ]
        return [(float(p * T) - 1, initial, self.max_lr, hi, lo), (T - 1, self.max_lr, final, lo, hi)]

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def _at(self, step: int, momentum: bool) -> float:
        step = min(step, self.total_steps - 1)
        phases = self._phases()
        start_step = 0.0
        for i, (end_step, lr0, lr1, m0, m1) in enumerate(phases):
            if step <= end_step or i == len(phases) - 1:
                pct = (step - start_step) / (end_step - start_step)
                return self._anneal(m0, m1, pct) if momentum else self._anneal(lr0, lr1, pct)
            start_step = end_step
        raise AssertionError("unreachable: the last phase always matches")

    def value(self, step: int) -> float:
        return self._at(step, momentum=False)

    @property
    def horizon(self) -> int:
        return self.total_steps - 1

    @property
    def momentum(self) -> cycle_momentum:
        """The momentum (or beta1) schedule that goes with this learning-rate cycle."""
        return cycle_momentum(self)


@dataclass(frozen=True)
class cycle_momentum(Schedule):
    """The momentum of a :class:`one_cycle`: ``max_momentum`` -> ``base_momentum`` at the peak -> back up.

    Built by ``one_cycle(...).momentum``.
    """

    cycle: one_cycle

    def __post_init__(self) -> None:
        if not isinstance(self.cycle, one_cycle):
            raise ValueError(f"cycle must be a one_cycle schedule, got {type(self.cycle).__name__}")

    def value(self, step: int) -> float:
        return self.cycle._at(step, momentum=True)

    @property
    def horizon(self) -> int:
        return self.cycle.total_steps - 1
