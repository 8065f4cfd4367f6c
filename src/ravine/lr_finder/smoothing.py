"""Smoothing the range test's loss: the debiased exponential moving average, and torch-lr-finder's variant.

With ``beta`` in [0, 1) and the raw losses ``l_0, l_1, ...``:

* debiased (fastai's ``AvgSmoothLoss``; Adam's bias correction, Kingma & Ba 2015, section 3):
  ``m_i = beta * m_{i-1} + (1 - beta) * l_i`` from ``m_{-1} = 0``, and ``s_i = m_i / (1 - beta ** (i + 1))``,
  so that ``s_i`` is a weighted mean of ``l_0 .. l_i`` whose weights sum to one from the first step on;
* first-value (torch-lr-finder's ``smooth_f = 1 - beta``): ``s_0 = l_0``, ``s_i = (1 - beta) * l_i + beta * s_{i-1}``,
  which gives the first loss the weight ``beta ** i`` -- for ``beta = 0.98``, still 0.36 after 50 steps.

Both keep a constant curve constant; they differ while the first losses still weigh in.
"""

from __future__ import annotations

import math
from collections.abc import Iterable


class DebiasedEMA:
    """The running debiased average: ``update(l)`` returns ``s_i`` (see the module docstring)."""

    def __init__(self, beta: float) -> None:
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"beta must be in [0, 1), got {beta!r}")
        self.beta = beta
        self.m = 0.0
        self.count = 0

    def update(self, loss: float) -> float:
        self.count += 1
        self.m = self.beta * self.m + (1.0 - self.beta) * loss
        return self.m / (1.0 - self.beta**self.count)


def debiased(losses: Iterable[float], beta: float) -> list[float]:
    """The debiased exponential moving average of ``losses`` (``beta = 0``: the losses themselves)."""
    ema = DebiasedEMA(beta)
    return [ema.update(float(x)) for x in losses]


def first_value(losses: Iterable[float], beta: float) -> list[float]:
    """torch-lr-finder's smoothing: an exponential moving average that starts at the first loss."""
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"beta must be in [0, 1), got {beta!r}")
    out: list[float] = []
    for x in losses:
        x = float(x)
        out.append(x if not out else (1.0 - beta) * x + beta * out[-1])
    return out


def finite_prefix(values: Iterable[float]) -> int:
    """How many leading values are finite."""
    n = 0
    for v in values:
        if not math.isfinite(v):
            break
        n += 1
    return n
