"""What every detector needs: the trace, the thresholds, and a robust summary of the training-loss curve."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ravine.diagnose import stats
from ravine.diagnose import trace as T
from ravine.diagnose.findings import Finding, Skipped
from ravine.diagnose.thresholds import Thresholds

ADAPTIVE = ("adam", "adamw", "nadam", "radam", "adamax", "rmsprop", "adagrad", "adadelta", "lion", "sparseadam")


@dataclass(frozen=True)
class Curve:
    """The training-loss curve and its robust summary.

    Attributes:
        name: the series it comes from (``loss``, or ``train_loss`` when a log has no per-step loss).
        steps, values: every recorded step and loss, non-finite values included.
        fsteps, fvalues: the finite ones.
        width: the analysis window, in points.
        first: the first finite loss (the loss before any update, for a live run).
        start: the level at the start (median of the first ``min(width, 5)`` finite losses).
        end: the level at the end (median of the last window).
        best: the lowest window level (or ``first``, if lower), and ``best_step`` where it ends.
        sigma: per-step batch noise (robust, see :func:`ravine.diagnose.stats.noise_sigma`).
    """

    name: str
    steps: np.ndarray
    values: np.ndarray
    fsteps: np.ndarray
    fvalues: np.ndarray
    width: int
    first: float
    start: float
    end: float
    best: float
    best_step: int
    sigma: float

    @property
    def n(self) -> int:
        return int(self.fvalues.size)

    def level_se(self, points: int) -> float:
        """Standard error of the median of ``points`` i.i.d. losses with this curve's noise."""
        return stats.MEDIAN_SE * self.sigma / math.sqrt(max(points, 1))

    def levels(self, width: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Window medians of the finite losses (``width`` points each, default the analysis window)."""
        return stats.window_levels(self.fsteps, self.fvalues, width or self.width)

    def segment(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """The finite losses with ``lo <= step <= hi``."""
        keep = (self.fsteps >= lo) & (self.fsteps <= hi)
        return self.fsteps[keep], self.fvalues[keep]


def make_curve(trace: T.Trace, th: Thresholds) -> Curve | None:
    """The curve of ``loss`` (or ``train_loss``), or None when there are fewer than ``th.min_steps`` finite points
    and no non-finite one (a run that blew up early still gets a curve)."""
    name = T.LOSS if trace.has(T.LOSS) else ("train_loss" if trace.has("train_loss") else None)
    if name is None:
        return None
    steps, values = trace.get(name)
    finite = np.isfinite(values)
    fs, fv = steps[finite], values[finite]
    if fv.size < th.min_steps and finite.all():
        return None
    if fv.size == 0:
        return Curve(name, steps, values, fs, fv, 1, math.nan, math.nan, math.nan, math.nan, math.nan, -1, math.nan)
    width = max(th.min_window, int(th.window_fraction * fv.size))
    width = min(width, fv.size)
    lv_steps, lv = stats.window_levels(fs, fv, width)
    first = float(fv[0])
    start = float(np.median(fv[: min(width, 5)]))
    end = float(np.median(fv[-width:]))
    i = int(np.argmin(lv)) if lv.size else 0
    best, best_step = (float(lv[i]), int(lv_steps[i])) if lv.size else (end, int(fs[-1]))
    if first < best:
        best, best_step = first, int(fs[0])
    return Curve(name, steps, values, fs, fv, width, first, start, end, best, best_step, stats.noise_sigma(fv))


@dataclass
class Context:
    """Shared state of one diagnosis: inputs, the curve, facts detectors pass on, and the skipped checks."""

    trace: T.Trace
    th: Thresholds
    final: bool
    curve: Curve | None
    skipped: list[Skipped] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    wants_probe: bool = False

    @property
    def meta(self) -> dict[str, Any]:
        return self.trace.meta

    @property
    def last_step(self) -> int:
        return max(self.trace.last_step, 0)

    def series(self, name: str, before: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """A series' finite points, optionally only those before step ``before``."""
        s, v = self.trace.get(name)
        keep = np.isfinite(v)
        if before is not None:
            keep &= s < before
        return s[keep], v[keep]

    def skip(self, check: str, reason: str) -> None:
        if not any(s.check == check for s in self.skipped):
            self.skipped.append(Skipped(check, reason))

    def onset(self) -> int | None:
        """The step where the run started to diverge (None if it did not)."""
        return self.facts.get("divergence_onset")

    def lr_at(self, step: int) -> float | None:
        s, v = self.series(T.LR)
        if not s.size:
            return None
        x = stats.value_at(s, v, step)
        return None if math.isnan(x) else x

    def adaptive(self) -> bool | None:
        """Whether the optimiser scales each coordinate by its own gradient history (Adam, RMSprop, Adagrad,
        Adadelta, ...); None when the trace does not say which optimiser ran."""
        settings = self.meta.get("settings") or {}
        name = str(self.meta.get("optimizer", "")).lower()
        if not name and not settings:
            return None
        markers = ("betas", "alpha", "rho", "lr_decay", "initial_accumulator_value")
        return name in ADAPTIVE or any(k in settings for k in markers)

    def finding(self, kind: str, severity: str, first: int, last: int, message: str, **evidence: Any) -> Finding:
        """A finding with rounded evidence (advice is attached later)."""
        return Finding(
            kind,
            severity,
            int(first),
            int(max(last, first)),
            message,
            {k: _round(v) for k, v in evidence.items() if v is not None},
        )


def _round(v: Any) -> Any:
    if isinstance(v, float) and math.isfinite(v):
        return float(f"{v:.4g}")
    if isinstance(v, dict):
        return {k: _round(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_round(x) for x in v]
    return v
