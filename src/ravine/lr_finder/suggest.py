"""Suggestion rules: from a range test's curve to a learning rate, each rule a small function with its reason.

The rules read the *trend* of the raw losses, not the debiased moving average: that average (beta 0.98, fastai's
default) weighs about the last 50 steps, which in a 100-step sweep over 8 decades is 4 decades of learning rate,
so its minimum and its steepest point trail the loss they summarise by a decade or more. The trend is centred
instead -- a running median over ``2h + 1`` points (spikes out), then a running mean over the same window,
``h = max(2, steps // 40)`` -- so it has no lag. Each rule sees the trend after the first ``skip_start`` points and
before the last ``skip_end`` (fastai's trimming: the first points barely move, the last are the blow-up).

* ``steepest`` (fastai ``steep``): where the loss falls fastest per decade, the left end of the steepest forward
  difference ``(t_{k+1} - t_k) / (ln lr_{k+1} - ln lr_k)``.
* ``valley`` (fastai ``valley``): the longest strictly decreasing run of points (a longest decreasing
  subsequence, spanning its length back from its last point); the rate ``floor(n/3) + floor(n/6)`` of its ``n``
  intervals in, about halfway down.
* ``minimum/10`` (fastai ``minimum``; fastai v1's advice): a tenth of the rate at the lowest loss.
* ``edge``: the largest rate before the loss rises: the last point at which the trend is still within
  :data:`RISE` of its whole descent of its lowest value (so a bump on a flat bottom does not end it) -- an upper
  bound, not a rate to train at.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

RISE = 0.05  # "the loss rises": the trend is this fraction of its total descent above its lowest point

# What an optimiser keeps (torch's state names, which ravine's optimisers share) says how its step scales with the
# gradient: divided by a running RMS of it (Adam, AdamW, NAdam, AMSGrad, Adamax, RMSprop, Adadelta), by the root
# of its accumulated square (Adagrad), or not at all (SGD, momentum, Nesterov; unknown optimisers).
FAMILIES = {
    "rms": ("exp_avg_sq", "square_avg", "max_exp_avg_sq", "exp_inf"),
    "adagrad": ("sum",),
}


def family(state_keys: set[str] | frozenset[str]) -> str:
    """``rms``, ``adagrad`` or ``sgd``, from the state keys an optimiser holds after one step."""
    for name, keys in FAMILIES.items():
        if any(k in state_keys for k in keys):
            return name
    return "sgd"


@dataclass(frozen=True)
class Suggestion:
    """A suggested learning rate.

    Attributes:
        name: the rule's name (``valley``).
        lr: the suggested rate.
        index: the sweep step whose rate is closest (on a log scale) to ``lr``, where the plot marks it.
        loss: the trend of the loss at ``index``.
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
    """The kept part of a sweep: ``lrs[lo:hi]`` and the trend ``trend[lo:hi]`` as arrays, and the whole trend."""

    lrs: np.ndarray
    trend: np.ndarray
    lo: int
    full_lrs: np.ndarray
    full_trend: np.ndarray
    family: str = "sgd"
    budget: int | None = None
    batch: int | None = None

    def mark(self, name: str, lr: float, rule: str) -> Suggestion:
        k = int(np.argmin(np.abs(np.log(self.full_lrs) - math.log(lr))))
        return Suggestion(name, float(lr), k, float(self.full_trend[k]), rule)


Rule = Callable[[Curve], "Suggestion | None"]
MIN_POINTS = 5  # fewer kept points than this: the trimming is dropped (see window)


