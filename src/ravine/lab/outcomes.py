"""What a run achieved, measured from its trajectory: the outcome, and the learning-rate effect it shows.

Everything here is read off the recorded path and values, never off the inputs: a learning rate is called "too
small" because the run did not get there, not because the number was small.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ravine.lab.landscapes.base import Landscape
from ravine.lab.runs import Trajectory

#: Learning-rate effects, most severe first.
EFFECTS = ("diverging", "oscillating", "right", "stuck", "too small")

#: A run oscillates when at least this fraction of its consecutive steps turn back (negative inner product).
OSCILLATION_FRACTION = 0.5

#: ... out of at least this many step pairs (two or three turns are a path's shape, not an oscillation).
MIN_PAIRS = 4


@dataclass(frozen=True)
class Outcome:
    """The result of one run.

    Attributes:
        final_value: f at the last judged point (None if not finite).
        gap: ``final_value - f_star`` (None on landscapes unbounded below, or if not finite).
        distance: Euclidean distance from the last judged point to the nearest known minimum (None if none known
            or not finite).
        minimum: label of the landmark (global or local minimum, or saddle) the run ended at, i.e. within the
            landscape's ``reach_radius``; None if it ended at none.
        steps_to_target: the step from which ``f <= landscape.target`` holds to the end of the run (None if it
            does not end there); on landscapes unbounded below, the first step that escapes inside the box.
        diverged: the run produced a non-finite value, or its last judged point left the domain by far (beyond
            10 box widths).
        judged_steps: steps judged: all of them, except on landscapes unbounded below, where judging stops when
            the run escapes (reaches the target).
        reversals: fraction of consecutive step pairs that turn back, counted until the target is reached, or over
            the second half of a run that does not reach it.
        effect: the learning-rate effect the run shows, one of :data:`EFFECTS`.
    """

    final_value: float | None
    gap: float | None
    distance: float | None
    minimum: str | None
    steps_to_target: int | None
    diverged: bool
    judged_steps: int
    reversals: float
    effect: str

    @property
    def reached(self) -> bool:
        """Reached the target and did not diverge."""
        return self.steps_to_target is not None and not self.diverged

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "reached": self.reached}


def judge(landscape: Landscape, trajectory: Trajectory) -> Outcome:
    """Measure the outcome of ``trajectory`` on ``landscape``.

    Definitions (stated once, used by the tuning criterion, the tables and the figures):
    a run reaches the target at the step from which ``f <= landscape.target`` holds until its last step (a run
    that gets there and leaves again has not reached it). On landscapes unbounded below the target is an escape:
    ``f <= escape`` at a point inside the plotting box (a jump far out of the box is no escape), and the run is
    judged up to that step. Diverged means a non-finite value, or a last judged point beyond 10 box widths from
    the domain. The minimum reached is the nearest landmark within 1% of the box diagonal.

    Args:
        landscape: the landscape the run was on.
        trajectory: the recorded run.

    Returns:
        The :class:`Outcome`.
    """
    values, path = trajectory.values, trajectory.path
    if landscape.unbounded:  # an escape counts inside the plotting box; the run ended there
        hits = np.flatnonzero(landscape.escaped(values, path))
        end = int(hits[0]) if hits.size else len(values) - 1
        arrived = int(hits[0]) if hits.size else None
    else:
        end = len(values) - 1
        with np.errstate(invalid="ignore"):
            arrived = _stays_from(values <= landscape.target)
    point, value = path[end], float(values[end])
    finite = bool(np.all(np.isfinite(values[: end + 1])) and np.all(np.isfinite(point)))
    diverged = not finite or landscape.far_outside(point.tolist())
    distance, minimum = _nearest(landscape, point) if finite else (None, None)
    gap = value - landscape.f_star if (finite and landscape.f_star is not None) else None
    # how it approached the target if it got there, else what it was doing over the second half of the run
    window = path[: arrived + 1] if arrived is not None else path[end // 2 : end + 1]
    reversals = _reversal_fraction(window, landscape.diagonal)
    steps_to_target = arrived
    return Outcome(
        final_value=value if finite else None,
        gap=gap,
        distance=distance,
        minimum=minimum,
        steps_to_target=steps_to_target,
        diverged=diverged,
        judged_steps=end,
        reversals=reversals,
        effect=_effect(diverged, reversals, steps_to_target is not None, minimum),
    )


def _stays_from(below: np.ndarray) -> int | None:
    """The first index from which ``below`` is True to the end, or None if its last entry is False."""
    if not below[-1]:
        return None
    above = np.flatnonzero(~below)
    return int(above[-1]) + 1 if above.size else 0


def _nearest(landscape: Landscape, point: np.ndarray) -> tuple[float | None, str | None]:
    """Distance to the nearest known minimum, and the label of the landmark the point sits at (if any)."""
    marks = landscape.landmarks()
    if not marks:
        return None, None
    with np.errstate(over="ignore"):
        dists = [float(np.linalg.norm(point - np.asarray(m.point))) for m in marks]
    minima = [d for d, m in zip(dists, marks, strict=True) if m.kind != "saddle"]
    i = int(np.argmin(dists))
    at = marks[i].label if dists[i] <= landscape.reach_radius else None
    return (min(minima) if minima else None), at


def _reversal_fraction(path: np.ndarray, scale: float) -> float:
    """Fraction of consecutive steps ``(d_t, d_{t+1})`` with ``<d_t, d_{t+1}> < 0``, over steps longer than
    ``1e-9 * scale`` (shorter ones are rounding, not motion); 0 when fewer than MIN_PAIRS pairs count."""
    with np.errstate(over="ignore", invalid="ignore"):
        d = np.diff(path, axis=0)
        moving = np.linalg.norm(d, axis=1) > 1e-9 * scale
        pairs = moving[:-1] & moving[1:]
        if pairs.sum() < MIN_PAIRS:
            return 0.0
        dots = np.einsum("ij,ij->i", d[:-1], d[1:])
    return float(np.mean(dots[pairs] < 0))


def _effect(diverged: bool, reversals: float, reached: bool, minimum: str | None) -> str:
    if diverged:
        return "diverging"
    if reversals >= OSCILLATION_FRACTION:
        return "oscillating"
    if reached:
        return "right"
    if minimum is not None and not minimum.startswith("global"):
        return "stuck"
    return "too small"
