"""Schedules made of schedules: a linear warm-up into any schedule, and schedules joined one after another.

Each part counts its own steps from 0, as optax's ``join_schedules`` and torch's ``SequentialLR`` do, so
``warmup(cosine(lr, T), W)`` rises for W steps and then decays over the next T: a run of ``W + T`` steps.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ravine.schedules import base
from ravine.schedules.base import Schedule, set_field


@dataclass(frozen=True)
class warmup(Schedule):
    """Linear warm-up into ``schedule``: from ``start_factor * schedule(0)`` up to ``schedule(0)`` in ``steps``.

    ``lr(k) = schedule(0) (f + (1 - f) k / W)`` for k < W;  ``lr(k) = schedule(k - W)`` from k = W on,
    with W = ``steps`` and f = ``start_factor`` (torch: ``SequentialLR([LinearLR(f, 1, W), ...], [W])``).

    Args:
        schedule: the schedule that starts once the warm-up is over.
        steps: W >= 0 warm-up steps (0: no warm-up).
        start_factor: f in [0, 1], the fraction of ``schedule(0)`` at step 0 (0: the first step does not move
            the parameters, though it does update an optimiser's moments).

    Reference: Goyal et al., "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour" (2017), section 2.2
    (gradual warm-up).

    Example:
        >>> from ravine.schedules import cosine, warmup
        >>> s = warmup(cosine(1.0, total_steps=100), steps=10)
        >>> s(0), s(5), s(10), s(110)
        (0.0, 0.5, 1.0, 0.0)
    """

    schedule: Schedule
    steps: int
    start_factor: float = 0.0

    def __post_init__(self) -> None:
        base.schedule("schedule", self.schedule)
        set_field(self, "steps", base.integer("steps", self.steps, 0))
        set_field(self, "start_factor", base.real("start_factor", self.start_factor, 0.0, high=1.0))

    def value(self, step: int) -> float:
        if step >= self.steps:
            return self.schedule.value(step - self.steps)
        f = self.start_factor
        return self.schedule.value(0) * (f + (1.0 - f) * step / self.steps)

    @property
    def horizon(self) -> int | None:
        h = self.schedule.horizon
        return None if h is None else self.steps + h

    @property
    def stateful(self) -> bool:
        return self.schedule.stateful

    def state_dict(self) -> dict[str, Any]:
        return self.schedule.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.schedule.load_state_dict(state)


@dataclass(frozen=True)
class join(Schedule):
    """Schedules one after another: ``schedules[i]`` runs from ``boundaries[i - 1]``, counting its steps from 0.

    ``lr(k) = schedules[i](k - b_i)`` where i is the number of boundaries <= k and ``b_i`` the last of them
    (``b_0 = 0``); optax's ``join_schedules``, torch's ``SequentialLR`` (closed form).

    Args:
        schedules: one or more schedules.
        boundaries: ``len(schedules) - 1`` strictly increasing steps >= 1.

    Example:
        >>> from ravine.schedules import constant, cosine, join, linear
        >>> s = join([linear(0.0, 1.0, 10), constant(1.0), cosine(1.0, 50)], boundaries=[10, 100])
        >>> s(5), s(50), s(100), s(150)
        (0.5, 1.0, 1.0, 0.0)
    """

    schedules: Sequence[Schedule]
    boundaries: Sequence[int]

    def __post_init__(self) -> None:
        if isinstance(self.schedules, Schedule) or not isinstance(self.schedules, Sequence) or not self.schedules:
            raise ValueError(f"schedules must be a non-empty sequence of schedules, got {self.schedules!r}")
        parts = tuple(base.schedule(f"schedules[{i}]", s) for i, s in enumerate(self.schedules))
        if isinstance(self.boundaries, (str, bytes)) or not isinstance(self.boundaries, Sequence):
            raise ValueError(f"boundaries must be a sequence of steps, got {self.boundaries!r}")
        bs = tuple(base.integer(f"boundaries[{i}]", b, 1) for i, b in enumerate(self.boundaries))
        if len(bs) != len(parts) - 1:
            raise ValueError(
                f"boundaries must have one entry fewer than schedules ({len(parts) - 1}), got {len(bs)}: {list(bs)}"
            )
        for i in range(1, len(bs)):
            if bs[i] <= bs[i - 1]:
                raise ValueError(f"boundaries must be strictly increasing, got {list(bs)}")
        set_field(self, "schedules", parts)
        set_field(self, "boundaries", bs)

    def value(self, step: int) -> float:
        i = bisect.bisect_right(self.boundaries, step)
        start = self.boundaries[i - 1] if i else 0
        return self.schedules[i].value(step - start)

    @property
    def horizon(self) -> int | None:
        h = self.schedules[-1].horizon
        if h is None:
            return None
        return h + (self.boundaries[-1] if self.boundaries else 0)

    @property
    def stateful(self) -> bool:
        return any(s.stateful for s in self.schedules)

    def state_dict(self) -> dict[str, Any]:
        return {str(i): s.state_dict() for i, s in enumerate(self.schedules) if s.stateful}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        expected = {str(i) for i, s in enumerate(self.schedules) if s.stateful}
        if set(state) != expected:
            raise ValueError(f"state for {self!r} must have the keys {sorted(expected)}, got {sorted(state)}")
        for k, v in state.items():
            self.schedules[int(k)].load_state_dict(v)
