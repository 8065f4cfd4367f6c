"""Schedules drawn over their steps, to PNG (matplotlib, from the ``lab`` extra, imported when drawing).

The values come from :func:`ravine.schedules.values`; this module only draws them.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ravine.report import style
from ravine.schedules import Schedule, values
from ravine.schedules.base import integer

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Schedules = Schedule | Sequence[Schedule] | Mapping[str, Schedule]

MAX_POINTS = 4000  # beyond this many steps, draw an even subsample (always including the last step)


def schedule_steps(schedules: Mapping[str, Schedule], steps: int | None) -> list[int]:
    """The steps to draw: ``range(steps)``, by default up to the latest horizon (the step after which no schedule
    changes) and a tenth more, so that the final value shows; subsampled to at most ``MAX_POINTS``."""
    if steps is None:
        unbounded = [n for n, s in schedules.items() if s.horizon is None]
        if unbounded:
            raise ValueError(f"steps: {', '.join(unbounded)} never settles; pass the number of steps to draw")
        last = max(s.horizon for s in schedules.values())
        steps = last + 1 + max(1, last // 10)
    n = integer("steps", steps, 1)
    if n <= MAX_POINTS:
        return list(range(n))
    return sorted({round(i * (n - 1) / (MAX_POINTS - 1)) for i in range(MAX_POINTS)})


def schedule_figure(
    schedules: Schedules,
    steps: int | None = None,
    *,
    title: str = "Learning-rate schedule",
    ylabel: str = "learning rate",
    log_y: bool | None = None,
) -> Figure:
    """A figure of one or more schedules against the step.

    Args:
        schedules: a schedule, a list of them (labelled by their repr, shortened), or ``{label: schedule}``.
        steps: how many steps to draw (default: until every schedule has settled, plus a tenth).
        title: the figure title.
        ylabel: the label of the value axis (``"momentum"`` for ``one_cycle(...).momentum``).
        log_y: log scale for the values; ``None`` chooses it when they are positive and span over two decades.

    Returns:
        a ``matplotlib.figure.Figure`` on the Agg canvas (no pyplot state).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    named = _named(schedules)
    xs = schedule_steps(named, steps)
    curves = {name: values(s, xs) for name, s in named.items()}
    fig = Figure(figsize=(7.0, 3.8), dpi=style.DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for i, (name, ys) in enumerate(curves.items()):
        ax.plot(xs, ys, label=textwrap.fill(name, 44), color=style.color(name, i), linewidth=1.6)
    everything = [v for ys in curves.values() for v in ys]
    if log_y is None:
        low, high = min(everything), max(everything)
        log_y = low > 0 and high / low > 100
    if log_y:
        ax.set_yscale("log")
    elif min(everything) <= 0.5 * max(everything):
        ax.set_ylim(bottom=min(0.0, min(everything)))  # from 0, so that heights compare; not for a momentum

    ax.set_xlim(xs[0], xs[-1])
    ax.set_xlabel("step (optimiser steps taken)")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=style.FONT_SIZE + 2)
    ax.grid(True, which="major", alpha=0.3)
    ax.tick_params(labelsize=style.FONT_SIZE)
    if len(curves) > 1:
        # outside the axes, so that it never covers a curve
        fig.legend(loc="outside right upper", fontsize=style.FONT_SIZE - 1, frameon=False)
    return fig


def save_schedule_plot(path: str | Path, schedules: Schedules, steps: int | None = None, **kwargs: object) -> Path:
    """Draw :func:`schedule_figure` to a PNG file; returns its path.

    Example:
        >>> from ravine.schedules import cosine, one_cycle, warmup
        >>> from ravine.report.schedule_plot import save_schedule_plot
        >>> save_schedule_plot("lr.png", {"warm-up + cosine": warmup(cosine(0.1, 900), 100),
        ...                               "one-cycle": one_cycle(0.1, 1000)})  # doctest: +SKIP
    """
    path = Path(path)
    schedule_figure(schedules, steps, **kwargs).savefig(path, format="png")  # type: ignore[arg-type]
    return path


def _named(schedules: Schedules) -> dict[str, Schedule]:
    if isinstance(schedules, Schedule):
        named = {_label(schedules): schedules}
    elif isinstance(schedules, Mapping):
        named = {str(k): v for k, v in schedules.items()}
    elif isinstance(schedules, Sequence) and not isinstance(schedules, str):
        named = {_label(s): s for s in schedules}
    else:
        raise ValueError(f"schedules must be a schedule, a list or a dict of them, got {type(schedules).__name__}")
    if not named:
        raise ValueError("schedules must not be empty")
    for name, s in named.items():
        if not isinstance(s, Schedule):
            raise ValueError(f"schedules[{name!r}] must be a ravine schedule, got {type(s).__name__}")
    return named


def _label(s: Schedule) -> str:
    return textwrap.shorten(repr(s), 88, placeholder="...)")
