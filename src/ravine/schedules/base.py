"""What every schedule is: a value object ``step -> float``, checked when built.

A schedule is evaluated at the number of steps already taken (0 before the first step). The closed-form schedules
are frozen dataclasses: equal by value, hashable, picklable and deep-copyable, so they can live in an optimiser's
parameter groups and travel in ``state_dict()``; resuming needs only the step count. The one exception is
:class:`ravine.schedules.ReduceOnPlateau`, which reacts to a metric and so keeps a small state of its own
(``stateful`` is True; see :meth:`Schedule.state_dict`).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable
from typing import Any


class Schedule:
    """Base class of ravine's schedules: ``schedule(step) -> float`` for a step count ``step >= 0``.

    Subclasses define :meth:`value` (the closed form, given a valid step) and, when the schedule becomes constant
    after a known step, :attr:`horizon`. Calling the schedule checks the step first.
    """

    def __call__(self, step: int) -> float:
        """The value at ``step`` (an int >= 0: the number of steps already taken)."""
        return self.value(check_step(step))

    def value(self, step: int) -> float:
        raise NotImplementedError

    @property
    def horizon(self) -> int | None:
        """The step from which the value no longer changes, or None if it changes forever (or on a metric)."""
        return None

    @property
    def stateful(self) -> bool:
        """True if the value depends on something besides the step (a metric), kept by :meth:`state_dict`."""
        return False

    def state_dict(self) -> dict[str, Any]:
        """What a stateful schedule must save to resume (plain numbers); empty for closed-form schedules."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        if state:
            raise ValueError(f"{self!r} keeps no state, got {sorted(state)}")


def check_step(step: Any) -> int:
    """``step`` as an int, or ``ValueError`` if it is not an integer >= 0."""
    if isinstance(step, bool):
        raise ValueError(f"step must be an integer >= 0, got {step!r}")
    try:
        k = operator.index(step)
    except TypeError:
        raise ValueError(f"step must be an integer >= 0, got {step!r}") from None
    if k < 0:
        raise ValueError(f"step must be an integer >= 0, got {k}")
    return k


def set_field(obj: object, name: str, value: object) -> None:
    """Store a checked, normalised argument (int -> float, list -> tuple) in a frozen dataclass, once, when built."""
    object.__setattr__(obj, name, value)


# -- argument checks: each names the argument and the allowed range ---------------------------------------------


def real(
    name: str,
    x: Any,
    low: float = -math.inf,
    *,
    low_open: bool = False,
    high: float = math.inf,
    high_open: bool = False,
) -> float:
    """``x`` as a finite float in ``[low, high]`` (open ends with ``low_open``, ``high_open``), else ``ValueError``."""
    if isinstance(x, bool) or (not isinstance(x, (int, float)) and not hasattr(x, "__float__")):
        raise ValueError(f"{name} must be a number, got {x!r}")
    if hasattr(x, "numel") and x.numel() != 1:
        raise ValueError(f"{name} must be a number, got a tensor of shape {tuple(x.shape)}")
    v = float(x)
    above = v > low if low_open else v >= low
    below = v < high if high_open else v <= high
    if not (math.isfinite(v) and above and below):
        left = "(" if low_open or low == -math.inf else "["
        right = ")" if high_open or high == math.inf else "]"
        raise ValueError(f"{name} must be in {left}{_fmt(low)}, {_fmt(high)}{right}, got {x!r}")
    return v


def integer(name: str, x: Any, low: int) -> int:
    """``x`` as an int >= ``low``, else ``ValueError``."""
    if isinstance(x, bool):
        raise ValueError(f"{name} must be an integer >= {low}, got {x!r}")
    try:
        k = operator.index(x)
    except TypeError:
        raise ValueError(f"{name} must be an integer >= {low}, got {x!r}") from None
    if k < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {k}")
    return k


def choice(name: str, x: Any, allowed: tuple[str, ...]) -> str:
    if x not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {x!r}")
    return x


def schedule(name: str, x: Any) -> Schedule:
    """``x`` if it is a ravine schedule (a lambda would not survive ``state_dict()``), else ``ValueError``."""
    if not isinstance(x, Schedule):
        raise ValueError(
            f"{name} must be a ravine schedule (a ravine.schedules object or a Schedule subclass), "
            f"got {type(x).__name__}; lambdas and closures cannot be saved with the optimiser"
        )
    return x


def _fmt(v: float) -> str:
    return "inf" if v == math.inf else "-inf" if v == -math.inf else f"{v:g}"


def values(schedule: Schedule, steps: int | Iterable[int]) -> list[float]:
    """The schedule at each step: ``range(steps)`` for an int, else the steps given.

    Example:
        >>> from ravine.schedules import cosine, values
        >>> values(cosine(1.0, total_steps=4), 5)
        [1.0, 0.8535533905932737, 0.5, 0.14644660940672627, 0.0]
    """
    it = range(integer("steps", steps, 0)) if not isinstance(steps, Iterable) else steps
    return [schedule(k) for k in it]
