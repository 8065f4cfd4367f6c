"""Suggestion rules: from a range test's curve to a learning rate, each rule a small function with its reason.

Every rule sees the part of the curve that :func:`window` keeps -- the smoothed losses after the first
``skip_start`` points and before the last ``skip_end`` (fastai's trimming: the first points barely move, the last
are the blow-up) -- and returns a :class:`Suggestion`, or None where the curve gives it nothing to go on.

* ``steepest`` (fastai ``steep``): the rate where the loss falls fastest per decade, the left end of the
  steepest forward difference ``(s_{k+1} - s_k) / (ln lr_{k+1} - ln lr_k)``.
* ``valley`` (fastai ``valley``): the longest strictly decreasing run of points (a longest decreasing
  subsequence, ending at its last point and spanning its length back); the rate at the first point plus
  ``floor(n/3) + floor(n/6)`` of its ``n`` intervals, about halfway down.
* ``minimum/10`` (fastai ``minimum``; fastai v1's advice): a tenth of the rate at the lowest smoothed loss.
* ``edge``: the largest rate before the loss rises: the rate at the lowest smoothed loss, the end of the
  descent -- an upper bound, not a rate to train at.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Suggestion:
    """A suggested learning rate.

    Attributes:
        name: the rule's name (``valley``).
        lr: the suggested rate.
        index: the sweep step whose rate is closest (on a log scale) to ``lr``, where the plot marks it.
        loss: the smoothed loss at ``index``.
        rule: how the rule got there, in words, with the numbers of this curve.
    """

    name: str
    lr: float
    index: int
    loss: float
    rule: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Curve:
    """The kept part of a sweep: ``lrs[lo:hi]`` and ``smoothed[lo:hi]`` of the full curve, as arrays."""

    lrs: np.ndarray
    smoothed: np.ndarray
    raw: np.ndarray
    lo: int

    def mark(self, name: str, lr: float, rule: str) -> Suggestion:
        k = int(np.argmin(np.abs(np.log(self.lrs) - math.log(lr))))
        return Suggestion(name, float(lr), self.lo + k, float(self.smoothed[k]), rule)


Rule = Callable[[Curve], "Suggestion | None"]
MIN_POINTS = 5  # fewer kept points than this: the trimming is dropped (see window)


def window(smoothed: Sequence[float], skip_start: int, skip_end: int) -> tuple[int, int] | None:
    """``(lo, hi)``: the points the rules look at, or None if fewer than 3 finite points exist.

    The finite prefix of the smoothed curve, less ``skip_start`` points at the start and ``skip_end`` at the end;
    if that leaves fewer than :data:`MIN_POINTS`, the whole finite prefix (a sweep that stopped early).
    """
    n = 0
    for v in smoothed:
        if not math.isfinite(v):
            break
        n += 1
    if n < 3:
        return None
    lo, hi = skip_start, n - skip_end
    if hi - lo < MIN_POINTS:
        lo, hi = 0, n
    return lo, hi


def steepest(c: Curve) -> Suggestion | None:
    slopes = np.diff(c.smoothed) / np.diff(np.log(c.lrs))
    k = int(np.argmin(slopes))
    if not slopes[k] < 0:
        return None
    per_decade = slopes[k] * math.log(10.0)
    return c.mark(
        "steepest",
        float(c.lrs[k]),
        f"steepest descent: the loss falls fastest, {-per_decade:.3g} per decade, from lr {c.lrs[k]:.3g}",
    )


def _longest_decrease(s: np.ndarray) -> tuple[int, int]:
    """(first, last) of the longest strictly decreasing subsequence, its first point counted back by its length."""
    n = len(s)
    length = [1] * n
    last = 0
    for i in range(1, n):
        for j in range(i):
            if s[i] < s[j] and length[j] + 1 > length[i]:
                length[i] = length[j] + 1
        if length[i] > length[last]:
            last = i
    return last - length[last], last


def valley(c: Curve) -> Suggestion | None:
    first, last = _longest_decrease(c.smoothed)
    span = last - first
    if span < 1:
        return None
    k = max(0, first + int(span / 3) + int(span / 6))
    return c.mark(
        "valley",
        float(c.lrs[k]),
        f"valley: the longest decreasing stretch runs from lr {c.lrs[max(first, 0)]:.3g} to {c.lrs[last]:.3g}; "
        "about halfway down it",
    )


def minimum_tenth(c: Curve) -> Suggestion | None:
    k = int(np.argmin(c.smoothed))
    return c.mark(
        "minimum/10",
        float(c.lrs[k]) / 10.0,
        f"minimum/10: the loss is lowest at lr {c.lrs[k]:.3g}; a tenth of that",
    )


def edge(c: Curve) -> Suggestion | None:
    k = int(np.argmin(c.smoothed))
    return c.mark(
        "edge",
        float(c.lrs[k]),
        f"edge: the loss stops falling at lr {c.lrs[k]:.3g} and rises beyond it (an upper bound)",
    )


RULES: dict[str, Rule] = {
    "steepest": steepest,
    "valley": valley,
    "minimum/10": minimum_tenth,
    "edge": edge,
}
DEFAULT_RULE = "valley"


def suggest_all(
    lrs: Sequence[float], smoothed: Sequence[float], raw: Sequence[float], skip_start: int, skip_end: int
) -> dict[str, Suggestion]:
    """Every rule's suggestion for one curve (rules that find nothing are left out)."""
    w = window(smoothed, skip_start, skip_end)
    if w is None:
        return {}
    lo, hi = w
    c = Curve(
        np.asarray(lrs[lo:hi], dtype=np.float64),
        np.asarray(smoothed[lo:hi], dtype=np.float64),
        np.asarray(raw[lo:hi], dtype=np.float64),
        lo,
    )
    out = {}
    for name, rule in RULES.items():
        s = rule(c)
        if s is not None:
            out[name] = s
    return out
