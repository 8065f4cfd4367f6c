"""Fair comparison: each optimiser gets the learning rate that suits it, chosen by one stated criterion.

Comparing optimisers at one shared learning rate measures the learning rate, not the optimiser (Wilson et al.,
"The marginal value of adaptive gradient methods", NeurIPS 2017; Choi et al., "On empirical comparisons of
optimizers for deep learning", 2019). The lab runs every learning rate of a log grid from every start and
keeps the best by :data:`CRITERION`; the same criterion ranks the optimisers against each other.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ravine.lab.outcomes import Outcome

CRITERION = (
    "most starts reaching the target; then fewest diverged; then fewest steps to the target, summed over the "
    "starts; then the lowest mean final value; ties go to the smaller learning rate"
)


def log_grid(low: float, high: float, per_decade: int = 3) -> tuple[float, ...]:
    """Learning rates from ``low`` to ``high``: 1-2-5 per decade (``per_decade=3``) or evenly spaced in log.

    Args:
        low: smallest value (> 0).
        high: largest value (>= low).
        per_decade: values per factor of ten; 3 gives the readable 1, 2, 5 sequence.

    Returns:
        The increasing grid, including ``low`` and ``high`` when they fall on it.
    """
    if not 0 < low <= high or not math.isfinite(high):
        raise ValueError(f"grid bounds must satisfy 0 < low <= high < inf, got {low}, {high}")
    if per_decade < 1:
        raise ValueError(f"per_decade must be >= 1, got {per_decade}")
    if per_decade == 3:
        mantissas = (1.0, 2.0, 5.0)
    else:
        mantissas = tuple(10 ** (k / per_decade) for k in range(per_decade))
    out = []
    for e in range(math.floor(math.log10(low)) - 1, math.ceil(math.log10(high)) + 1):
        for m in mantissas:
            v = float(f"{m * 10.0**e:.6g}")
            if low * (1 - 1e-9) <= v <= high * (1 + 1e-9):
                out.append(v)
    return tuple(out)


DEFAULT_GRID = log_grid(1e-4, 10.0)


@dataclass(frozen=True)
class Score:
    """How well one learning rate did over the starts; smaller :attr:`key` is better.

    Attributes:
        reached: starts that reached the target without diverging.
        diverged: starts that diverged.
        steps: steps to the target summed over the starts that reached it.
        mean_final: mean final value over the starts (inf if any is not finite).
    """

    reached: int
    diverged: int
    steps: int
    mean_final: float

    @property
    def key(self) -> tuple[int, int, int, float]:
        return (-self.reached, self.diverged, self.steps, self.mean_final)


def score(outcomes: Sequence[Outcome]) -> Score:
    """The :class:`Score` of the runs of one learning rate (one outcome per start)."""
    finals = [o.final_value for o in outcomes]
    mean = math.inf if any(v is None for v in finals) else sum(finals) / len(finals)
    return Score(
        reached=sum(o.reached for o in outcomes),
        diverged=sum(o.diverged for o in outcomes),
        steps=sum(o.steps_to_target for o in outcomes if o.reached),
        mean_final=mean,
    )


def choose(lrs: Sequence[float], scores: Sequence[Score]) -> int:
    """Index of the best learning rate by :data:`CRITERION`."""
    if len(lrs) != len(scores) or not lrs:
        raise ValueError(f"need one score per learning rate, got {len(lrs)} rates and {len(scores)} scores")
    return min(range(len(lrs)), key=lambda i: (scores[i].key, lrs[i]))