def half_width(steps: int) -> int:
    """``h`` of the trend's window for a sweep of ``steps`` steps."""
    return max(2, steps // 40)


def trend(losses: Sequence[float], h: int) -> list[float]:
    """The centred trend of ``losses`` (see the module docstring): running median, then running mean, of ``2h+1``
    points, the windows shortened at the ends; a non-finite loss ends it (NaN from there on)."""
    x = np.asarray(losses, dtype=np.float64)
    n = len(x)
    finite = 0
    while finite < n and math.isfinite(x[finite]):
        finite += 1
    out = np.full(n, math.nan)
    if finite:
        med = np.array([np.median(x[max(0, i - h) : min(finite, i + h + 1)]) for i in range(finite)])
        out[:finite] = [med[max(0, i - h) : min(finite, i + h + 1)].mean() for i in range(finite)]
    return out.tolist()


def window(values: Sequence[float], skip_start: int, skip_end: int) -> tuple[int, int] | None:
    """``(lo, hi)``: the points the rules look at, or None if fewer than 3 finite points exist.

    The finite prefix of ``values``, less ``skip_start`` points at the start and ``skip_end`` at the end; if that
    leaves fewer than :data:`MIN_POINTS`, the whole finite prefix (a sweep that stopped early).
    """
    n = 0
    for v in values:
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
    slopes = np.diff(c.trend) / np.diff(np.log(c.lrs))
    k = int(np.argmin(slopes))
    if not slopes[k] < 0:
        return None
    per_decade = -slopes[k] * math.log(10.0)
    return c.mark(
        "steepest", float(c.lrs[k]), f"the loss falls fastest ({per_decade:.3g} per decade) from lr {c.lrs[k]:.3g}"
    )


def _longest_decrease(t: np.ndarray) -> tuple[int, int]:
    """(first, last) of the longest strictly decreasing subsequence, its first point counted back by its length."""
    length = [1] * len(t)
    last = 0
    for i in range(1, len(t)):
        for j in range(i):
            if t[i] < t[j] and length[j] + 1 > length[i]:
                length[i] = length[j] + 1
        if length[i] > length[last]:
            last = i
    return max(0, last - length[last]), last


def valley(c: Curve) -> Suggestion | None:
    first, last = _longest_decrease(c.trend)
    span = last - first
    if span < 1:
        return None
    k = first + int(span / 3) + int(span / 6)
    return c.mark(
        "valley",
        float(c.lrs[k]),
        f"the longest descent runs from lr {c.lrs[first]:.3g} to {c.lrs[last]:.3g}; about halfway down it",
    )


def minimum_tenth(c: Curve) -> Suggestion | None:
    k = int(np.argmin(c.trend))
    return c.mark("minimum/10", float(c.lrs[k]) / 10.0, f"the loss is lowest at lr {c.lrs[k]:.3g}; a tenth of that")


def edge_index(c: Curve) -> int:
    """Index (into the kept part) of the largest rate before the loss rises (see the module docstring)."""
    t = c.trend
    m = int(np.argmin(t))
    bar = t[m] + RISE * max(t[0] - t[m], 0.0)
    return int(np.nonzero(t <= bar)[0].max())


def half_descent_index(c: Curve) -> int:
    """Index (into the kept part) of the first point at which the trend has made half of its whole descent, from
    its first kept point to its lowest."""
    t = c.trend
    m = int(np.argmin(t))
    return int(np.nonzero(t <= t[m] + 0.5 * max(t[0] - t[m], 0.0))[0].min())


def calibrated(c: Curve) -> Suggestion | None:
    """The half-descent rate scaled for the optimiser's family, the training budget and the batch size, capped
    below the edge (see :data:`CALIBRATION`)."""
    t = c.trend
    if not t[0] - t.min() > 0:
        return None  # no descent: nothing to anchor on
    k, e = half_descent_index(c), edge_index(c)
    fam = c.family if c.family in CALIBRATION["factor"] else "sgd"
    steps = REFERENCE_STEPS if c.budget is None else c.budget
    scale = (REFERENCE_STEPS / steps) ** CALIBRATION["exponent"][fam]
    batch = REFERENCE_BATCH if c.batch is None else c.batch
    noise = (batch / REFERENCE_BATCH) ** CALIBRATION["batch_exponent"][fam]
    factor = CALIBRATION["factor"][fam]
    lr = c.lrs[k] * factor * scale * noise
    cap = c.lrs[e] / CALIBRATION["cap"]
    capped = lr > cap
    budget = f"{steps} steps" + ("" if c.budget is not None else " (the reference; pass budget= for yours)")
    why = f"half the descent is made by lr {c.lrs[k]:.3g}; x {factor:.3g} for the {fam} family"
    why += f", x {scale:.3g} for {budget}"
    if noise != 1.0:
        why += f", x {noise:.3g} for batches of {batch}"
    if capped:
        why += f"; capped at the edge {c.lrs[e]:.3g} / {CALIBRATION['cap']:g}"
    return c.mark("calibrated", float(f"{min(lr, cap):.3g}"), why)


def edge(c: Curve) -> Suggestion | None:
    k = edge_index(c)
    rises = k + 1 < len(c.trend)
    return c.mark(
        "edge",
        float(c.lrs[k]),
        f"the loss rises beyond lr {c.lrs[k]:.3g} (an upper bound)"
        if rises
        else f"the loss had not risen by lr {c.lrs[k]:.3g}, the last kept point: widen the sweep",
    )


# The calibrated rule: lr = half_descent * factor[family] * (REFERENCE_STEPS / budget) ** exponent[family], at
# most edge / cap. The exponents are theory's, not fitted: a constant step that is best for T steps of SGD or Adam
# scales as 1/sqrt(T) (e.g. Nesterov 2004, section 3.2.3; Kingma & Ba 2015, section 4), while Adagrad's step
# already decays as 1/sqrt(t), so its best base rate does not move with T (Duchi, Hazan & Singer 2011). The
# factors and the cap were fitted on the development cases of benchmarks/lr_finder.py (--select prints them),
# never on the held-out ones that the README quotes (docs/lr_finder.md tells the two rounds of that choice).
# The batch: every development case trained with batches of 128 (REFERENCE_BATCH), so the factors hold there. At
# a fixed number of epochs the budget term alone makes the rate grow as sqrt(B); SGD's noise wants it to grow as
# B (the linear scaling rule: Goyal et al. 2017; Smith & Le 2018, SGD's noise scale lr * N / B), and Adam's only as
# sqrt(B) (the square-root rule of Malladi et al. 2022), so SGD gets (B / 128) ** 0.5 more and the RMS family
# nothing. Adagrad's exponent is left at 0: nothing here was measured for it. benchmarks/lr_finder_batch.py
# measured the grid's slope d log(lr) / d log(B) on development tasks (docs/lr_finder.md) before this was set.
REFERENCE_STEPS = 1000
REFERENCE_BATCH = 128
CALIBRATION: dict[str, Any] = {
    "exponent": {"sgd": 0.5, "rms": 0.5, "adagrad": 0.0},
    "batch_exponent": {"sgd": 0.5, "rms": 0.0, "adagrad": 0.0},
    "factor": {"sgd": 6.73, "rms": 0.739, "adagrad": 1.27},
    "cap": 3.0,
}

RULES: dict[str, Rule] = {
    "calibrated": calibrated,
    "steepest": steepest,
    "valley": valley,
    "minimum/10": minimum_tenth,
    "edge": edge,
}
DEFAULT_RULE = "calibrated"


def suggest_all(
    lrs: Sequence[float],
    trend_: Sequence[float],
    skip_start: int,
    skip_end: int,
    family_: str = "sgd",
    budget: int | None = None,
    batch: int | None = None,
) -> dict[str, Suggestion]:
    """Every rule's suggestion for one curve of an optimiser of ``family_`` (rules that find nothing are left out)."""
    w = window(trend_, skip_start, skip_end)
    if w is None:
        return {}
    lo, hi = w
    full_lrs = np.asarray(lrs, dtype=np.float64)
    full = np.asarray(trend_, dtype=np.float64)
    c = Curve(full_lrs[lo:hi], full[lo:hi], lo, full_lrs[: len(full)], full, family_, budget, batch)
    out = {}
    for name, rule in RULES.items():
        s = rule(c)
        if s is not None:
            out[name] = s
    return out
