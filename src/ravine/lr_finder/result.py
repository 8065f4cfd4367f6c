"""The result of a range test: a plain, JSON-able record of the curve, why it stopped, and the suggestions."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ravine.lr_finder import suggest
from ravine.lr_finder.settings import Sweep
from ravine.lr_finder.suggest import Suggestion

STOPS = {
    "completed": "ran every step",
    "diverged": "stopped: the smoothed loss rose above stop_factor x its best",
    "non-finite": "stopped: the loss was not finite",
}


@dataclass(frozen=True)
class LRFinderResult:
    """What :func:`ravine.lr_finder.find_lr` measured.

    Attributes:
        sweep: the settings it ran with.
        lrs: the rate of each step run.
        losses: the raw loss of each step (the batch's loss before its update).
        smoothed: the debiased exponential moving average of ``losses`` (NaN at a non-finite loss): what the
            stop rule watches.
        trend: the centred trend of ``losses`` the suggestion rules read (:func:`ravine.lr_finder.suggest.trend`).
        stop: ``completed``, ``diverged`` (the ratio rule) or ``non-finite``.
        suggestions: by rule name; rules that found nothing are absent.
        optimizer: the optimiser's class, as ``module.Name``.
        family: what kind of update it makes, from the state it keeps (:func:`ravine.lr_finder.suggest.family`).
        wall_s: seconds the sweep took.
    """

    sweep: Sweep
    lrs: tuple[float, ...]
    losses: tuple[float, ...]
    smoothed: tuple[float, ...]
    trend: tuple[float, ...]
    stop: str
    suggestions: dict[str, Suggestion]
    optimizer: str = ""
    family: str = "sgd"
    wall_s: float = 0.0

    @classmethod
    def build(
        cls,
        sweep: Sweep,
        lrs: list[float],
        losses: list[float],
        smoothed: list[float],
        stop: str,
        *,
        optimizer: str = "",
        family: str = "sgd",
        wall_s: float = 0.0,
    ) -> LRFinderResult:
        t = suggest.trend(losses, suggest.half_width(sweep.steps))
        found = suggest.suggest_all(lrs, t, sweep.first_kept, sweep.skip_end, family, sweep.budget, sweep.batch_size)
        return cls(sweep, tuple(lrs), tuple(losses), tuple(smoothed), tuple(t), stop, found, optimizer, family, wall_s)

    @property
    def diverged_at(self) -> int | None:
        """Index of the step at which the sweep stopped for divergence, or None if it ran every step."""
        return None if self.stop == "completed" else len(self.lrs) - 1

    @property
    def rule(self) -> str:
        return self.sweep.rule

    @property
    def suggestion(self) -> Suggestion:
        """The default rule's suggestion; ``ValueError`` (with the reason) if there is none."""
        s = self.suggestions.get(self.sweep.rule)
        if s is None:
            raise ValueError(f"no {self.sweep.rule!r} suggestion: {self.why_none()}")
        return s

    @property
    def lr(self) -> float:
        """The suggested learning rate (of the rule ``sweep.rule``)."""
        return self.suggestion.lr

    def why_none(self) -> str:
        n = len(self.lrs)
        if n < 3 or (self.stop != "completed" and n < suggest.MIN_POINTS + 1):
            return (
                f"the sweep stopped after {n} step(s) ({STOPS[self.stop]}) at lr {self.lrs[-1]:.3g}; "
                "lower start or raise stop_factor"
            )
        return "the loss never decreased over the sweep; widen the range (start, end) or use more steps"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able record (non-finite numbers as None)."""
        return {
            "sweep": self.sweep.to_dict(),
            "optimizer": self.optimizer,
            "family": self.family,
            "lrs": list(self.lrs),
            "losses": [_json(x) for x in self.losses],
            "smoothed": [_json(x) for x in self.smoothed],
            "trend": [_json(x) for x in self.trend],
            "stop": self.stop,
            "diverged_at": self.diverged_at,
            "suggestions": {k: s.to_dict() for k, s in self.suggestions.items()},
            "rule": self.sweep.rule,
            "lr": self.suggestions[self.sweep.rule].lr if self.sweep.rule in self.suggestions else None,
            "wall_s": self.wall_s,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LRFinderResult:
        nan = math.nan
        return cls(
            Sweep(**d["sweep"]),
            tuple(float(x) for x in d["lrs"]),
            tuple(nan if x is None else float(x) for x in d["losses"]),
            tuple(nan if x is None else float(x) for x in d["smoothed"]),
            tuple(nan if x is None else float(x) for x in d["trend"]),
            d["stop"],
            {k: Suggestion(**s) for k, s in d["suggestions"].items()},
            d.get("optimizer", ""),
            d.get("family", "sgd"),
            float(d.get("wall_s", 0.0)),
        )


def _json(x: float) -> float | None:
    return x if math.isfinite(x) else None
